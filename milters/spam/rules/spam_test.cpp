// Tests for the scorer (spam.h): contributions, the classifier interface, the X-Spam-* fields and
// reject reason, and score_message() (what `mailward spam score` shares).
#include "milters/spam/rules/spam.h"

#include <gtest/gtest.h>

#include <time.h>


namespace mailward::spam {
namespace {

struct FakeClassifier final : SpamClassifier {
  std::optional<ClassifierResult> result;
  std::string seen_user;
  bool throws = false;
  std::optional<ClassifierResult> classify(const ParsedMail&, std::string_view user) override {
    seen_user = std::string(user);
    if (throws) throw std::runtime_error("store unavailable");
    return result;
  }
};

SpamSettings settings_with(std::string rules) {
  SpamSettings s;
  s.enabled = true;
  static int n = 0;
  std::string path = ::testing::TempDir() + "/mw_spam_test_" + std::to_string(n++) + ".rules";
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(rules.c_str(), f);
  std::fclose(f);
  s.rules_file = path;
  return s;
}

TEST(Scorer, FormatScore) {
  const std::pair<double, const char*> cases[] = {
      {0, "0.0"}, {6.24, "6.2"}, {6.25, "6.3"}, {-1, "-1.0"}, {-0.04, "0.0"}, {1000.8, "1000.8"}};
  for (const auto& [v, s] : cases) EXPECT_EQ(format_score(v), s) << v;
}

TEST(Scorer, DecideHeadersAndReject) {
  SpamSettings s;
  SpamScore score;
  score.contributions = {{"ZED", 3.0, "z"}, {"ALPHA", 1.5, "a"}, {"NEG", -0.5, "n"}};
  score.total = 4.0;
  SpamActions a = decide(score, s);
  EXPECT_FALSE(a.spam);
  EXPECT_FALSE(a.reject);
  ASSERT_EQ(a.headers.size(), 2u);
  EXPECT_EQ(a.headers[0], (std::pair<std::string, std::string>{"X-Spam-Score", " 4.0"}));
  EXPECT_EQ(a.headers[1].second, " No, score=4.0 required=5.0 tests=ALPHA,NEG,ZED");

  score.total = 16.0;
  a = decide(score, s);
  EXPECT_TRUE(a.spam);
  EXPECT_TRUE(a.reject);
  EXPECT_EQ(a.reply_text, "Message rejected as spam (score 16.0, limit 15.0): ZED (z); ALPHA (a)");
  ASSERT_EQ(a.headers.size(), 3u);
  EXPECT_EQ(a.headers[0], (std::pair<std::string, std::string>{"X-Spam-Flag", " YES"}));

  s.reject_score.reset();
  s.add_headers = false;
  a = decide(score, s);
  EXPECT_TRUE(a.spam);
  EXPECT_FALSE(a.reject);
  EXPECT_TRUE(a.headers.empty());

  // Long test lists fold between tests; every line stays under 78 characters.
  SpamScore many;
  for (int i = 0; i < 12; ++i) many.contributions.push_back({"SOME_LONG_RULE_NAME_" + std::to_string(i), 1, ""});
  many.total = 12;
  SpamActions folded = decide(many, SpamSettings{});
  std::string status = "X-Spam-Status:" + folded.headers.back().second;
  std::size_t start = 0;
  int lines = 0;
  while (start <= status.size()) {
    std::size_t end = status.find("\r\n", start);
    if (end == std::string::npos) end = status.size();
    EXPECT_LE(end - start, 78u) << status.substr(start, end - start);
    ++lines;
    start = end + 2;
  }
  EXPECT_GT(lines, 2);
}

TEST(Scorer, ScoreMessageRulesClassifierNoDns) {
  SpamChecker checker(settings_with("body CASH /cash now/i 2.5 \"cash\"\nheader SUBJ Subject =~ /offer/ 1.0\n"));
  auto bayes = std::make_shared<FakeClassifier>();
  bayes->result = ClassifierResult{0.999, 3.5, "BAYES_99", "Bayes spam probability is 99 to 100%"};
  checker.set_classifier(bayes);
  std::string error;
  SpamScore s = score_message(checker,
                              "From: a@b.example\nSubject: =?utf-8?q?an_offer?=\nContent-Type: text/plain\n\n"
                              "Get CASH NOW\n",
                              "bob@example.org", &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(s.contributions.size(), 3u);
  EXPECT_EQ(s.contributions[0].name, "CASH");  // rule-file order
  EXPECT_EQ(s.contributions[1].name, "SUBJ");  // the RFC 2047-decoded Subject matched
  EXPECT_EQ(s.contributions[2].name, "BAYES_99");
  EXPECT_DOUBLE_EQ(s.total, 7.0);
  EXPECT_EQ(bayes->seen_user, "bob@example.org");

  SpamScore g = score_message(checker, std::string("Subject: t\r\n\r\n") + std::string(kGtube) + "\r\n", "");
  EXPECT_TRUE(g.has("GTUBE"));
  EXPECT_GE(g.total, 1000.0);

  // Base64-encoded GTUBE is found in the decoded text.
  SpamScore b = score_message(
      checker,
      "Subject: t\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
      "WEpTKkM0SkRCUUFETjEuTlNCTjMqMklETkVOKkdUVUJFLVNUQU5EQVJELUFOVEktVUJFLVRFU1QtRU1BSUwqQy4zNFgK\n",
      "");
  EXPECT_TRUE(b.has("GTUBE"));
}

TEST(Scorer, ClassifierFailureIsAnError) {
  SpamChecker checker(settings_with("body A /x/ 1\n"));
  auto bayes = std::make_shared<FakeClassifier>();
  bayes->throws = true;
  checker.set_classifier(bayes);
  std::string error;
  score_message(checker, "Subject: x\n\nx\n", "", &error);
  EXPECT_EQ(error, "spam scoring failed: store unavailable");
}

TEST(Scorer, AuthEvidenceContributions) {
  SpamChecker checker(settings_with(""));
  ParsedMail mail = parse_mail("Subject: x\n\nhello\n");
  SpamRequest req;
  req.use_dns = false;
  req.auth = {true, true, false, true, false, false};  // known, spf_fail, -, dkim_aligned_pass
  SpamScore s;
  std::string error;
  ASSERT_TRUE(checker.score(mail, "hello\n", req, nullptr, s, error)) << error;
  ASSERT_EQ(s.contributions.size(), 2u);
  EXPECT_EQ(s.contributions[0].name, "SPF_FAIL");
  EXPECT_EQ(s.contributions[1].name, "DKIM_VALID_ALIGNED");
  EXPECT_DOUBLE_EQ(s.total, 0.0);
}

// CPU time of this thread (immune to other processes on a loaded machine).
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Not a pass/fail benchmark: prints the cost of scoring a 10 KB message with the default rules
// (MIME parse included), so regressions are visible in the test log.
TEST(Scorer, CostOfTenKilobyteMessage) {
  SpamSettings settings;
  settings.enabled = true;
  SpamChecker checker(settings);
  std::string raw = "From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: Quarterly report\n"
                    "Date: Mon, 2 Nov 2026 10:00:00 +0000\nMessage-ID: <a1@example.org>\n"
                    "Content-Type: text/plain; charset=utf-8\n\n";
  while (raw.size() < 10 * 1024)
    raw += "The quarterly numbers look fine; see https://www.example.org/report for details and notes.\n";
  const int n = 300;
  double t0 = thread_cpu_us();
  double total = 0;
  for (int i = 0; i < n; ++i) total += score_message(checker, raw, "").total;
  double us = thread_cpu_us() - t0;
  std::printf("score_message on 10 KB: %.1f us CPU per message (total %.1f)\n", us / n, total);
  t0 = thread_cpu_us();
  std::size_t parts = 0;
  for (int i = 0; i < n; ++i) parts += parse_mail(raw).texts.size();
  us = thread_cpu_us() - t0;
  std::printf("  of which parse_mail: %.1f us CPU per message (%zu parts)\n", us / n, parts);
  ParsedMail mail = parse_mail(raw);
  std::string_view body = std::string_view(raw).substr(raw.find("\n\n") + 2);
  SpamRequest req;
  req.use_dns = false;
  t0 = thread_cpu_us();
  for (int i = 0; i < n; ++i) {
    SpamScore sc;
    std::string err;
    checker.score(mail, body, req, nullptr, sc, err);
  }
  us = thread_cpu_us() - t0;
  std::printf("  rules and scoring after parsing: %.1f us CPU per message\n", us / n);
  EXPECT_EQ(total, 0.0);  // the default rules find nothing in this message
}

}  // namespace
}  // namespace mailward::spam
