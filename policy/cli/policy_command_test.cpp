// Tests for `mailward policy check|test|route` (run_policy_command).
#include "policy/cli/policy_command.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mailward::policy {
namespace {

class PolicyCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mw-policy-cmd-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "senders") << "alice@ex.org alice@ex.org\nsales@ex.org alice@ex.org\n";
    config_ = (dir_ / "m.conf").string();
    std::ofstream(config_) << "[policy]\nchecks = relay, sender, rate, route\n"
                              "local_domains = ex.org\nsender_map = "
                           << (dir_ / "senders").string()
                           << "\nlimit = user messages 10/1h\nsocketmap_socket = /tmp/x\n"
                              "route_sender_domain = ex.org [relay.example]:587\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  int run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return run_policy_command(args, out_, err_);
  }
  std::filesystem::path dir_;
  std::string config_;
  std::ostringstream out_, err_;
};

TEST_F(PolicyCommand, Check) {
  EXPECT_EQ(run({"check", "--config", config_}), 0);
  EXPECT_EQ(out_.str(), "policy configuration OK: " + config_ +
                            " (4 checks, 1 limits, 2 sender map entries)\n");
  std::ofstream(config_, std::ios::app) << "bogus = 1\n";
  EXPECT_EQ(run({"check", "--config", config_}), 78);
  EXPECT_NE(err_.str().find("m.conf:8: [policy] bogus: unknown key"), std::string::npos) << err_.str();
}

TEST_F(PolicyCommand, Test) {
  struct Case {
    std::vector<std::string> attributes;
    std::string output;
  };
  const std::vector<Case> cases = {
      {{"sasl_username=alice@ex.org", "sender=sales@ex.org", "recipient=x@remote.example",
        "client_address=192.0.2.1"},
       "action=DUNNO\nreason: passed relay, sender, rate\n"},
      {{"sasl_username=alice@ex.org", "sender=bob@ex.org", "recipient=x@remote.example"},
       "action=553 5.7.1 <bob@ex.org>: not owned by user alice@ex.org\ncheck: sender\n"
       "reason: sender not mapped to this user in the sender map\n"},
      {{"client_address=192.0.2.1", "recipient=x@remote.example"},
       "action=554 5.7.1 <x@remote.example>: Relay access denied\ncheck: relay\nreason: recipient "
       "domain remote.example is not local, client neither authenticated nor trusted\n"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"test", "--config", config_};
    args.insert(args.end(), c.attributes.begin(), c.attributes.end());
    EXPECT_EQ(run(args), 0) << err_.str();
    EXPECT_EQ(out_.str(), c.output);
  }
  EXPECT_EQ(run({"test", "--config", config_, "sender"}), 64);
  EXPECT_EQ(run({"test", "--config", config_, "bad name=x"}), 64);
}

TEST_F(PolicyCommand, RouteAndUsage) {
  EXPECT_EQ(run({"route", "--config", config_, "relayhost", "alice@ex.org"}), 0);
  EXPECT_EQ(out_.str(), "OK [relay.example]:587\n");
  EXPECT_EQ(run({"route", "--config", config_, "transport", "x@other.example"}), 0);
  EXPECT_EQ(out_.str(), "NOTFOUND \n");
  EXPECT_EQ(run({}), 64);
  EXPECT_EQ(run({"frobnicate"}), 64);
  EXPECT_EQ(run({"route", "--config", config_, "relayhost"}), 64);
  EXPECT_EQ(run({"check", "--config", "/nonexistent.conf"}), 78);
}

}  // namespace
}  // namespace mailward::policy
