// Tests for the policy request parser: every split of a real Postfix request, each error kind,
// limits, and the reply format.
#include "policy/protocol/request.h"

#include <gtest/gtest.h>

namespace mailward::policy {
namespace {

const std::string kPostfixRequest =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "client_address=192.0.2.7\n"
    "client_name=mail.example.net\n"
    "reverse_client_name=mail.example.net\n"
    "helo_name=mail.example.net\n"
    "sender=alice@example.org\n"
    "recipient=bob@example.com\n"
    "recipient_count=0\n"
    "queue_id=\n"
    "instance=123.456.7\n"
    "size=12345\n"
    "etrn_domain=\n"
    "stress=\n"
    "sasl_method=PLAIN\n"
    "sasl_username=alice\n"
    "sasl_sender=\n"
    "ccert_subject=\n"
    "encryption_protocol=TLSv1.3\n"
    "policy_context=\n"
    "server_address=198.51.100.1\n"
    "server_port=25\n"
    "\n";

TEST(PolicyRequest, ParsesPostfixRequestAtEverySplit) {
  for (std::size_t cut = 0; cut <= kPostfixRequest.size(); ++cut) {
    RequestParser p;
    std::vector<Request> out;
    ASSERT_EQ(p.feed(std::string_view(kPostfixRequest).substr(0, cut), out), ParseError::none);
    ASSERT_EQ(p.feed(std::string_view(kPostfixRequest).substr(cut), out), ParseError::none);
    ASSERT_EQ(out.size(), 1u) << cut;
    const Request& r = out[0];
    EXPECT_EQ(r.request, "smtpd_access_policy");
    EXPECT_EQ(r.protocol_state, "RCPT");
    EXPECT_EQ(r.client_address, "192.0.2.7");
    EXPECT_EQ(r.sender, "alice@example.org");
    EXPECT_EQ(r.recipient, "bob@example.com");
    EXPECT_EQ(r.instance, "123.456.7");
    EXPECT_EQ(r.sasl_username, "alice");
    EXPECT_EQ(r.sasl_method, "PLAIN");
    EXPECT_EQ(r.size, "12345");
    EXPECT_EQ(r.queue_id, "");
    EXPECT_EQ(r.attribute_count, 23u);
    EXPECT_FALSE(p.in_request());
  }
}

TEST(PolicyRequest, SeveralRequestsOnOneConnection) {
  RequestParser p;
  std::vector<Request> out;
  ASSERT_EQ(p.feed("request=smtpd_access_policy\nsender=a@x\n\nrequest=smtpd_access_policy\n"
                   "sender=b@x\n\nrequest=smtpd_",
                   out),
            ParseError::none);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].sender, "a@x");
  EXPECT_EQ(out[1].sender, "b@x");
  EXPECT_TRUE(p.in_request());
  ASSERT_EQ(p.feed("access_policy\n\n", out), ParseError::none);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].request, "smtpd_access_policy");
  EXPECT_EQ(out[2].sender, "");  // fields do not leak from one request to the next
}

TEST(PolicyRequest, CrlfAcceptedAndValuesKeepEquals) {
  RequestParser p;
  std::vector<Request> out;
  ASSERT_EQ(p.feed("request=smtpd_access_policy\r\nccert_subject=CN=a=b\r\nsender=x=y@z\r\n\r\n", out),
            ParseError::none);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sender, "x=y@z");
  EXPECT_EQ(out[0].request, "smtpd_access_policy");
}

struct ErrorCase {
  const char* name;
  std::string input;
  ParseError expected;
};

TEST(PolicyRequest, Errors) {
  Limits small;
  small.max_line = 32;
  small.max_attributes = 3;
  small.max_request = 64;
  const std::vector<ErrorCase> cases = {
      {"no equals", "request=smtpd_access_policy\nbogus\n\n", ParseError::missing_equals},
      {"empty name", "=value\n", ParseError::bad_attribute_name},
      {"space in name", "a b=c\n", ParseError::bad_attribute_name},
      {"8bit name", "na\xc3\xa9=c\n", ParseError::bad_attribute_name},
      {"NUL in value", std::string("a=b\0c\n", 6), ParseError::bad_value_byte},
      {"bare CR in value", "a=b\rc\n", ParseError::bad_value_byte},
      {"duplicate", "sender=a\nsender=b\n", ParseError::duplicate_attribute},
      {"unknown duplicate", "xyz=a\nxyz=b\n", ParseError::duplicate_attribute},
      {"long line", "a=" + std::string(31, 'x') + "\n", ParseError::line_too_long},
      {"long line without LF", "a=" + std::string(40, 'x'), ParseError::line_too_long},
      {"too many attributes", "a=1\nb=2\nc=3\nd=4\n", ParseError::too_many_attributes},
      {"request too large",
       "a=" + std::string(20, 'x') + "\nb=" + std::string(20, 'x') + "\nc=" + std::string(20, 'x') +
           "\n",
       ParseError::request_too_large},
  };
  for (const ErrorCase& c : cases) {
    for (std::size_t cut = 0; cut <= c.input.size(); ++cut) {
      RequestParser p(small);
      std::vector<Request> out;
      ParseError e = p.feed(std::string_view(c.input).substr(0, cut), out);
      if (e == ParseError::none) e = p.feed(std::string_view(c.input).substr(cut), out);
      EXPECT_EQ(e, c.expected) << c.name << " cut " << cut;
      EXPECT_TRUE(p.failed()) << c.name;
      EXPECT_FALSE(p.detail().empty()) << c.name;
      EXPECT_TRUE(out.empty()) << c.name;
      // Nothing is accepted after an error.
      EXPECT_EQ(p.feed("request=smtpd_access_policy\n\n", out), c.expected);
      EXPECT_TRUE(out.empty());
    }
  }
}

TEST(PolicyRequest, LimitsAreInclusive) {
  Limits small;
  small.max_line = 8;
  small.max_attributes = 2;
  small.max_request = 64;
  RequestParser p(small);
  std::vector<Request> out;
  EXPECT_EQ(p.feed("a=345678\r\nb=345678\n\n", out), ParseError::none);
  EXPECT_EQ(out.size(), 1u);
}

TEST(PolicyRequest, ResponseFormat) {
  EXPECT_EQ(format_response("DUNNO"), "action=DUNNO\n\n");
  EXPECT_EQ(format_response("554 5.7.1 <a\nb>: x"), "action=554 5.7.1 <a b>: x\n\n");
  EXPECT_EQ(to_string(ParseError::duplicate_attribute), "repeated attribute");
}

}  // namespace
}  // namespace mailward::policy
