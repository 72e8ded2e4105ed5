// Table-driven tests for DMARC record parsing (RFC 7489 §6.3, §6.4, §6.6.3; RFC 9989 np/t/psd).
#include <gtest/gtest.h>

#include "milters/auth/dmarc/dmarc.h"

namespace mailward::dmarc {
namespace {

TEST(DmarcRecord, RecognisesTheVersionTag) {
  const std::pair<const char*, bool> cases[] = {
      {"v=DMARC1; p=none", true},
      {"v=DMARC1", true},
      {"V=DMARC1;p=none", true},
      {"v = DMARC1 ; p=none", true},
      {" v=DMARC1;", true},
      {"v=dmarc1; p=none", false},   // %x-coded: case-sensitive
      {"v=DMARC1x; p=none", false},
      {"v=DMARC1 p=none", false},    // missing separator: the version value is "DMARC1 p=none"
      {"p=none; v=DMARC1", false},   // must be first
      {"v=spf1 -all", false},
      {"", false},
      {"v=", false},
  };
  for (const auto& [txt, expected] : cases) EXPECT_EQ(is_dmarc_record(txt), expected) << txt;
}

TEST(DmarcRecord, ParsesEveryTag) {
  const RecordParse p = parse_record(
      "v=DMARC1; p=quarantine; sp=reject; np=none; adkim=s; aspf=r; pct=50; "
      "rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; rf=afrf; "
      "ri=3600; t=y; psd=n");
  ASSERT_TRUE(p.record) << p.error;
  const Record& r = *p.record;
  EXPECT_EQ(r.policy, Policy::quarantine);
  EXPECT_EQ(r.subdomain_policy, Policy::reject);
  EXPECT_EQ(r.nonexistent_subdomain_policy, Policy::none);
  EXPECT_EQ(r.dkim_alignment, Alignment::strict);
  EXPECT_EQ(r.spf_alignment, Alignment::relaxed);
  EXPECT_EQ(r.percent, 50u);
  EXPECT_EQ(r.aggregate_report_uris, (std::vector<std::string>{"mailto:a@example.com", "mailto:b@example.net!10m"}));
  EXPECT_EQ(r.failure_report_uris, (std::vector<std::string>{"mailto:f@example.com"}));
  EXPECT_EQ(r.failure_options, "1:d");
  EXPECT_EQ(r.report_format, "afrf");
  EXPECT_EQ(r.report_interval, 3600u);
  EXPECT_TRUE(r.test_mode);
  EXPECT_EQ(r.public_suffix_domain, false);
  EXPECT_TRUE(p.warnings.empty());
}

TEST(DmarcRecord, Defaults) {
  const RecordParse p = parse_record("v=DMARC1; p=reject");
  ASSERT_TRUE(p.record);
  const Record& r = *p.record;
  EXPECT_EQ(r.policy, Policy::reject);
  EXPECT_FALSE(r.subdomain_policy);
  EXPECT_FALSE(r.nonexistent_subdomain_policy);
  EXPECT_EQ(r.dkim_alignment, Alignment::relaxed);
  EXPECT_EQ(r.spf_alignment, Alignment::relaxed);
  EXPECT_EQ(r.percent, 100u);
  EXPECT_EQ(r.failure_options, "0");
  EXPECT_EQ(r.report_interval, 86400u);
  EXPECT_FALSE(r.test_mode);
  EXPECT_FALSE(r.public_suffix_domain);
}

struct Case {
  const char* txt;
  RecordError kind;
  Policy policy;
  unsigned percent;
  std::size_t warnings;
  const char* first_warning_or_error;
};

const Case kCases[] = {
    {"v=DMARC1; p=Reject", RecordError::none, Policy::reject, 100, 0, ""},
    {"V=DMARC1; P=QUARANTINE; ADKIM=S", RecordError::none, Policy::quarantine, 100, 0, ""},
    {"v=DMARC1 ;  p = reject  ; pct = 100 ", RecordError::none, Policy::reject, 100, 0, ""},
    {"v=DMARC1;p=none;", RecordError::none, Policy::none, 100, 0, ""},
    {"v=DMARC1; p=none; unknown=tag; x=", RecordError::none, Policy::none, 100, 0, ""},
    {"v=DMARC1; p=reject; pct=0", RecordError::none, Policy::reject, 0, 0, ""},
    {"v=DMARC1; p=reject; pct=invalid", RecordError::none, Policy::reject, 100, 1, "ignored invalid pct=invalid; using 100"},
    {"v=DMARC1; p=reject; pct=101", RecordError::none, Policy::reject, 100, 1, "ignored invalid pct=101; using 100"},
    {"v=DMARC1; p=reject; pct=-1", RecordError::none, Policy::reject, 100, 1, "ignored invalid pct=-1; using 100"},
    {"v=DMARC1; p=reject; adkim=x", RecordError::none, Policy::reject, 100, 1, "ignored invalid adkim=x; using r"},
    {"v=DMARC1; p=reject; tagonly", RecordError::none, Policy::reject, 100, 1, "ignored malformed tag \"tagonly\""},
    {"v=DMARC1; p=reject; =value", RecordError::none, Policy::reject, 100, 1, "ignored malformed tag \"=value\""},
    {"v=DMARC1; p=reject; p=none", RecordError::none, Policy::reject, 100, 1, "ignored repeated tag p=none"},
    {"v=DMARC1; p=reject; fo=2", RecordError::none, Policy::reject, 100, 1, "ignored invalid fo=2; using 0"},
    {"v=DMARC1; p=reject; rua=bogus", RecordError::none, Policy::reject, 100, 1, "rua=: ignored invalid URI \"bogus\""},
    // §6.6.3: no valid p= but a valid rua= -> p=none
    {"v=DMARC1; rua=mailto:dmarc@example.com", RecordError::none, Policy::none, 100, 1,
     "no p= tag; treated as p=none because rua= is valid (RFC 7489 §6.6.3)"},
    {"v=DMARC1; p=bogus; rua=mailto:dmarc@example.com", RecordError::none, Policy::none, 100, 1,
     "invalid p= value; treated as p=none because rua= is valid (RFC 7489 §6.6.3)"},
    {"v=DMARC1; p=reject; sp=bogus; rua=mailto:d@example.com", RecordError::none, Policy::none, 100, 1,
     "invalid sp= value; treated as p=none because rua= is valid (RFC 7489 §6.6.3)"},
    // ... otherwise the record is unusable
    {"v=DMARC1", RecordError::invalid, Policy::none, 0, 0, "no p= tag and no valid rua= (RFC 7489 §6.6.3)"},
    {"v=DMARC1; adkim=s", RecordError::invalid, Policy::none, 0, 0, "no p= tag and no valid rua= (RFC 7489 §6.6.3)"},
    {"v=DMARC1; p=rejectx", RecordError::invalid, Policy::none, 0, 1, "invalid p= value and no valid rua= (RFC 7489 §6.6.3)"},
    {"v=DMARC1; p=reject; sp=x", RecordError::invalid, Policy::none, 0, 0, "invalid sp= value and no valid rua= (RFC 7489 §6.6.3)"},
    {"v=DMARC1; p=none; rua=nonsense", RecordError::none, Policy::none, 100, 1, "rua=: ignored invalid URI \"nonsense\""},
    {"v=DMARC1; p=; rua=nonsense", RecordError::invalid, Policy::none, 0, 1, "invalid p= value and no valid rua= (RFC 7489 §6.6.3)"},
    // not DMARC at all
    {"v=dmarc1; p=reject", RecordError::not_dmarc, Policy::none, 0, 0, "not a DMARC record: the first tag is not v=DMARC1"},
    {"p=reject", RecordError::not_dmarc, Policy::none, 0, 0, "not a DMARC record: the first tag is not v=DMARC1"},
};

TEST(DmarcRecord, Table) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.txt);
    const RecordParse p = parse_record(c.txt);
    EXPECT_EQ(p.kind, c.kind);
    if (c.kind == RecordError::none) {
      ASSERT_TRUE(p.record) << p.error;
      EXPECT_TRUE(p.error.empty());
      EXPECT_EQ(p.record->policy, c.policy);
      EXPECT_EQ(p.record->percent, c.percent);
      ASSERT_EQ(p.warnings.size(), c.warnings);
      if (c.warnings > 0) {
        EXPECT_EQ(p.warnings.front(), c.first_warning_or_error);
      }
    } else {
      EXPECT_FALSE(p.record);
      EXPECT_EQ(p.error, c.first_warning_or_error);
    }
  }
}

TEST(DmarcRecord, KeepsTheCaseOfUris) {
  const RecordParse p = parse_record("v=DMARC1; p=none; rua=mailto:DMARC-Reports@Example.COM");
  ASSERT_TRUE(p.record);
  EXPECT_EQ(p.record->aggregate_report_uris, std::vector<std::string>{"mailto:DMARC-Reports@Example.COM"});
}

}  // namespace
}  // namespace mailward::dmarc
