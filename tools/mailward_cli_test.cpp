// The `mailward` command as operators and scripts use it: its output is an interface (README), so
// these tests run the real binary against an in-process DNS server and check the exact forms.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/command.h"
#include "tests/support/dns_zone.h"
#include "tests/support/temp_dir_test.h"

namespace fs = std::filesystem;
using namespace mailward::test_support;  // run_command, DnsZone, TempDirTest

namespace {

const std::string kCli = MAILWARD_CLI_PATH;

class MailwardCli : public TempDirTest {
 protected:
  MailwardCli() : TempDirTest("mailward-cli-test") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDirTest::SetUp());
    zone_.txt("example.net", "v=spf1 ip4:192.0.2.0/24 -all");
    zone_.txt("_dmarc.example.net", "v=DMARC1; p=reject");
  }
  std::string dns() const { return " --dns-server " + zone_.server() + " --dns-timeout 2"; }

  DnsZone zone_;
};

}  // namespace

TEST_F(MailwardCli, SpfPrintsTheResultWordFirst) {
  CommandResult pass =
      run_command(kCli + " spf --ip 192.0.2.7 --mail-from alice@example.net --helo mx.example.net" + dns());
  EXPECT_EQ(pass.status, 0) << pass.out;
  EXPECT_TRUE(pass.out.starts_with("pass ")) << pass.out;
  CommandResult fail = run_command(kCli + " spf --ip 198.51.100.7 --mail-from alice@example.net" + dns());
  EXPECT_TRUE(fail.out.starts_with("fail ")) << fail.out;
  CommandResult none = run_command(kCli + " spf --ip 192.0.2.7 --mail-from bob@unknown.example.net" + dns());
  EXPECT_TRUE(none.out.starts_with("none ")) << none.out;
  CommandResult v6 = run_command(kCli + " spf --ip ::ffff:192.0.2.7 --mail-from alice@example.net" + dns());
  EXPECT_TRUE(v6.out.starts_with("pass ")) << v6.out;
}

TEST_F(MailwardCli, SpfDnsTimeoutIsTemperror) {
  // Nothing listens on the discard port: every query fails, which must never read as "fail".
  CommandResult r = run_command(kCli + " spf --ip 192.0.2.7 --mail-from a@example.net --dns-server 127.0.0.1:9"
              " --dns-timeout 0.2");
  EXPECT_TRUE(r.out.starts_with("temperror ")) << r.out;
}

