// Tests of `mailward spam learn|score` through run_spam_command: output format, argument order,
// mbox / Maildir / directory reading, ledger (learning twice), --forget, per-user, default state
// location, errors for unreadable paths and usage.
#include "tools/spam_command.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

namespace mailward {
namespace {

namespace fs = std::filesystem;

struct CmdRun {
  int rc;
  std::string out, err;
};

CmdRun spam(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int rc = run_spam_command(args, out, err);
  return {rc, out.str(), err.str()};
}

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string message(const std::string& subject, const std::string& body) {
  return "From: someone@example.org\nTo: user@example.net\nSubject: " + subject +
         "\nMessage-ID: <" + std::to_string(std::hash<std::string>{}(subject + body)) +
         "@example.org>\n\n" + body + "\n";
}

std::string ham_text(int i) {
  return message("meeting notes " + std::to_string(i),
                 "Hello team, the project meeting agenda for thursday is attached. Please review "
                 "the quarterly budget figures and the release schedule before the meeting. "
                 "Regards, Martin. Item " + std::to_string(i * 7919));
}
std::string spam_text(int i) {
  return message("cheap pills offer " + std::to_string(i),
                 "Buy cheap viagra pills now! Limited offer, click here for free casino bonus "
                 "money and lottery winnings. Unsubscribe anytime. Code " + std::to_string(i * 104729));
}

class SpamCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mw-spamcmd-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    state_ = (dir_ / "state.mdb").string();
    // ham as a Maildir (cur/ and new/), spam as one mbox file with 12 messages
    for (int i = 0; i < 12; ++i) {
      write(dir_ / "ham" / (i % 2 ? "cur" : "new") / ("m" + std::to_string(i)), ham_text(i));
    }
    std::string mbox;
    for (int i = 0; i < 12; ++i) {
      mbox += "From spammer@example.com Thu Jan  1 00:00:00 2004\n" + spam_text(i) + "\n";
    }
    write(dir_ / "spam.mbox", mbox);
    write(dir_ / "q" / "ham.eml", ham_text(100));
    write(dir_ / "q" / "spam.eml", "From x@y Sat Jan  3 01:05:34 2004\n" + spam_text(100));
    write(dir_ / "q" / "gtube.eml",
          message("test", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"));
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string state_;
};

TEST(SplitMbox, Table) {
  struct Case { std::string in; std::vector<std::string> out; } cases[] = {
      {"Subject: a\n\nbody\n", {"Subject: a\n\nbody\n"}},
      {"From a@b Mon\nSubject: a\n\nx\n", {"Subject: a\n\nx\n"}},
      {"From a@b Mon\nSubject: a\n\nx\n\nFrom c@d Tue\nSubject: b\n\ny\n",
       {"Subject: a\n\nx\n\n", "Subject: b\n\ny\n"}},
      // a body line "From " not after an empty line, and an escaped one, are not separators
      {"From a@b Mon\nSubject: a\n\nx\nFrom here on\n\n>From there\n",
       {"Subject: a\n\nx\nFrom here on\n\n>From there\n"}},
      {"From a@b Mon\r\nSubject: a\r\n\r\nx\r\n\r\nFrom c@d\r\nS: b\r\n\r\ny\r\n",
       {"Subject: a\r\n\r\nx\r\n\r\n", "S: b\r\n\r\ny\r\n"}},
      {"From a@b Mon\n", {}},
  };
  for (const auto& c : cases) EXPECT_EQ(split_mbox(c.in), c.out) << c.in;
}

TEST_F(SpamCommand, LearnThenScoreFormatAndOrder) {
  CmdRun l = spam({"learn", "--state", state_, "--spam", (dir_ / "spam.mbox").string(), "--ham",
                (dir_ / "ham").string()});
  ASSERT_EQ(l.rc, 0) << l.err;
  EXPECT_NE(l.out.find("learned: 12 spam, 12 ham"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("12 spam, 12 ham messages"), std::string::npos) << l.out;
  std::string q = (dir_ / "q").string();
  CmdRun s = spam({"score", "--state", state_, q + "/spam.eml", q + "/ham.eml", q + "/gtube.eml"});
  ASSERT_EQ(s.rc, 0) << s.err;
  std::istringstream lines(s.out);
  std::string line;
  std::vector<std::string> got;
  while (std::getline(lines, line)) got.push_back(line);
  ASSERT_EQ(got.size(), 3u) << s.out;
  std::regex re("^(.*)\t(-?[0-9]+\\.[0-9])\t(spam|ham)$");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(got[0], m, re)) << got[0];
  EXPECT_EQ(m[1], q + "/spam.eml");
  EXPECT_EQ(m[3], "spam");
  EXPECT_GE(std::stod(m[2]), 5.0);
  ASSERT_TRUE(std::regex_match(got[1], m, re)) << got[1];
  EXPECT_EQ(m[1], q + "/ham.eml");
  EXPECT_EQ(m[3], "ham");
  EXPECT_LT(std::stod(m[2]), 5.0);
  ASSERT_TRUE(std::regex_match(got[2], m, re)) << got[2];
  EXPECT_EQ(m[3], "spam");
  EXPECT_GE(std::stod(m[2]), 1000.0);
}

TEST_F(SpamCommand, LearningTwiceCountsOnceAndForgetRemoves) {
  ASSERT_EQ(spam({"learn", "--state", state_, "--ham", (dir_ / "ham").string()}).rc, 0);
  CmdRun again = spam({"learn", "--state", state_, "--ham", (dir_ / "ham").string()});
  EXPECT_EQ(again.rc, 0);
  EXPECT_NE(again.out.find("learned: 0 spam, 0 ham (moved from the other class: 0); already known: 12"),
            std::string::npos) << again.out;
  CmdRun moved = spam({"learn", "--state", state_, "--spam", (dir_ / "ham" / "cur").string()});
  EXPECT_NE(moved.out.find("learned: 6 spam, 0 ham (moved from the other class: 6)"),
            std::string::npos) << moved.out;
  CmdRun forget = spam({"learn", "--state", state_, "--forget", "--ham", (dir_ / "ham").string()});
  EXPECT_EQ(forget.rc, 0);
  EXPECT_NE(forget.out.find("forgotten: 12; not learned before: 0; model global: 0 spam, 0 ham"),
            std::string::npos) << forget.out;
}

TEST_F(SpamCommand, BatchSizeDoesNotChangeWhatIsLearned) {
  // 12 spam in batches of 5 (commits after 5, 10 and at the end), 12 ham in one batch.
  CmdRun a = spam({"learn", "--state", state_, "--batch", "5", "--spam",
                   (dir_ / "spam.mbox").string(), "--ham", (dir_ / "ham").string()});
  ASSERT_EQ(a.rc, 0) << a.err;
  EXPECT_NE(a.out.find("learned: 12 spam, 12 ham (moved from the other class: 0); already known: 0; "
                       "model global: 12 spam, 12 ham messages"),
            std::string::npos) << a.out;
  std::string other = (dir_ / "other.mdb").string();
  ASSERT_EQ(spam({"learn", "--state", other, "--batch", "1", "--spam", (dir_ / "spam.mbox").string(),
                  "--ham", (dir_ / "ham").string()}).rc, 0);
  std::string q = (dir_ / "q").string();
  CmdRun s1 = spam({"score", "--state", state_, q + "/spam.eml", q + "/ham.eml"});
  CmdRun s2 = spam({"score", "--state", other, q + "/spam.eml", q + "/ham.eml"});
  ASSERT_EQ(s1.rc, 0) << s1.err;
  EXPECT_EQ(s1.out, s2.out);
  // The same message twice within one batch counts once.
  std::string mbox = "From a@b Thu Jan  1 00:00:00 2004\n" + spam_text(500) +
                     "\nFrom a@b Thu Jan  1 00:00:00 2004\n" + spam_text(500) + "\n";
  write(dir_ / "dup.mbox", mbox);
  CmdRun d = spam({"learn", "--state", state_, "--spam", (dir_ / "dup.mbox").string()});
  EXPECT_NE(d.out.find("learned: 1 spam, 0 ham (moved from the other class: 0); already known: 1"),
            std::string::npos) << d.out;
  for (const char* bad : {"0", "x", "-3", ""}) {
    CmdRun b = spam({"learn", "--state", state_, "--batch", bad, "--spam", (dir_ / "spam.mbox").string()});
    EXPECT_EQ(b.rc, 2) << bad;
    EXPECT_NE(b.err.find("--batch needs a number"), std::string::npos) << b.err;
  }
}

TEST_F(SpamCommand, LearnsFromStandardInput) {
  std::istringstream in(spam_text(7));
  std::streambuf* saved = std::cin.rdbuf(in.rdbuf());
  CmdRun l = spam({"learn", "--state", state_, "--user", "bob@example.net", "--spam", "-"});
  std::cin.rdbuf(saved);
  EXPECT_EQ(l.rc, 0) << l.err;
  EXPECT_NE(l.out.find("learned: 1 spam, 0 ham"), std::string::npos) << l.out;
}

TEST_F(SpamCommand, PerUserLearning) {
  CmdRun l = spam({"learn", "--state", state_, "--user", "alice@example.net", "--spam",
                (dir_ / "spam.mbox").string()});
  ASSERT_EQ(l.rc, 0) << l.err;
  EXPECT_NE(l.out.find("model user alice@example.net: 12 spam, 0 ham"), std::string::npos) << l.out;
  EXPECT_EQ(spam({"learn", "--state", state_, "--user", "bad user", "--spam", "x"}).rc, 2);
}

TEST_F(SpamCommand, UntrainedScoresZeroAndSaysWhy) {
  CmdRun s = spam({"score", "--state", state_, (dir_ / "q" / "ham.eml").string()});
  EXPECT_EQ(s.rc, 0);
  // Only the rules speak (no Bayes contribution): whatever they give, the line is well formed.
  EXPECT_TRUE(std::regex_match(s.out, std::regex("^" + (dir_ / "q" / "ham.eml").string() +
                                                 "\t-?[0-9]+\\.[0-9]\tham\n$")))
      << s.out;
  EXPECT_NE(s.err.find("not enough learned: 0 spam, 0 ham"), std::string::npos) << s.err;
}

TEST_F(SpamCommand, UnreadablePathsAreErrors) {
  std::string missing = (dir_ / "missing.eml").string();
  CmdRun s = spam({"score", "--state", state_, missing, (dir_ / "q" / "ham.eml").string()});
  EXPECT_EQ(s.rc, 1);
  EXPECT_NE(s.err.find(missing), std::string::npos) << s.err;
  // The readable file is still scored.
  EXPECT_EQ(s.out.rfind((dir_ / "q" / "ham.eml").string() + "\t", 0), 0u) << s.out;
  CmdRun l = spam({"learn", "--state", state_, "--spam", missing});
  EXPECT_EQ(l.rc, 1);
  EXPECT_NE(l.err.find("missing.eml"), std::string::npos) << l.err;
}

TEST_F(SpamCommand, Usage) {
  EXPECT_EQ(spam({}).rc, 2);
  EXPECT_EQ(spam({"frobnicate"}).rc, 2);
  EXPECT_EQ(spam({"learn"}).rc, 2);
  EXPECT_EQ(spam({"learn", "somepath"}).rc, 2);  // no --spam/--ham before it
  EXPECT_EQ(spam({"learn", "--bogus"}).rc, 2);
  EXPECT_EQ(spam({"score"}).rc, 2);
  EXPECT_EQ(spam({"score", "--state"}).rc, 2);
  CmdRun bad = spam({"score", "--config", (dir_ / "nope.conf").string(), "x"});
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.err.find("nope.conf"), std::string::npos) << bad.err;
}

TEST_F(SpamCommand, DefaultStateDirFromEnvironment) {
  if (fs::exists("/etc/mailward/mailward.conf")) {
    GTEST_SKIP() << "/etc/mailward/mailward.conf exists: the default would be that configuration";
  }
  std::string state_dir = (dir_ / "var" / "lib" / "mailward").string();
  ::setenv("MAILWARD_STATE_DIR", state_dir.c_str(), 1);
  CmdRun l = spam({"learn", "--spam", (dir_ / "spam.mbox").string(), "--ham", (dir_ / "ham").string()});
  CmdRun s = spam({"score", (dir_ / "q" / "spam.eml").string()});
  ::unsetenv("MAILWARD_STATE_DIR");
  ASSERT_EQ(l.rc, 0) << l.err;
  EXPECT_TRUE(fs::exists(state_dir + "/bayes.mdb"));
  EXPECT_EQ((fs::status(state_dir).permissions() & fs::perms::all), fs::perms::owner_all);
  ASSERT_EQ(s.rc, 0) << s.err;
  EXPECT_NE(s.out.find("\tspam\n"), std::string::npos) << s.out;
}

}  // namespace
}  // namespace mailward
