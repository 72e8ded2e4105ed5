// Spam scoring inside the engine: GTUBE rejected, DNSBL listings and authentication results as
// named contributions, X-Spam-* fields added in SpamAssassin's form and forged ones removed, outgoing
// mail left alone, [spam] settings validated. In-memory DNS, fixed clock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/dns/static_resolver.h"
#include "milters/milter/engine.h"

using namespace mailward;
using milter::Action;
using milter::Decision;
using milter::HeaderEdit;

namespace {

struct SpamFixture {
  dns::StaticResolver dns;
  milter::Settings settings;
  std::unique_ptr<milter::Engine> engine;

  SpamFixture() {
    settings.authserv_id = "mx.receiver.example";
    settings.trusted_networks = {*net::Network::parse("10.0.0.0/8")};
    settings.spam.enabled = true;
    std::string problem;
    spam::parse_zone_list("bl.example:6.0", "RCVD_IN_", settings.spam.dnsbl.client_zones, problem);
    dns.add_txt("sender.example", "v=spf1 ip4:192.0.2.0/24 -all");
    dns.add_txt("_dmarc.sender.example", "v=DMARC1; p=none");
    dns.add_txt("nodmarc.example", "v=spf1 ip4:198.51.100.0/24 -all");
    dns.add_address("66.2.0.192.bl.example", *net::IpAddress::parse("127.0.0.2"));
  }

