// The auth-policy endpoint end to end in process: shared key, routing, JSON fields, Dovecot's
// request shapes for allow and report; the connection splitting pipelined requests; the
// standalone listener over real TCP and unix sockets; [auth-policy] configuration.
#include "policy/auth/endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/config/config.h"
#include "policy/auth/server.h"

namespace mailward::auth_policy {
namespace {

std::string request(std::string_view command, std::string_view body,
                    std::string_view key = "s3cret", std::string_view extra = "") {
  std::string r = "POST /policy?command=" + std::string(command) + " HTTP/1.1\r\nHost: x\r\n";
  if (!key.empty()) r += "X-API-Key: " + std::string(key) + "\r\n";
  r += std::string(extra);
  r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
       "\r\n\r\n" + std::string(body);
  return r;
}

std::string body_of(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}
int status_of(const std::string& response) {
  return response.size() > 12 ? std::atoi(response.substr(9, 3).c_str()) : 0;
}

// Dovecot's default attributes, sorted by name as auth-policy.c builds its template.
std::string attempt_json(std::string_view login, std::string_view remote) {
  return "{\"device_id\":\"\",\"login\":\"" + std::string(login) +
         "\",\"protocol\":\"imap\",\"pwhash\":\"8a1b2c3d4e5f\",\"remote\":\"" +
         std::string(remote) + "\",\"session_id\":\"abc\"";
}

struct Env {
  std::unique_ptr<store::Store> store = store::open_memory_store();
  AuthPolicy policy{*store, Settings{}};
  EndpointSettings settings = [] {
    EndpointSettings s;
    s.path = "/policy";
    s.api_key = "s3cret";
    return s;
  }();
  AuthPolicyEndpoint endpoint{policy, settings};
};

TEST(AuthPolicyEndpoint, AllowAndReportAsDovecotSendsThem) {
  Env e;
  auto r = e.endpoint.handle(request("allow", attempt_json("alice", "192.0.2.7") + "}"));
  EXPECT_EQ(status_of(r), 200) << r;
  EXPECT_EQ(body_of(r), "{\"msg\":\"\",\"status\":0}");
  for (int i = 0; i < 3; ++i) {
    r = e.endpoint.handle(request(
        "report", attempt_json("alice", "192.0.2.7") + ",\"success\":false,\"policy_reject\":false}"));
    EXPECT_EQ(status_of(r), 200) << r;
  }
  r = e.endpoint.handle(request("allow", attempt_json("alice", "192.0.2.7") + "}"));
  EXPECT_EQ(body_of(r), "{\"msg\":\"\",\"status\":1}");
  for (int i = 0; i < 7; ++i) {
    e.endpoint.handle(request(
        "report", attempt_json("alice", "192.0.2.7") + ",\"success\":false,\"policy_reject\":false}"));
  }
  r = e.endpoint.handle(request("allow", attempt_json("alice", "192.0.2.7") + "}"));
  EXPECT_EQ(body_of(r),
            "{\"msg\":\"Too many failed logins from your address; try again later\",\"status\":-1}");
}

TEST(AuthPolicyEndpoint, Refusals) {
  Env e;
  const std::string ok_body = attempt_json("alice", "192.0.2.7") + "}";
  struct Case {
    std::string req;
    int http;
  } cases[] = {
      {request("allow", ok_body, ""), 401},
      {request("allow", ok_body, "wrong"), 401},
      {request("allow", ok_body, "s3cret-longer"), 401},
      {request("fly", ok_body), 400},
      {request("allow", "[1,2]"), 400},
      {request("allow", "{\"login\":"), 400},
      {request("allow", "{\"login\":5}"), 400},
      {request("allow", "{\"login\":\"" + std::string(600, 'a') + "\"}"), 400},
      {request("report", ok_body), 400},  // report without success / policy_reject
      {request("report", attempt_json("a", "1.2.3.4") + ",\"success\":\"no\",\"policy_reject\":false}"), 400},
      {"GET /policy?command=allow HTTP/1.1\r\nHost: x\r\nX-API-Key: s3cret\r\n\r\n", 405},
      {"POST /other?command=allow HTTP/1.1\r\nHost: x\r\nX-API-Key: s3cret\r\nContent-Length: 2\r\n\r\n{}", 404},
      {"POST /policy HTTP/1.1\r\nHost: x\r\nX-API-Key: s3cret\r\nContent-Length: 2\r\n\r\n{}", 400},
      {"POST /policy?command=allow HTTP/1.1\r\nHost: x\r\n", 400},  // incomplete
      {"garbage\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    auto r = e.endpoint.handle(c.req);
    EXPECT_EQ(status_of(r), c.http) << c.req.substr(0, 100) << "\n-> " << r;
    EXPECT_NE(body_of(r).find("\"status\":-1"), std::string::npos) << r;
  }
  // Minimal bodies are fine: missing attributes read as empty.
  EXPECT_EQ(status_of(e.endpoint.handle(request("allow", "{}"))), 200);
  // The "...&command=" form of a URL that already has a query.
  EXPECT_EQ(status_of(e.endpoint.handle(
                "POST /policy?site=1&command=allow HTTP/1.1\r\nHost: x\r\nX-API-Key: s3cret\r\n"
                "Content-Length: 2\r\n\r\n{}")),
            200);
}

TEST(AuthPolicyEndpoint, AuthorizationHeaderAsKey) {
  Env e;
  e.settings.api_header = "authorization";
  e.settings.api_key = "Basic ZG92ZWNvdDpzM2NyZXQ=";
  AuthPolicyEndpoint ep(e.policy, e.settings);
  auto r = ep.handle(request("allow", "{}", "", "Authorization: Basic ZG92ZWNvdDpzM2NyZXQ=\r\n"));
  EXPECT_EQ(status_of(r), 200) << r;
  r = ep.handle(request("allow", "{}", "s3cret"));
  EXPECT_EQ(status_of(r), 401) << r;
}

TEST(AuthPolicyEndpoint, ConnectionAnswersPipelinedRequestsInOrder) {
  Env e;
  AuthPolicyConnection c(e.endpoint);
  const std::string one = request("allow", "{}");
  std::string all = one + one + one;
  std::string out;
  // Byte by byte: nothing is answered before a request is complete.
  std::size_t answered = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_TRUE(c.on_data(std::string_view(all).substr(i, 1), out));
    std::size_t n = 0;
    for (auto p = out.find("HTTP/1.1 200"); p != std::string::npos; p = out.find("HTTP/1.1 200", p + 1)) ++n;
    EXPECT_GE(n, answered);
    answered = n;
  }
  EXPECT_EQ(answered, 3u);
  // A malformed request closes the connection after the error answer.
  std::string out2;
  EXPECT_FALSE(c.on_data("BAD\r\n\r\n", out2));
  EXPECT_EQ(status_of(out2), 400);
  // Connection: close is honoured.
  AuthPolicyConnection c3(e.endpoint);
  std::string out3;
  EXPECT_FALSE(c3.on_data(request("allow", "{}", "s3cret", "Connection: close\r\n"), out3));
  EXPECT_NE(out3.find("Connection: close"), std::string::npos);
}

std::string roundtrip(int fd, const std::string& req) {
  EXPECT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[4096];
  while (true) {
    auto p = got.find("\r\n\r\n");
    if (p != std::string::npos) {
      auto cl = got.find("Content-Length: ");
      if (cl != std::string::npos) {
        std::size_t len = std::strtoul(got.c_str() + cl + 16, nullptr, 10);
        if (got.size() >= p + 4 + len) return got;
      }
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got;
    got.append(buf, static_cast<std::size_t>(n));
  }
}

TEST(AuthPolicyServer, TcpPersistentConnection) {
  Env e;
  AuthPolicyServer server(e.endpoint);
  std::string error;
  ASSERT_TRUE(server.listen("127.0.0.1:0", error)) << error;
  ASSERT_GT(server.port(), 0);
  server.start();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(server.port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  for (int i = 0; i < 3; ++i) {
    roundtrip(fd, request("report", attempt_json("bob", "192.0.2.9") +
                                        ",\"success\":false,\"policy_reject\":false}"));
  }
  auto r = roundtrip(fd, request("allow", attempt_json("bob", "192.0.2.9") + "}"));
  EXPECT_EQ(body_of(r), "{\"msg\":\"\",\"status\":1}") << r;
  ::close(fd);
  server.stop();
}

TEST(AuthPolicyServer, UnixSocket) {
  Env e;
  AuthPolicyServer server(e.endpoint);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("mw-ap-" + std::to_string(::getpid()) + ".sock"))
          .string();
  std::string error;
  ASSERT_TRUE(server.listen(path, error)) << error;
  server.start();
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  auto r = roundtrip(fd, request("allow", "{}"));
  EXPECT_EQ(status_of(r), 200) << r;
  ::close(fd);
  server.stop();
}

TEST(AuthPolicyServer, BadListenAddresses) {
  Env e;
  AuthPolicyServer server(e.endpoint);
  std::string error;
  EXPECT_FALSE(server.listen("localhost:80", error));
  EXPECT_FALSE(server.listen("127.0.0.1", error));
  EXPECT_FALSE(server.listen("127.0.0.1:99999", error));
  EXPECT_FALSE(server.listen("[::1:80", error));
}

TEST(AuthPolicyConfig, ReadConfig) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string key = (dir / ("mw-ap-key-" + std::to_string(::getpid()))).string();
  std::ofstream(key) << "  k3y \n";
  auto c = config::Config::parse("[auth-policy]\nlisten = /run/x.sock\napi_key_file = " + key +
                                     "\napi_header = Authorization\npath = /dovecot\n",
                                 "t.conf");
  auto s = read_config(c, "auth-policy");
  EXPECT_EQ(s.listen, "/run/x.sock");
  EXPECT_EQ(s.endpoint.api_key, "k3y");
  EXPECT_EQ(s.endpoint.api_header, "authorization");
  EXPECT_EQ(s.endpoint.path, "/dovecot");
  struct Bad {
    std::string text;
    std::string expected;
  } bad[] = {
      {"[auth-policy]\nlisten = x\n", "api_key_file is required"},
      {"[auth-policy]\napi_key_file = /nonexistent/k\n", "t.conf:2: [auth-policy] api_key_file"},
      {"[auth-policy]\napi_key_file = " + key + "\npath = nope\n", "t.conf:3: [auth-policy] path"},
      {"[auth-policy]\napi_key_file = " + key + "\ndelay = 3\n", "t.conf:3"},
  };
  for (const auto& b : bad) {
    try {
      read_config(config::Config::parse(b.text, "t.conf"), "auth-policy");
      ADD_FAILURE() << b.text;
    } catch (const config::ConfigError& ex) {
      EXPECT_NE(std::string(ex.what()).find(b.expected), std::string::npos) << ex.what();
    }
  }
  std::filesystem::remove(key);
}

}  // namespace
}  // namespace mailward::auth_policy
