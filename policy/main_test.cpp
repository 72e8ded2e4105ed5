// mailward-policyd's command line through the real binary: --check accepts a good configuration and
// refuses bad ones with the exit status and a message naming file and line; bad arguments are usage
// errors.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

struct RunResult {
  int status;
  std::string output;
};

RunResult run(const std::string& args) {
  std::string cmd = std::string(MAILWARD_POLICYD) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof(buf), p)) out += buf;
  int rc = p ? pclose(p) : -1;
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

class PolicydCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mw-policyd-cli-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "senders") << "alice@ex.org alice@ex.org\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write_config(const std::string& text) {
    std::string path = (dir_ / "p.conf").string();
    std::ofstream(path) << text;
    return path;
  }
  std::string base() const {
    return "[store]\nbackend = memory\n[policy]\nchecks = relay, sender, rate\n"
           "local_domains = ex.org\nsender_map = " + (dir_ / "senders").string() +
           "\nlimit = user messages 10/1h\n";
  }
  std::filesystem::path dir_;
};

TEST_F(PolicydCli, CheckAcceptsGoodConfiguration) {
  RunResult r = run("--config " + write_config(base()) + " --check");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("configuration OK"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 sender map entries"), std::string::npos) << r.output;
}

TEST_F(PolicydCli, CheckRefusesBadConfigurations) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {base() + "limt = user messages 1/1h\n", "p.conf:8: [policy] limt: unknown key"},
      {base() + "limit = user messages 1/1w\n", "p.conf:8: [policy] limit: window must end in s, m, h or d"},
      {"[policy]\nchecks = sender\nsender_map = /nonexistent/senders\n",
       "cannot read sender map /nonexistent/senders"},
      {"[store]\nbackend = floppy\n[policy]\nchecks = rate\nlimit = user messages 1/1h\n",
       "p.conf:2: [store] backend"},
  };
  for (const auto& [text, expected] : cases) {
    RunResult r = run("--config " + write_config(text) + " --check");
    EXPECT_EQ(r.status, 78) << text << r.output;  // EX_CONFIG
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  }
}

// --check opens no store: run as root it would otherwise create an embedded store file owned by
// root that the daemon, running as its own user, could not open afterwards.
TEST_F(PolicydCli, CheckCreatesNoStoreFile) {
  const std::filesystem::path mdb = dir_ / "state.mdb";
  RunResult r = run("--config " +
                    write_config("[store]\nbackend = embedded\npath = " + mdb.string() +
                                 "\n[policy]\nchecks = rate\nlimit = user messages 10/1h\n") +
                    " --check");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("store lmdb:" + mdb.string()), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(mdb)) << "--check created " << mdb;
}

TEST_F(PolicydCli, Usage) {
  EXPECT_EQ(run("--bogus").status, 64);
  RunResult h = run("--help");
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.output.find("usage: mailward-policyd"), std::string::npos);
  EXPECT_EQ(run("--config /nonexistent/mailward.conf --check").status, 78);
}

}  // namespace