  void make_engine() {
    auto psl_file = std::filesystem::temp_directory_path() / "mailward-spam-engine-psl.dat";
    std::ofstream(psl_file) << "com\nnet\nexample\n";
    engine = std::make_unique<milter::Engine>(settings, dns, dmarc::PublicSuffixList::load_file(psl_file.string()),
                                              std::vector<dkim::SigningKey>{}, [] { return std::int64_t{1'790'000'000}; },
                                              [] { return 0u; });
  }

  Decision run(const std::string& ip, const std::string& mail_from, const std::string& raw) {
    if (!engine) make_engine();
    milter::Envelope e;
    e.client_ip = net::IpAddress::parse(ip);
    e.helo = "mail.sender.example";
    e.mail_from = mail_from;
    mail::Message m = mail::parse_message(raw);
    auto scan = engine->begin(e);
    for (auto& h : m.headers) scan->add_header(h);
    scan->end_of_headers();
    for (std::size_t i = 0; i < m.body.size(); i += 11) scan->add_body(std::string_view(m.body).substr(i, 11));
    return scan->finish();
  }
};

const HeaderEdit* inserted(const Decision& d, std::string_view name) {
  for (const HeaderEdit& e : d.edits)
    if (e.kind == HeaderEdit::Kind::insert && e.name == name) return &e;
  return nullptr;
}

const std::string kClean =
    "From: Alice <alice@sender.example>\nTo: bob@receiver.example\nSubject: lunch on friday\n"
    "Date: Mon, 2 Nov 2026 10:00:00 +0000\nMessage-ID: <1@sender.example>\n"
    "X-Spam-Flag: YES\nX-Spam-Status: Yes, score=99 tests=FORGED\n\nSee you at noon.\n";

TEST(SpamEngine, GtubeRejectedWithReadableReason) {
  SpamFixture f;
  std::string raw = "From: a@sender.example\nSubject: test\n\nThis is the GTUBE, the\n" +
                    std::string(spam::kGtube) + "\n";
  Decision d = f.run("192.0.2.1", "a@sender.example", raw);
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_EQ(d.reply_code, "550");
  EXPECT_EQ(d.enhanced_code, "5.7.1");
  EXPECT_EQ(d.reply_text.rfind("Message rejected as spam (score 10", 0), 0u) << d.reply_text;
  EXPECT_NE(d.reply_text.find("GTUBE (Generic Test for Unsolicited Bulk Email)"), std::string::npos);
  EXPECT_NE(d.log.find("spam_tests=GTUBE=1000.0"), std::string::npos) << d.log;
  // Over the reject score on rules alone: the blocklists are not asked (the client is listed).
  Decision listed = f.run("192.0.2.66", "a@sender.example", raw);
  EXPECT_EQ(listed.action, Action::reject);
  EXPECT_EQ(listed.log.find("RCVD_IN_BL_EXAMPLE"), std::string::npos) << listed.log;
}

TEST(SpamEngine, CleanMessageScoredForgedFieldsRemoved) {
  SpamFixture f;
  Decision d = f.run("192.0.2.1", "alice@sender.example", kClean);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_EQ(inserted(d, "X-Spam-Flag"), nullptr);
  ASSERT_NE(inserted(d, "X-Spam-Score"), nullptr);
  EXPECT_EQ(inserted(d, "X-Spam-Score")->value, " 0.0");
  ASSERT_NE(inserted(d, "X-Spam-Status"), nullptr);
  EXPECT_EQ(inserted(d, "X-Spam-Status")->value, " No, score=0.0 required=5.0 tests=none");
  // The forged fields are removed first (occurrence 1 of each name).
  ASSERT_GE(d.edits.size(), 2u);
  int removals = 0;
  for (const HeaderEdit& e : d.edits) {
    if (e.kind != HeaderEdit::Kind::remove) continue;
    ++removals;
    EXPECT_EQ(e.index, 1);
    EXPECT_TRUE(e.name == "X-Spam-Flag" || e.name == "X-Spam-Status") << e.name;
  }
  EXPECT_EQ(removals, 2);
  EXPECT_EQ(d.edits[0].kind, HeaderEdit::Kind::remove);
  EXPECT_EQ(d.edits[1].kind, HeaderEdit::Kind::remove);
}

TEST(SpamEngine, ListedClientFlagged) {
  SpamFixture f;
  Decision d = f.run("192.0.2.66", "alice@sender.example", kClean);
  EXPECT_EQ(d.action, Action::accept);
  ASSERT_NE(inserted(d, "X-Spam-Flag"), nullptr);
  EXPECT_EQ(inserted(d, "X-Spam-Flag")->value, " YES");
  EXPECT_EQ(inserted(d, "X-Spam-Status")->value, " Yes, score=6.0 required=5.0 tests=RCVD_IN_BL_EXAMPLE");
}

TEST(SpamEngine, AuthResultsAreEvidence) {
  SpamFixture f;
  // SPF fails (198.51.100.0/24 only) and there is no DMARC record.
  Decision d = f.run("203.0.113.5", "x@nodmarc.example",
                     "From: x@nodmarc.example\nSubject: hi\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n"
                     "Message-ID: <2@nodmarc.example>\n\nhello\n");
  ASSERT_NE(inserted(d, "X-Spam-Status"), nullptr);
  EXPECT_EQ(inserted(d, "X-Spam-Status")->value, " No, score=1.1 required=5.0 tests=DMARC_NONE,SPF_FAIL");
}

TEST(SpamEngine, RejectOffFlagsInstead) {
  SpamFixture f;
  f.settings.spam.reject_score.reset();
  std::string raw = "From: a@sender.example\nSubject: test\n\n" + std::string(spam::kGtube) + "\n";
  Decision d = f.run("192.0.2.1", "a@sender.example", raw);
  EXPECT_EQ(d.action, Action::accept);
  ASSERT_NE(inserted(d, "X-Spam-Flag"), nullptr);
  EXPECT_EQ(inserted(d, "X-Spam-Score")->value, " 1001.3");
}

TEST(SpamEngine, OutgoingNotScored) {
  SpamFixture f;
  Decision d = f.run("10.1.2.3", "alice@sender.example", kClean);
  EXPECT_EQ(inserted(d, "X-Spam-Status"), nullptr);
  for (const HeaderEdit& e : d.edits) EXPECT_NE(e.kind, HeaderEdit::Kind::remove);
  f.engine.reset();
  f.settings.spam.score_outgoing = true;
  Decision scored = f.run("10.1.2.3", "alice@sender.example", kClean);
  EXPECT_NE(inserted(scored, "X-Spam-Status"), nullptr);
}

TEST(SpamEngine, DisabledLeavesMessageAlone) {
  SpamFixture f;
  f.settings.spam.enabled = false;
  Decision d = f.run("192.0.2.66", "alice@sender.example", kClean);
  EXPECT_EQ(inserted(d, "X-Spam-Status"), nullptr);
  EXPECT_EQ(f.engine->spam_checker(), nullptr);
}

struct BrokenClassifier final : spam::SpamClassifier {
  std::optional<spam::ClassifierResult> classify(const spam::ParsedMail&, std::string_view) override {
    throw std::runtime_error("token store unreachable");
  }
};

TEST(SpamEngine, InternalErrorGivesFailModeNeverReject) {
  for (milter::FailMode mode : {milter::FailMode::tempfail, milter::FailMode::accept}) {
    SpamFixture f;
    f.settings.fail_mode = mode;
    f.make_engine();
    f.engine->set_spam_classifier(std::make_shared<BrokenClassifier>());
    std::string raw = "From: a@sender.example\nSubject: t\n\nhello\n";
    Decision d = f.run("192.0.2.1", "a@sender.example", raw);
    EXPECT_NE(d.action, Action::reject);
    EXPECT_NE(d.log.find("spam=error"), std::string::npos) << d.log;
    EXPECT_EQ(inserted(d, "X-Spam-Status"), nullptr);
    if (mode == milter::FailMode::tempfail) {
      EXPECT_EQ(d.action, Action::tempfail);
      EXPECT_EQ(d.reply_code, "451");
    } else {
      EXPECT_EQ(d.action, Action::accept);
    }
  }
}

TEST(SpamSettings, ReadAndValidated) {
  auto c = config::Config::parse(
      "[spam]\nenabled = yes\nrequired_score = 4.5\nreject_score = off\nclient_zones = zen.example:3\n"
      "uri_zones = uribl.example\ncheck_loopback = yes\nspf_fail_score = 2\nbayes_min_tokens = 5\n",
      "m.conf");
  spam::SpamSettings s = spam::load_spam_settings(c);
  EXPECT_TRUE(s.enabled);
  EXPECT_DOUBLE_EQ(s.required_score, 4.5);
  EXPECT_FALSE(s.reject_score.has_value());
  ASSERT_EQ(s.dnsbl.client_zones.size(), 1u);
  EXPECT_EQ(s.dnsbl.client_zones[0].rule_name, "RCVD_IN_ZEN_EXAMPLE");
  ASSERT_EQ(s.dnsbl.uri_zones.size(), 1u);
  EXPECT_TRUE(s.dnsbl.check_loopback);
  EXPECT_DOUBLE_EQ(s.spf_fail_score, 2.0);

  const std::pair<const char*, const char*> bad[] = {
      {"[spam]\nrequired_scor = 1\n", "m.conf:2: [spam] required_scor: unknown key"},
      {"[spam]\nrequired_score = lots\n", "m.conf:2: [spam] required_score: 'lots' is not a score like 5.0"},
      {"[spam]\nreject_score = 2\n", "m.conf:2: [spam] reject_score: must not be below required_score (or 'off')"},
      {"[spam]\nclient_zones = zen.example:x\n", "m.conf:2: [spam] client_zones: 'zen.example:x': 'x' is not a score"},
      {"[spam]\nrules_file = rel.rules\n", "m.conf:2: [spam] rules_file: must be an absolute path"},
  };
  for (const auto& [text, message] : bad) {
    try {
      spam::load_spam_settings(config::Config::parse(text, "m.conf"));
      ADD_FAILURE() << "no error for " << text;
    } catch (const config::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(message, 0), 0u) << e.what();
    }
  }
}

TEST(SpamSettings, BadRuleFileStopsStartup) {
  auto path = std::filesystem::temp_directory_path() / "mailward-spam-bad.rules";
  std::ofstream(path) << "body OK /x/ 1\nbody BAD /(/ 1\n";
  SpamFixture f;
  f.settings.spam.rules_file = path.string();
  try {
    f.make_engine();
    ADD_FAILURE() << "engine built with a bad rule file";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path.string() + ":2: rule BAD: bad pattern", 0), 0u) << e.what();
  }
}

}  // namespace
