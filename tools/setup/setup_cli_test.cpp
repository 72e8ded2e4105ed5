// The real `mailward` binary: `mailward dns` prints zone lines, an in-process DNS server
// (common/dns/test_server.h) serves exactly those lines, and `mailward dns --check` accepts them
// (exit 0, every line ok); without the DMARC record the check says missing and exits 1. Also the
// help texts of the new subcommands.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/command.h"
#include "tests/support/dns_zone.h"
#include "tests/support/temp_dir_test.h"

namespace fs = std::filesystem;
using namespace mailward::test_support;  // run_command, DnsZone, TempDirTest

namespace {

const std::string kCli = MAILWARD_CLI_PATH;

class SetupCli : public TempDirTest {
 protected:
  SetupCli() : TempDirTest("mailward-setup-cli") {}
};

TEST_F(SetupCli, PrintedRecordsPassTheirOwnCheck) {
  for (const char* type : {"rsa", "ed25519"}) {
    CommandResult key = run_command(kCli + " dkim keygen --domain ex.example --selector " + type + " --type " + type +
                            " --out " + dir_.string());
    ASSERT_EQ(key.status, 0) << key.out;
  }
  fs::path conf = dir_ / "mailward.conf";
  std::ofstream(conf) << "[dkim-sign]\nkey = ex.example rsa " << (dir_ / "ex.example.rsa.key").string()
                      << "\nkey = ex.example ed25519 " << (dir_ / "ex.example.ed25519.key").string() << "\n";
  std::string args = " dns ex.example --mx mail.ex.example --ip 192.0.2.10 --ip 2001:db8::10 --tls-rpt --mta-sts"
                     " --report reports@ex.example --config " + conf.string();
  CommandResult printed = run_command(kCli + args);
  ASSERT_EQ(printed.status, 0) << printed.out;

  DnsZone zone;
  int added = 0;
  std::istringstream lines(printed.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("; ") && line.find(" IN PTR ") != std::string::npos) line = line.substr(2);  // the hint
    if (line.empty() || line.front() == ';') continue;
    ASSERT_TRUE(zone.add_line(line)) << line;
    ++added;
  }
  // MX, A, AAAA, SPF, 2 DKIM, DMARC, MTA-STS, TLS-RPT and the 2 PTR hints.
  EXPECT_EQ(added, 11) << printed.out;

  std::string dns = " --dns-server " + zone.server() + " --dns-timeout 2";
  CommandResult check = run_command(kCli + args + " --check" + dns);
  EXPECT_EQ(check.status, 0) << check.out;
  EXPECT_EQ(std::count(check.out.begin(), check.out.end(), '\n'), 11) << check.out;
  std::istringstream checked(check.out);
  while (std::getline(checked, line)) EXPECT_TRUE(line.starts_with("ok      ")) << line;
  EXPECT_NE(check.out.find("ok      DKIM    ed25519._domainkey.ex.example  matches "), std::string::npos) << check.out;

  zone.remove("_dmarc.ex.example", mailward::dns::RecordType::txt);
  check = run_command(kCli + args + " --check" + dns);
  EXPECT_EQ(check.status, 1) << check.out;
  EXPECT_NE(check.out.find("missing DMARC   _dmarc.ex.example  no v=DMARC1 record\n"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("mailward dns: 1 of 11 records not ok\n"), std::string::npos) << check.out;
}

TEST_F(SetupCli, HelpAndUsage) {
  CommandResult help = run_command(kCli + " --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("  setup postfix [--apply] [--postfix-dir DIR]"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("  dns DOMAIN [--ip ADDR]..."), std::string::npos) << help.out;
  EXPECT_EQ(run_command(kCli + " setup --help").status, 0);
  EXPECT_EQ(run_command(kCli + " dns --help").status, 0);
  CommandResult bad = run_command(kCli + " dns");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("a DOMAIN is needed"), std::string::npos) << bad.out;
  EXPECT_EQ(run_command(kCli + " dns ex.example --ip 999.1.1.1").status, 2);
  EXPECT_EQ(run_command(kCli + " setup postfix --postfix-dir").status, 2);
  // A broken configuration names its line and exits 78.
  fs::path conf = dir_ / "bad.conf";
  std::ofstream(conf) << "[dkim-sign]\nkey = ex.example\n";
  CommandResult cfg = run_command(kCli + " dns ex.example --config " + conf.string());
  EXPECT_EQ(cfg.status, 78) << cfg.out;
  EXPECT_NE(cfg.out.find("bad.conf:2"), std::string::npos) << cfg.out;
}

}  // namespace
