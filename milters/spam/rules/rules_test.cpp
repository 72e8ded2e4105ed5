// Tests for the rule-file parser and the Hyperscan matcher (rules.h), table-driven.
#include "milters/spam/rules/rules.h"

#include <gtest/gtest.h>

#include <fstream>

#include "milters/spam/rules/spam.h"

namespace mailward::spam {
namespace {

std::vector<std::string> names_of(const std::vector<RuleHit>& hits) {
  std::vector<std::string> out;
  for (const RuleHit& h : hits) out.push_back(h.name);
  return out;
}

struct BadCase {
  const char* text;
  RuleError error;
  const char* detail;  // exact
};

TEST(RuleParse, ErrorsNameFileAndLine) {
  const BadCase cases[] = {
      {"frobnicate X /a/ 1", RuleError::syntax,
       "t.rules:1: unknown rule type 'frobnicate' (known: header, body, rawbody, uri, meta)"},
      {"\nbody A /abc 1", RuleError::syntax, "t.rules:2: pattern has no closing '/'"},
      {"body A /abc/x 1", RuleError::syntax, "t.rules:1: unknown pattern flag 'x' (known: i, s)"},
      {"body A /abc/ one", RuleError::syntax, "t.rules:1: 'one' is not a score"},
      {"body A /abc/", RuleError::syntax, "t.rules:1: missing score"},
      {"body A /abc/ 1 unquoted", RuleError::syntax, "t.rules:1: description must be one \"quoted string\""},
      {"body A-B /abc/ 1", RuleError::syntax, "t.rules:1: 'A-B' is not a rule name (letters, digits, _)"},
      {"body A /a/ 1\nbody A /b/ 1", RuleError::duplicate_name,
       "t.rules:2: rule 'A' is defined twice (GTUBE is built in)"},
      {"body GTUBE /a/ 1", RuleError::duplicate_name, "t.rules:1: rule 'GTUBE' is defined twice (GTUBE is built in)"},
      {"header A Subject ~ /a/ 1", RuleError::syntax, "t.rules:1: expected '=~' or '!~' after the field name"},
      {"meta M A && B 1", RuleError::unknown_name, "t.rules:1: unknown rule 'A' (define it above)"},
      {"body A /a/ 1\nmeta M (A 1", RuleError::unknown_name, "t.rules:2: missing ')'"},
      {"body A /a/ 1\nmeta M A B 1", RuleError::unknown_name,
       "t.rules:2: unexpected text at column 3 of the expression"},
      {"header A exists:Sub:ject 1", RuleError::syntax, "t.rules:1: 'Sub:ject' is not a header field name"},
  };
  for (const BadCase& c : cases) {
    RuleSetLoad load = RuleSet::parse(c.text, "t.rules");
    EXPECT_EQ(load.error, c.error) << c.text;
    EXPECT_EQ(load.detail, c.detail) << c.text;
    EXPECT_EQ(load.rules, nullptr);
  }
}

TEST(RuleParse, BadPatternNamesRuleAndLine) {
  RuleSetLoad load = RuleSet::parse("# comment\n\nbody OK /fine/ 1\nbody BAD /(unclosed/ 2\n", "x.rules");
  ASSERT_EQ(load.error, RuleError::bad_pattern);
  EXPECT_EQ(load.detail.rfind("x.rules:4: rule BAD: bad pattern /(unclosed/: ", 0), 0u) << load.detail;
}

TEST(RuleParse, FieldsParsed) {
  std::vector<Rule> rules;
  std::string detail;
  ASSERT_EQ(RuleSet::parse_rules("header S Subject =~ /x\\/y/is -1.5 \"say hi\"\n"
                                 "meta __M S || !S 3\n",
                                 "f", rules, detail),
            RuleError::none)
      << detail;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].field, "subject");
  EXPECT_EQ(rules[0].pattern, "x\\/y");
  EXPECT_TRUE(rules[0].caseless);
  EXPECT_TRUE(rules[0].dotall);
  EXPECT_DOUBLE_EQ(rules[0].score, -1.5);
  EXPECT_EQ(rules[0].description, "say hi");
  EXPECT_EQ(rules[0].where, "f:1");
  EXPECT_EQ(rules[1].expression, "S || !S");
  EXPECT_DOUBLE_EQ(rules[1].score, 0);  // sub-rules never score
}

constexpr const char* kRules = R"(
header SUBJ_FOO   Subject =~ /foo/i 1.0 "foo in subject"
header SUBJ_EMPTY Subject =~ /^\s*$/ 0.5
header NO_DATE    missing:Date 0.7
header HAS_LIST   exists:List-Id 0.1
header FROM_NOAT  From !~ /@/ 0.9
header __HTML     :content-types =~ /text\/html/ 0
body   BODY_CASH  /\bcash now\b/i 2.0 "cash"
body   BODY_LINE  /^start here$/ 0.4
rawbody RAW_QP    /=3D/ 0.2
uri    URI_IP     /^https?:\/\/\d+\.\d+\.\d+\.\d+/ 1.2
meta   HTML_FOO   __HTML && SUBJ_FOO 3.0
meta   NOT_FOO    !SUBJ_FOO && !(BODY_CASH || RAW_QP) 0.1
)";

struct MatchCase {
  const char* what;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::vector<std::string_view> texts;
  std::string_view raw;
  std::vector<std::string_view> urls;
  std::vector<std::string_view> types;
  std::vector<std::string> expected;
};

