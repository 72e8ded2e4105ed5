// Tests for the daemons' shared command line.
#include "common/util/daemon_cli.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace mailward::util {
namespace {

const DaemonHelp kHelp{"mailward-test", "Does test things.", "validate, then exit",
                       "signals: SIGTERM stops."};

struct Parsed {
  std::optional<int> status;
  DaemonArgs args;
  std::string out, err;
};

Parsed parse(const std::vector<const char*>& rest) {
  std::vector<const char*> argv{"mailward-test"};
  for (const char* a : rest) argv.push_back(a);
  Parsed r;
  std::ostringstream out, err;
  r.status = parse_daemon_args(static_cast<int>(argv.size()), argv.data(), kHelp, r.args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(DaemonCli, DefaultsWhenNoArguments) {
  Parsed r = parse({});
  EXPECT_FALSE(r.status.has_value());
  EXPECT_EQ(r.args.config_path, "/etc/mailward/mailward.conf");
  EXPECT_FALSE(r.args.check_only);
}

TEST(DaemonCli, ConfigAndCheckInEverySpelling) {
  for (auto argv : std::vector<std::vector<const char*>>{{"--config", "/x.conf", "--check"},
                                                         {"-c", "/x.conf", "--check"},
                                                         {"--check", "--config=/x.conf"},
                                                         {"--foreground", "-c", "/x.conf", "--check"}}) {
    Parsed r = parse(argv);
    EXPECT_FALSE(r.status.has_value()) << r.err;
    EXPECT_EQ(r.args.config_path, "/x.conf");
    EXPECT_TRUE(r.args.check_only);
  }
}

TEST(DaemonCli, HelpIsCompleteAndGoesToStdout) {
  Parsed r = parse({"--help"});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  for (const char* want : {"usage: mailward-test [--config FILE] [--check]", "Does test things.",
                           "--check                 validate, then exit", "signals: SIGTERM stops.",
                           "/etc/mailward/mailward.conf", "exit status: 0 ok; 64", "78 configuration"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
}

TEST(DaemonCli, VersionPrintsNameAndVersion) {
  Parsed r = parse({"--version"});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("mailward-test ", 0), 0u) << r.out;
}

TEST(DaemonCli, BadArgumentsAreUsageErrors) {
  for (auto argv : std::vector<std::vector<const char*>>{{"--bogus"}, {"--config"}, {"-c"},
                                                         {"--config="}, {"extra"}}) {
    Parsed r = parse(argv);
    EXPECT_EQ(r.status, kExitUsage) << argv[0];
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("mailward-test: "), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace mailward::util
