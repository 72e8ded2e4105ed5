// Unit tests for the SPF record parser (RFC 7208 §4.5, §4.6, §5, §6, §12): table-driven.
#include <gtest/gtest.h>

#include "milters/auth/spf/record.h"

namespace mailward::spf {
namespace {

struct Row {
  const char* record;
  ParseError error;
  const char* printed;  // canonical print-back when the parse succeeds
};

TEST(SpfRecord, Table) {
  const Row rows[] = {
      {"v=spf1", ParseError::none, "v=spf1"},
      {"V=SPF1 -ALL", ParseError::none, "v=spf1 -all"},
      {"v=spf1  +a  ~mx:mx.example.com/24//64 ?ptr -all ", ParseError::none,
       "v=spf1 a ~mx:mx.example.com/24//64 ?ptr -all"},
      {"v=spf1 a//0 a/0 mx:%{d}", ParseError::none, "v=spf1 a//0 a/0 mx:%{d}"},
      {"v=spf1 ip4:192.0.2.0/24 ip6:2001:DB8::/32 ip4:192.0.2.1", ParseError::none,
       "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip4:192.0.2.1"},
      {"v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} redirect=_spf.example.com exp=x.example.com",
       ParseError::none,
       "v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} redirect=_spf.example.com exp=x.example.com"},
      {"v=spf1 foo=bar -all moo.cow-far_out=man:dog/cat", ParseError::none,
       "v=spf1 -all foo=bar moo.cow-far_out=man:dog/cat"},
      {"v=spf10", ParseError::not_spf, nullptr},
      {"spf1 -all", ParseError::not_spf, nullptr},
      {"v=spf1 -all\r", ParseError::invalid_character, nullptr},
      {"v=spf1 a:b\xc3\xa9.example.com", ParseError::invalid_character, nullptr},
      {"v=spf1 -all\t", ParseError::invalid_character, nullptr},
      {"v=spf1 frob", ParseError::unknown_mechanism, nullptr},
      {"v=spf1 ip:10.0.0.1", ParseError::unknown_mechanism, nullptr},
      {"v=spf1 all:foo", ParseError::bad_argument, nullptr},
      {"v=spf1 all/24", ParseError::bad_argument, nullptr},
      {"v=spf1 include", ParseError::bad_argument, nullptr},
      {"v=spf1 exists", ParseError::bad_argument, nullptr},
      {"v=spf1 a:", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 a:museum", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 a:foo.123", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 a:foo.-bar", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 a:foo.b-r", ParseError::none, "v=spf1 a:foo.b-r"},
      {"v=spf1 a:foo.1-2", ParseError::none, "v=spf1 a:foo.1-2"},
      {"v=spf1 a/33", ParseError::bad_cidr, nullptr},
      {"v=spf1 a//129", ParseError::bad_cidr, nullptr},
      {"v=spf1 a/024", ParseError::bad_cidr, nullptr},
      {"v=spf1 ip4:192.0.2.0/33", ParseError::bad_cidr, nullptr},
      {"v=spf1 ip4:192.0.2.0/", ParseError::bad_cidr, nullptr},
      {"v=spf1 ip4:2001:db8::1", ParseError::bad_ip, nullptr},
      {"v=spf1 ip6:192.0.2.1", ParseError::bad_ip, nullptr},
      {"v=spf1 ip4:192.0.2", ParseError::bad_ip, nullptr},
      {"v=spf1 ip4:", ParseError::bad_ip, nullptr},
      {"v=spf1 redirect=a.example.com redirect=b.example.com", ParseError::duplicate_modifier, nullptr},
      {"v=spf1 exp=a.example.com exp=b.example.com", ParseError::duplicate_modifier, nullptr},
      {"v=spf1 redirect=", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 exists:%{x}.example.com", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 exists:%{r}.example.com", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 exists:%{d0}.example.com", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 exists:foo%.example.com", ParseError::bad_domain_spec, nullptr},
      {"v=spf1 -all foo=%{x", ParseError::bad_modifier, nullptr},
  };
  for (const Row& row : rows) {
    ParseResult r = parse_record(row.record);
    EXPECT_EQ(r.error, row.error) << row.record << ": " << r.detail;
    if (row.error == ParseError::none) {
      ASSERT_TRUE(r.record) << row.record;
      EXPECT_EQ(to_string(*r.record), row.printed) << row.record;
      ParseResult again = parse_record(to_string(*r.record));
      ASSERT_TRUE(again.ok()) << again.detail;
      EXPECT_EQ(to_string(*again.record), row.printed);
    } else {
      EXPECT_FALSE(r.detail.empty()) << row.record;
    }
  }
}

TEST(SpfRecord, TermFields) {
  ParseResult r = parse_record("v=spf1 -mx:mx.example.com/24//64 ~ip6:2001:db8::/48 ?exists:%{i}.x.example");
  ASSERT_TRUE(r.ok()) << r.detail;
  const auto& m = r.record->mechanisms;
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].kind, MechanismKind::mx);
  EXPECT_EQ(m[0].qualifier, Qualifier::fail);
  EXPECT_EQ(m[0].domain_spec, "mx.example.com");
  EXPECT_EQ(m[0].cidr4, 24u);
  EXPECT_EQ(m[0].cidr6, 64u);
  EXPECT_EQ(m[0].text, "-mx:mx.example.com/24//64");
  EXPECT_EQ(m[1].kind, MechanismKind::ip6);
  EXPECT_EQ(m[1].qualifier, Qualifier::softfail);
  EXPECT_EQ(m[1].cidr6, 48u);
  EXPECT_EQ(m[2].kind, MechanismKind::exists);
  EXPECT_EQ(m[2].qualifier, Qualifier::neutral);
  EXPECT_TRUE(m[2].queries_dns());
  EXPECT_FALSE(m[1].queries_dns());
}

TEST(SpfRecord, Selection) {
  EXPECT_TRUE(is_spf_record("v=spf1"));
  EXPECT_TRUE(is_spf_record("V=Spf1 -all"));
  EXPECT_FALSE(is_spf_record("v=spf1-all"));
  EXPECT_FALSE(is_spf_record("v=spf10"));
  EXPECT_FALSE(is_spf_record(" v=spf1"));
  EXPECT_FALSE(is_spf_record("\xEF\xBB\xBFv=spf1"));
}

}  // namespace
}  // namespace mailward::spf