TEST(RuleMatch, Table) {
  RuleSetLoad load = RuleSet::parse(kRules, "t.rules");
  ASSERT_EQ(load.error, RuleError::none) << load.detail;
  const std::string gtube_b64_decoded = std::string("x ") + std::string(kGtube) + " y";
  const MatchCase cases[] = {
      {"clean", {{"Subject", "hello"}, {"Date", "x"}, {"From", "a@b"}}, {"hi"}, "hi", {}, {}, {"NOT_FOO"}},
      {"subject foo, other field with foo does not count",
       {{"X-Foo", "foo"}, {"subject", "The FOO"}, {"Date", "x"}, {"From", "a@b"}}, {}, "", {}, {"text/html"},
       {"SUBJ_FOO", "HTML_FOO"}},
      {"foo only in another field", {{"X-Foo", "foo"}, {"Subject", "bar"}, {"Date", "x"}, {"From", "a@b"}},
       {}, "", {}, {}, {"NOT_FOO"}},
      {"empty subject anchors to the value, second Subject value counts",
       {{"Subject", "x"}, {"Subject", "  "}, {"Date", "x"}, {"From", "a@b"}}, {}, "", {}, {},
       {"SUBJ_EMPTY", "NOT_FOO"}},
      {"missing Date and From, List-Id", {{"List-Id", "<l>"}}, {}, "", {}, {},
       {"NO_DATE", "HAS_LIST", "FROM_NOAT", "NOT_FOO"}},
      {"body across parts and lines", {{"Date", "x"}, {"From", "a@b"}}, {"nothing", "a\nstart here\nb", "CASH NOW"},
       "", {}, {}, {"BODY_CASH", "BODY_LINE"}},
      {"line anchor does not match mid-line", {{"Date", "x"}, {"From", "a@b"}}, {"xx start here"}, "", {}, {},
       {"NOT_FOO"}},
      {"rawbody and uri", {{"Date", "x"}, {"From", "a@b"}}, {}, "a=3Db", {"http://example.com/", "http://10.1.2.3/x"},
       {}, {"RAW_QP", "URI_IP"}},
      {"GTUBE in raw body", {{"Date", "x"}, {"From", "a@b"}}, {}, kGtube, {}, {}, {"GTUBE", "NOT_FOO"}},
      {"GTUBE in decoded text", {{"Date", "x"}, {"From", "a@b"}}, {gtube_b64_decoded}, "WEpTKkM0", {}, {},
       {"GTUBE", "NOT_FOO"}},
  };
  for (const MatchCase& c : cases) {
    ScanInput in;
    in.headers = c.headers;
    in.texts = c.texts;
    in.raw_body = c.raw;
    in.urls = c.urls;
    in.content_types = c.types;
    std::vector<RuleHit> hits;
    std::string error;
    ASSERT_TRUE(load.rules->match(in, hits, error)) << error;
    EXPECT_EQ(names_of(hits), c.expected) << c.what;
  }
}

TEST(RuleMatch, HitsCarryScoreAndDescription) {
  RuleSetLoad load = RuleSet::parse(kRules, "t.rules");
  ASSERT_EQ(load.error, RuleError::none);
  ScanInput in;
  in.headers = {{"Subject", "foo"}, {"Date", "d"}, {"From", "a@b"}};
  in.raw_body = kGtube;
  std::vector<RuleHit> hits;
  std::string error;
  ASSERT_TRUE(load.rules->match(in, hits, error));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].name, "GTUBE");
  EXPECT_DOUBLE_EQ(hits[0].score, 1000.0);
  EXPECT_EQ(hits[1].name, "SUBJ_FOO");
  EXPECT_DOUBLE_EQ(hits[1].score, 1.0);
  EXPECT_EQ(hits[1].description, "foo in subject");
}

TEST(DefaultRules, CompileAndFire) {
  RuleSetLoad load = RuleSet::parse(default_rules_text(), "default.rules");
  ASSERT_EQ(load.error, RuleError::none) << load.detail;
  ScanInput in;
  in.headers = {{"Subject", ""}, {"From", "x@example.com"}};
  in.texts = {"Please verify your account"};
  in.urls = {"http://192.0.2.1/login"};
  in.content_types = {"text/html"};
  std::vector<RuleHit> hits;
  std::string error;
  ASSERT_TRUE(load.rules->match(in, hits, error));
  std::vector<std::string> n = names_of(hits);
  for (const char* want : {"MISSING_DATE", "MISSING_MESSAGE_ID", "EMPTY_SUBJECT", "HTML_ONLY_NO_SUBJECT",
                           "BODY_URGENT_ACTION", "URI_IP_LITERAL"})
    EXPECT_NE(std::find(n.begin(), n.end(), want), n.end()) << want;
  EXPECT_EQ(std::find(n.begin(), n.end(), "GTUBE"), n.end());
}

TEST(RuleFile, LoadFromFileAndMissingFile) {
  std::string path = ::testing::TempDir() + "/mw_rules_test.rules";
  {
    std::ofstream out(path);
    out << "body A /x/ 1\n";
  }
  RuleSetLoad ok = RuleSet::load_file(path);
  EXPECT_EQ(ok.error, RuleError::none) << ok.detail;
  ASSERT_NE(ok.rules, nullptr);
  EXPECT_EQ(ok.rules->rules().size(), 2u);  // GTUBE + A
  RuleSetLoad missing = RuleSet::load_file("/nonexistent/x.rules");
  EXPECT_EQ(missing.error, RuleError::io);
  EXPECT_EQ(missing.detail, "/nonexistent/x.rules: cannot read the rule file");
}

}  // namespace
}  // namespace mailward::spam
