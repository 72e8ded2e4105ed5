// Unit tests for SPF macro expansion: the examples of RFC 7208 §7.4 and the edge cases of §7.1-7.3.
#include <gtest/gtest.h>

#include "milters/auth/spf/macro.h"

namespace mailward::spf {
namespace {

MacroContext rfc_context(const char* ip) {
  MacroContext c;
  c.sender = "strong-bad@email.example.com";
  c.local_part = "strong-bad";
  c.sender_domain = "email.example.com";
  c.domain = "email.example.com";
  c.ip = *net::IpAddress::parse(ip);
  c.helo = "mx.example.org";
  c.receiver = "mx.receiver.example";
  c.now = 1234;
  return c;
}

TEST(SpfMacro, Rfc7208Section74Examples) {
  struct Row { const char* in; const char* out; };
  const Row v4[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
  };
  for (const Row& row : v4) {
    MacroResult r = expand(row.in, rfc_context("192.0.2.3"), MacroMode::domain_spec);
    EXPECT_TRUE(r.ok()) << row.in << ": " << r.detail;
    EXPECT_EQ(r.text, row.out) << row.in;
  }
  MacroResult v6 = expand("%{ir}.%{v}._spf.%{d2}", rfc_context("2001:db8::cb01"), MacroMode::domain_spec);
  EXPECT_EQ(v6.text,
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST(SpfMacro, EscapesAndExplanationLetters) {
  MacroContext c = rfc_context("192.0.2.3");
  c.local_part = "~jack&jill=up-a_b3.c";
  EXPECT_EQ(expand("%{L}", c, MacroMode::domain_spec).text, "~jack%26jill%3Dup-a_b3.c");
  EXPECT_EQ(expand("a%%b%_c%-d", c, MacroMode::explanation).text, "a%b c%20d");
  EXPECT_EQ(expand("%{c} %{r} %{t}", c, MacroMode::explanation).text, "192.0.2.3 mx.receiver.example 1234");
  EXPECT_EQ(expand("%{p}", c, MacroMode::domain_spec).text, "unknown");
  c.validated_name = [] { return std::string("mx.example.org"); };
  EXPECT_EQ(expand("%{p2}", c, MacroMode::domain_spec).text, "example.org");
  EXPECT_EQ(expand("%{d+}", c, MacroMode::domain_spec).text, "email.example.com");
  EXPECT_EQ(expand("%{s1.@}", c, MacroMode::domain_spec).error, MacroError::bad_syntax);
  EXPECT_EQ(expand("%{q}", c, MacroMode::domain_spec).error, MacroError::letter_not_allowed);
}

TEST(SpfMacro, Errors) {
  struct Row { const char* in; MacroMode mode; MacroError error; };
  const Row rows[] = {
      {"%{c}", MacroMode::domain_spec, MacroError::letter_not_allowed},
      {"%{r}", MacroMode::domain_spec, MacroError::letter_not_allowed},
      {"%{t}", MacroMode::domain_spec, MacroError::letter_not_allowed},
      {"%{x}", MacroMode::explanation, MacroError::letter_not_allowed},
      {"%{d0}", MacroMode::domain_spec, MacroError::bad_transformer},
      {"%{d", MacroMode::domain_spec, MacroError::bad_syntax},
      {"%", MacroMode::domain_spec, MacroError::bad_syntax},
      {"%x", MacroMode::domain_spec, MacroError::bad_syntax},
      {"%(ir)", MacroMode::domain_spec, MacroError::bad_syntax},
      {"a b", MacroMode::domain_spec, MacroError::bad_syntax},
      {"\x80", MacroMode::explanation, MacroError::bad_syntax},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(check_macro_string(row.in, row.mode), row.error) << row.in;
    EXPECT_EQ(expand(row.in, rfc_context("192.0.2.3"), row.mode).error, row.error) << row.in;
  }
  EXPECT_EQ(check_macro_string("a b %{c}", MacroMode::explanation), MacroError::none);
}

TEST(SpfMacro, TruncationTo253DropsLeftLabels) {
  MacroContext c = rfc_context("192.0.2.3");
  std::string domain;
  for (int i = 0; i < 40; ++i) domain += "label" + std::to_string(i) + ".";
  domain += "example.com";
  c.domain = domain;
  MacroResult r = expand("%{d}", c, MacroMode::domain_spec);
  ASSERT_TRUE(r.ok());
  EXPECT_LE(r.text.size(), 253u);
  EXPECT_GT(r.text.size(), 240u);
  EXPECT_TRUE(domain.ends_with(r.text));
  EXPECT_EQ(domain[domain.size() - r.text.size() - 1], '.');
  EXPECT_EQ(truncate_domain("a.b.c."), "a.b.c");
  EXPECT_EQ(truncate_domain(std::string(300, 'x')), "");
}

TEST(SpfMacro, BombIsBounded) {
  MacroContext c = rfc_context("192.0.2.3");
  std::string sender(400, 's');
  c.sender = sender;
  std::string bomb;
  for (int i = 0; i < 100; ++i) bomb += "%{s}";
  MacroResult r = expand(bomb, c, MacroMode::domain_spec);
  EXPECT_EQ(r.error, MacroError::too_long);
  EXPECT_TRUE(r.text.empty());
  MacroResult e = expand(bomb.substr(0, 4 * 10), c, MacroMode::explanation);
  EXPECT_TRUE(e.ok());
  EXPECT_EQ(e.text.size(), kMaxExplanation);
}

}  // namespace
}  // namespace mailward::spf