TEST_F(MailwardCli, KeygenSignVerifyRoundTrip) {
  CommandResult key = run_command(kCli + " dkim keygen --domain Example.NET --selector s1 --out " + dir_.string());
  ASSERT_EQ(key.status, 0) << key.out;
  fs::path key_file = dir_ / "example.net.s1.key";
  ASSERT_TRUE(fs::exists(key_file));
  struct stat st {};
  ASSERT_EQ(stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(key.out, m, std::regex(R"(s1\._domainkey\.example\.net\. IN TXT \((.*) \))")))
      << key.out;
  // The zone line's character-strings, joined, are the record to publish.
  std::string record, strings = m[1];
  const std::regex quoted(R"("([^"]*)\")");
  for (std::sregex_iterator it(strings.begin(), strings.end(), quoted), end; it != end; ++it)
    record += (*it)[1];
  EXPECT_TRUE(record.starts_with("v=DKIM1; k=rsa; p=")) << record;
  zone_.txt("s1._domainkey.example.net", record);

  fs::path msg = dir_ / "msg.eml", signed_msg = dir_ / "signed.eml";
  std::ofstream(msg) << "From: Alice <alice@example.net>\nTo: bob@example.org\nSubject: hi\n"
                        "Date: Fri, 27 Nov 2026 10:00:00 +0000\nMessage-ID: <x@example.net>\n\nhello\n";
  CommandResult sign = run_command(kCli + " dkim sign --domain example.net --selector s1 --key " + key_file.string() +
                 " < " + msg.string() + " > " + signed_msg.string());
  ASSERT_EQ(sign.status, 0) << sign.out;
  CommandResult verify = run_command(kCli + " verify " + signed_msg.string() +
                   " --ip 192.0.2.7 --mail-from alice@example.net --helo mx.example.net" + dns());
  EXPECT_EQ(verify.status, 0) << verify.out;
  EXPECT_TRUE(verify.out.starts_with("Authentication-Results: ")) << verify.out;
  EXPECT_NE(verify.out.find("spf=pass"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("dkim=pass"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("header.d=example.net header.s=s1 header.a=rsa-sha256"), std::string::npos);
  EXPECT_NE(verify.out.find("dmarc=pass"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("action: accept"), std::string::npos) << verify.out;

  // The same message with a changed body, from an address outside SPF: refused, as the milter would.
  std::ostringstream text;
  text << std::ifstream(signed_msg).rdbuf();
  std::ofstream(signed_msg) << text.str() << "tampered\n";
  CommandResult bad = run_command(kCli + " verify " + signed_msg.string() +
                                  " --ip 198.51.100.1 --mail-from alice@example.net" + dns());
  EXPECT_NE(bad.out.find("dkim=fail"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("action: reject 550 5.7.1"), std::string::npos) << bad.out;
}

TEST_F(MailwardCli, Ed25519Keygen) {
  CommandResult key = run_command(kCli + " dkim keygen --domain example.net --selector e1 --type ed25519 --out " +
                dir_.string());
  ASSERT_EQ(key.status, 0) << key.out;
  EXPECT_NE(key.out.find("\"v=DKIM1; k=ed25519; p="), std::string::npos) << key.out;
}

TEST_F(MailwardCli, ConfigErrorsNameFileLineAndKey) {
  fs::path conf = dir_ / "bad.conf";
  std::ofstream(conf) << "[milter]\nauthserv_id = mx.example.net\nfail_mode = sometimes\n";
  CommandResult r = run_command(kCli + " config check --config " + conf.string());
  EXPECT_EQ(r.status, 78) << r.out;
  EXPECT_NE(r.out.find(conf.string() + ":3: [milter] fail_mode: 'sometimes' is not one of"),
            std::string::npos)
      << r.out;
  fs::path good = dir_ / "good.conf";
  std::ofstream(good) << "[milter]\nauthserv_id = mx.example.net\n[dmarc]\npsl_file = /nonexistent\n";
  CommandResult ok = run_command(kCli + " config check --config " + good.string());
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_TRUE(ok.out.starts_with("configuration OK: ")) << ok.out;
}

TEST_F(MailwardCli, UsageErrorsExit64) {
  EXPECT_EQ(run_command(kCli).status, 64);
  EXPECT_EQ(run_command(kCli + " spf --ip 192.0.2.1").status, 64);
  EXPECT_EQ(run_command(kCli + " spf --ip banana --mail-from a@b.example").status, 64);
  EXPECT_EQ(run_command(kCli + " frobnicate").status, 64);
  EXPECT_EQ(run_command(kCli + " dkim keygen --domain 'a b' --selector s").status, 64);
}

// `mailward spam` and `mailward notify` are dispatched to their own parsers: checked through the
// binary here (their logic has its own tests next to it).
TEST_F(MailwardCli, SpamLearnThenScorePrintsPathScoreLabel) {
  const fs::path spam = dir_ / "spam", ham = dir_ / "ham";
  fs::create_directories(spam);
  fs::create_directories(ham);
  for (int i = 0; i < 12; ++i) {
    std::ofstream(spam / ("s" + std::to_string(i))) << "From: deals" << i << "@offers.example\nSubject: cheap pills "
        << i << "\n\nbuy cheap pills now, discount pharmacy, limited offer " << i << "\n";
    std::ofstream(ham / ("h" + std::to_string(i))) << "From: colleague" << i << "@work.example\nSubject: meeting notes "
        << i << "\n\nthe project review moved to tuesday, agenda attached " << i << "\n";
  }
  const std::string state = " --state " + (dir_ / "model.mdb").string();
  CommandResult learn =
      run_command(kCli + " spam learn" + state + " --spam " + spam.string() + " --ham " + ham.string());
  ASSERT_EQ(learn.status, 0) << learn.out;
  const fs::path probe_spam = dir_ / "probe-spam", probe_ham = dir_ / "probe-ham";
  std::ofstream(probe_spam) << "From: x@offers.example\nSubject: cheap pills\n\ncheap pills discount pharmacy offer\n";
  std::ofstream(probe_ham) << "From: y@work.example\nSubject: meeting\n\nproject review agenda for tuesday\n";
  CommandResult score =
      run_command(kCli + " spam score" + state + " " + probe_spam.string() + " " + probe_ham.string());
  ASSERT_EQ(score.status, 0) << score.out;
  std::istringstream lines(score.out);  // stdout and stderr together: keep the result lines
  std::vector<std::string> results;
  for (std::string l; std::getline(lines, l);)
    if (std::count(l.begin(), l.end(), '\t') == 2) results.push_back(l);
  ASSERT_EQ(results.size(), 2u) << score.out;
  const std::string& l1 = results[0];
  const std::string& l2 = results[1];
  auto fields = [](const std::string& line) {
    std::vector<std::string> f;
    std::istringstream in(line);
    for (std::string x; std::getline(in, x, '\t');) f.push_back(x);
    return f;
  };
  auto f1 = fields(l1), f2 = fields(l2);
  ASSERT_EQ(f1.size(), 3u) << score.out;
  ASSERT_EQ(f2.size(), 3u) << score.out;
  EXPECT_EQ(f1[0], probe_spam.string());  // argument order kept
  EXPECT_EQ(f2[0], probe_ham.string());
  EXPECT_GT(std::stod(f1[1]), std::stod(f2[1])) << score.out;
  EXPECT_TRUE(f1[2] == "spam" || f1[2] == "ham");
  EXPECT_EQ(f2[2], "ham");
}

TEST_F(MailwardCli, NotifyQueueReadsTheSpoolFromTheConfig) {
  const fs::path spool = dir_ / "spool";
  fs::create_directories(spool);
  std::ofstream(dir_ / "n.conf") << "[notify]\nspool = " << spool.string()
                                 << "\n[target.phone]\nurl = https://ntfy.example/x\nformat = ntfy\nusers = *\n";
  CommandResult q = run_command(kCli + " notify queue --config " + (dir_ / "n.conf").string());
  EXPECT_EQ(q.status, 0) << q.out;
  EXPECT_NE(q.out.find("pending 0"), std::string::npos) << q.out;
  EXPECT_NE(run_command(kCli + " notify queue --config " + (dir_ / "missing.conf").string()).status, 0);
}

// One mailward.conf serves every part: `config check` accepts all their sections together and
// reports an error in any of them with file, line and key.
TEST_F(MailwardCli, ConfigCheckCoversEveryPartsSections) {
  std::ofstream(dir_ / "api.key") << "k3y\n";
  const std::string conf = "[milter]\nsocket = " + (dir_ / "m.sock").string() +
                           "\n[policy]\nchecks = relay, rate\nlocal_domains = example.org\n"
                           "limit = user messages 100/1h\n[auth-policy]\napi_key_file = " + (dir_ / "api.key").string() +
                           "\n[store]\nbackend = memory\n[notify]\nspool = " + (dir_ / "spool").string() +
                           "\n[target.phone]\nurl = https://ntfy.example/alerts\nformat = ntfy\nusers = *\n"
                           "[spam]\nrequired_score = 5\n";
  std::ofstream(dir_ / "all.conf") << conf;
  CommandResult ok = run_command(kCli + " config check --config " + (dir_ / "all.conf").string());
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find("also checked: policy, auth-policy, notify (1 targets)"), std::string::npos) << ok.out;

  std::string bad = conf;
  bad.replace(bad.find("100/1h"), 6, "100 per hour");
  std::ofstream(dir_ / "bad.conf") << bad;
  CommandResult err = run_command(kCli + " config check --config " + (dir_ / "bad.conf").string());
  EXPECT_EQ(err.status, 78) << err.out;
  EXPECT_NE(err.out.find("bad.conf:6: [policy] limit:"), std::string::npos) << err.out;

  std::string typo = conf;
  typo.replace(typo.find("format = ntfy"), 13, "fromat = ntfy");
  std::ofstream(dir_ / "typo.conf") << typo;
  CommandResult t = run_command(kCli + " config check --config " + (dir_ / "typo.conf").string());
  EXPECT_EQ(t.status, 78) << t.out;
  EXPECT_NE(t.out.find("[target.phone] fromat"), std::string::npos) << t.out;
}
