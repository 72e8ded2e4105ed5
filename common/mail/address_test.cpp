// Tests for the RFC 5322 §3.4 address-list parser and the RFC 5321 envelope-path domain.
#include "common/mail/address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailward::mail {
namespace {

struct Good {
  const char* value;
  std::vector<Mailbox> expected;
};

const Good kGood[] = {
    {"user@example.com", {{"", "user", "example.com"}}},
    {"User@Example.COM", {{"", "User", "example.com"}}},
    {"<user@example.com>", {{"", "user", "example.com"}}},
    {"Joe Q. Public <john.q.public@example.com>", {{"Joe Q. Public", "john.q.public", "example.com"}}},
    {"\"Joe Q. Public\" <john.q.public@example.com>", {{"Joe Q. Public", "john.q.public", "example.com"}}},
    {"\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", {{"Giant; \"Big\" Box", "sysservices", "example.net"}}},
    {"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
     {{"Mary Smith", "mary", "x.test"}, {"", "jdoe", "example.org"}, {"Who?", "one", "y.test"}}},
    {"<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
     {{"", "boss", "nil.test"}, {"Giant; \"Big\" Box", "sysservices", "example.net"}}},
    // groups: members flattened, empty groups contribute nothing
    {"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
     {{"Ed Jones", "c", "a.test"}, {"", "joe", "where.test"}, {"John", "jdoe", "one.test"}}},
    {"Undisclosed recipients:;, x@y.test", {{"", "x", "y.test"}}},
    {"team: a@b.test ;, c@d.test", {{"", "a", "b.test"}, {"", "c", "d.test"}}},
    // comments, nested comments, CFWS everywhere (RFC 5322 Appendix A.5)
    {"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", {{"Pete", "pete", "silly.test"}}},
    {"(Comment (nested (twice))) user@example.com (trailing)", {{"", "user", "example.com"}}},
    {"John Doe <jdoe@machine(comment).  example>", {{"John Doe", "jdoe", "machine.example"}}},
    {"Mary Smith\r\n <mary@example.net>", {{"Mary Smith", "mary", "example.net"}}},
    // quoted local parts keep their quotes
    {"\"john doe\"@example.com", {{"", "\"john doe\"", "example.com"}}},
    {"<\"a@b\"@example.com>", {{"", "\"a@b\"", "example.com"}}},
    {"\"\\\"quoted\\\"\"@example.com", {{"", "\"\\\"quoted\\\"\"", "example.com"}}},
    // domain literal
    {"user@[192.0.2.1]", {{"", "user", "[192.0.2.1]"}}},
    {"user@[IPv6:2001:DB8::1]", {{"", "user", "[ipv6:2001:db8::1]"}}},
    // obsolete forms (RFC 5322 §4.4): empty list elements, source route, obs-local-part, obs-domain
    {", ,a@b.test,,", {{"", "a", "b.test"}}},
    {"<@route1.test,@route2.test:user@example.com>", {{"", "user", "example.com"}}},
    {"john . doe @ example . com", {{"", "john.doe", "example.com"}}},
    {"\"a\".b@c.test", {{"", "\"a\".b", "c.test"}}},
    {"john..doe@example.com", {{"", "john..doe", "example.com"}}},
    // group without its final ';' at the end of the value (tolerated)
    {"undisclosed-recipients:", {}},
    // UTF-8 (RFC 6532)
    {"Jöran <jöran@bücher.example>", {{"Jöran", "jöran", "bücher.example"}}},
    // RFC 2047 encoded words are not decoded
    {"=?utf-8?q?J=C3=B6ran?= <j@x.test>", {{"=?utf-8?q?J=C3=B6ran?=", "j", "x.test"}}},
};

TEST(AddressList, ParsesValidLists) {
  for (const Good& g : kGood) {
    SCOPED_TRACE(g.value);
    const AddressList list = parse_address_list(g.value);
    if (g.expected.empty()) {
      EXPECT_EQ(list.error, "no mailbox");
      continue;
    }
    EXPECT_TRUE(list.ok()) << list.error;
    EXPECT_EQ(list.mailboxes, g.expected);
  }
}

struct Bad {
  const char* value;
  const char* error;
};

const Bad kBad[] = {
    {"", "no mailbox"},
    {"   ", "no mailbox"},
    {"Undisclosed recipients:;", "no mailbox"},
    {"user", "expected '@' at offset 4"},
    {"user@", "expected a domain at offset 5"},
    {"@example.com", "expected a local part at offset 0"},
    {"user@example.com.", "expected a domain label after '.' at offset 17"},
    {"user@example..com", "expected a domain label after '.' at offset 13"},
    {"Joe user@example.com", "expected '@' at offset 4"},
    {"<user@example.com", "expected '>' at offset 17"},
    {"<>", "empty address '<>' at offset 1"},
    {"Joe <>", "empty address '<>' at offset 5"},
    {"a@b.test c@d.test", "expected ',' at offset 9"},
    {"a@b.test; c@d.test", "expected ',' at offset 8"},
    {"\"unterminated@example.com", "unterminated quoted string at offset 0"},
    {"user@example.com (unterminated", "unterminated comment at offset 17"},
    {"user@[192.0.2.1", "unterminated domain literal at offset 5"},
    {"user@[1[2]", "'[' inside a domain literal at offset 7"},
    {"g1: g2: a@b.test;;", "group inside a group at offset 6"},
    {"g: a@b.test x", "expected ',' or ';' in group at offset 12"},
    {"user@exa)mple.com", "unexpected ')' at offset 8"},
    {"user@example.com\x01", "control character at offset 16"},
    {"<@route.test user@example.com>", "expected ':' after source route at offset 13"},
    {"a@b.test, <c@d.test> junk", "expected ',' at offset 21"},
};

TEST(AddressList, RejectsGarbage) {
  for (const Bad& b : kBad) {
    SCOPED_TRACE(b.value);
    EXPECT_EQ(parse_address_list(b.value).error, b.error);
  }
}

TEST(AddressList, KeepsMailboxesParsedBeforeAnError) {
  const AddressList list = parse_address_list("a@b.test, c@");
  EXPECT_FALSE(list.ok());
  ASSERT_EQ(list.mailboxes.size(), 1u);
  EXPECT_EQ(list.mailboxes[0].address(), "a@b.test");
}

TEST(AddressList, WorkIsBounded) {
  EXPECT_EQ(parse_address_list(std::string(kMaxAddressListBytes + 1, 'a')).error,
            "address list longer than 65536 bytes");
  std::string deep(kMaxCommentDepth + 1, '(');
  deep += std::string(kMaxCommentDepth + 1, ')');
  EXPECT_EQ(parse_address_list(deep + "a@b.test").error, "comments nested too deeply at offset 0");
  std::string nested(kMaxCommentDepth, '(');
  nested += std::string(kMaxCommentDepth, ')');
  EXPECT_TRUE(parse_address_list(nested + "a@b.test").ok());
  std::string many;
  for (std::size_t i = 0; i <= kMaxMailboxes; ++i) many += "a@b.test,";
  EXPECT_EQ(parse_address_list(many).error, "more than 1024 mailboxes");
}

TEST(EnvelopeDomain, ExtractsTheDomain) {
  const std::pair<const char*, const char*> cases[] = {
      {"<user@Example.COM>", "example.com"},
      {"user@example.com", "example.com"},
      {"  <user@example.com.>  ", "example.com"},
      {"<>", ""},
      {"", ""},
      {"<postmaster>", ""},
      {"<@relay.test,@other.test:user@example.com>", "example.com"},
      {"<\"odd@local\"@example.com>", "example.com"},
      {"<\"odd\\\"@x\"@example.com>", "example.com"},
      {"<user@[192.0.2.1]>", "[192.0.2.1]"},
      {"<@relay.test>", ""},
  };
  for (const auto& [path, domain] : cases) EXPECT_EQ(envelope_domain(path), domain) << path;
}

}  // namespace
}  // namespace mailward::mail
