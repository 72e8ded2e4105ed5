// The strict HTTP/1.1 request parser: what Dovecot sends parses; everything else is refused with
// the right status; incomplete input asks for more; pipelined requests are split exactly.
#include "policy/auth/http.h"

#include <gtest/gtest.h>

namespace mailward::auth_policy {
namespace {

// Shaped like Dovecot 2.3's http-client request (auth-policy.c: POST, Content-Type, the api
// header, a Content-Length body).
const std::string kDovecotLike =
    "POST /?command=allow HTTP/1.1\r\n"
    "Host: 127.0.0.11:8099\r\n"
    "Date: Sat, 28 Nov 2026 02:00:00 GMT\r\n"
    "User-Agent: dovecot/auth-policy-client\r\n"
    "Connection: Keep-Alive\r\n"
    "Content-Type: application/json\r\n"
    "X-API-Key:  s3cret \r\n"
    "Content-Length: 17\r\n"
    "\r\n"
    "{\"login\":\"alice\"}";

TEST(AuthPolicyHttp, ParsesDovecotRequest) {
  auto r = parse_http_request(kDovecotLike);
  ASSERT_EQ(r.state, HttpParseState::complete) << r.error;
  EXPECT_EQ(r.consumed, kDovecotLike.size());
  EXPECT_EQ(r.request.method, "POST");
  EXPECT_EQ(r.request.path, "/");
  EXPECT_EQ(r.request.query, "command=allow");
  EXPECT_EQ(r.request.body, "{\"login\":\"alice\"}");
  ASSERT_NE(r.request.field("x-api-key"), nullptr);
  EXPECT_EQ(*r.request.field("x-api-key"), "s3cret");
  EXPECT_TRUE(r.request.keep_alive);
  std::string cmd;
  EXPECT_TRUE(query_param(r.request.query, "command", cmd));
  EXPECT_EQ(cmd, "allow");
}

TEST(AuthPolicyHttp, IncompleteAtEveryPrefix) {
  for (std::size_t n = 0; n < kDovecotLike.size(); ++n) {
    auto r = parse_http_request(std::string_view(kDovecotLike).substr(0, n));
    EXPECT_EQ(r.state, HttpParseState::incomplete) << n;
  }
}

TEST(AuthPolicyHttp, PipelinedRequestsSplitExactly) {
  const std::string two = kDovecotLike + kDovecotLike;
  auto r = parse_http_request(two);
  ASSERT_EQ(r.state, HttpParseState::complete);
  EXPECT_EQ(r.consumed, kDovecotLike.size());
  auto r2 = parse_http_request(std::string_view(two).substr(r.consumed));
  ASSERT_EQ(r2.state, HttpParseState::complete);
  EXPECT_EQ(r2.request.body, r.request.body);
}

TEST(AuthPolicyHttp, Refusals) {
  const std::string host = "Host: h\r\n";
  struct Case {
    std::string input;
    int status;
  } cases[] = {
      {"POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + host + "Content-Length: 1x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400},  // no Host
      {"POST / HTTP/2.0\r\n" + host + "\r\n", 505},
      {"POST / FOO/1.1\r\n" + host + "\r\n", 400},
      {"POST  / HTTP/1.1\r\n" + host + "\r\n", 400},
      {"POST http://x/ HTTP/1.1\r\n" + host + "\r\n", 400},
      {"PO(ST / HTTP/1.1\r\n" + host + "\r\n", 400},
      {"POST / HTTP/1.1\r\n" + host + "X-A: 1\r\n folded\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + host + "X-A : 1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + host + "X-A: a\x01" "b\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + host + "NoColon\r\n\r\n", 400},
      {"POST / HTTP/1.1\n" + host + "\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + host + "X: " + std::string(9000, 'a') + "\r\n\r\n", 431},
      {"POST /" + std::string(3000, 'a') + " HTTP/1.1\r\n" + host + "\r\n", 414},
  };
  for (const auto& c : cases) {
    auto r = parse_http_request(c.input);
    EXPECT_EQ(r.state, HttpParseState::bad) << c.input.substr(0, 80);
    EXPECT_EQ(r.error_status, c.status) << c.input.substr(0, 80) << " -> " << r.error;
  }
  std::string many = "POST / HTTP/1.1\r\n" + host;
  for (int i = 0; i < 70; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  EXPECT_EQ(parse_http_request(many).error_status, 431);
  // No end of header in sight after the limit: refused without waiting for more.
  EXPECT_EQ(parse_http_request(std::string(9000, 'a')).error_status, 431);
  EXPECT_EQ(parse_http_request("POST / HTTP/1.1\nHost").error_status, 400);
}

TEST(AuthPolicyHttp, ConnectionPersistence) {
  auto p = [](const std::string& s) { return parse_http_request(s).request.keep_alive; };
  EXPECT_TRUE(p("POST / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_FALSE(p("POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(p("POST / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(p("POST / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

TEST(AuthPolicyHttp, QueryParam) {
  struct Case {
    const char* query;
    bool found;
    const char* value;
  } cases[] = {
      {"command=allow", true, "allow"},
      {"a=1&command=report", true, "report"},
      {"command=rep%6Frt", true, "report"},
      {"command=%zz", false, ""},
      {"command=%6", false, ""},
      {"commandx=allow", false, ""},
      {"", false, ""},
      {"command", true, ""},
  };
  for (const auto& c : cases) {
    std::string v;
    EXPECT_EQ(query_param(c.query, "command", v), c.found) << c.query;
    if (c.found) {
      EXPECT_EQ(v, c.value) << c.query;
    }
  }
}

TEST(AuthPolicyHttp, ResponseFormat) {
  EXPECT_EQ(http_response(200, "{}", true),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            "Connection: keep-alive\r\n\r\n{}");
}

}  // namespace
}  // namespace mailward::auth_policy
