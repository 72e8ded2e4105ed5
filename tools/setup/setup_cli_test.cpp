// The real `mailward` binary: `mailward dns` prints zone lines, an in-process DNS server
// (common/dns/test_server.h) serves exactly those lines, and `mailward dns --check` accepts them
// (exit 0, every line ok); without the DMARC record the check says missing and exits 1. Also the
// help texts of the new subcommands.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "common/dns/test_server.h"
#include "common/util/text.h"

namespace fs = std::filesystem;
using namespace mailward::dns::testing;

namespace {

const std::string kCli = MAILWARD_CLI_PATH;

struct CommandResult {
  int status = -1;
  std::string out;
};

CommandResult run(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// A zone built from `NAME. IN TYPE VALUE` lines (MX, A, AAAA, TXT with quoted strings, PTR).
class Zone {
 public:
  Zone()
      : server_([this](const Query& q) {
          std::lock_guard lock(mutex_);
          std::string name = mailward::text::normalize_domain(q.name);
          auto it = records_.find({name, q.type});
          if (it == records_.end()) {
            bool exists = false;
            for (const auto& [key, v] : records_) exists = exists || key.first == name;
            return std::vector<Bytes>{reply_to(q, exists ? 0x8180 : 0x8183).bytes()};
          }
          PacketBuilder b = reply_to(q);
          for (const Bytes& rdata : it->second) b.record(PacketBuilder::answer, wire_name(name), q.type, 300, rdata);
          return std::vector<Bytes>{b.bytes()};
        }) {}

  // Returns false for a line it does not understand.
  bool add_line(const std::string& line) {
    std::istringstream in(line);
    std::string owner, klass, type;
    if (!(in >> owner >> klass >> type) || klass != "IN") return false;
    std::string name = mailward::text::normalize_domain(owner);
    std::string rest;
    std::getline(in, rest);
    rest = std::string(mailward::text::trim(rest));
    std::lock_guard lock(mutex_);
    if (type == "TXT") {
      std::vector<std::string> strings;
      for (std::size_t i = rest.find('"'); i != std::string::npos; i = rest.find('"', i + 1)) {
        std::size_t end = rest.find('"', i + 1);
        if (end == std::string::npos) return false;
        strings.push_back(rest.substr(i + 1, end - i - 1));
        i = end;
      }
      Bytes rdata;
      for (const std::string& s : strings) {
        rdata.push_back(static_cast<std::uint8_t>(s.size()));
        rdata.insert(rdata.end(), s.begin(), s.end());
      }
      records_[{name, 16}].push_back(rdata);
    } else if (type == "MX") {
      std::istringstream v(rest);
      unsigned pref = 0;
      std::string host;
      if (!(v >> pref >> host)) return false;
      records_[{name, 15}].push_back(mx_rdata(static_cast<std::uint16_t>(pref), wire_name(mailward::text::normalize_domain(host))));
    } else if (type == "A") {
      records_[{name, 1}].push_back(a_rdata(rest));
    } else if (type == "AAAA") {
      records_[{name, 28}].push_back(aaaa_rdata(rest));
    } else if (type == "PTR") {
      records_[{name, 12}].push_back(wire_name(mailward::text::normalize_domain(rest)));
    } else {
      return false;
    }
    return true;
  }
  void remove(const std::string& name, std::uint16_t type) {
    std::lock_guard lock(mutex_);
    records_.erase({name, type});
  }
  std::string server() const { return server_.address().to_string(); }

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::uint16_t>, std::vector<Bytes>> records_;
  FakeDnsServer server_;
};

class SetupCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mailward-setup-cli-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SetupCli, PrintedRecordsPassTheirOwnCheck) {
  for (const char* type : {"rsa", "ed25519"}) {
    CommandResult key = run(kCli + " dkim keygen --domain ex.example --selector " + type + " --type " + type +
                            " --out " + dir_.string());
    ASSERT_EQ(key.status, 0) << key.out;
  }
  fs::path conf = dir_ / "mailward.conf";
  std::ofstream(conf) << "[dkim-sign]\nkey = ex.example rsa " << (dir_ / "ex.example.rsa.key").string()
                      << "\nkey = ex.example ed25519 " << (dir_ / "ex.example.ed25519.key").string() << "\n";
  std::string args = " dns ex.example --mx mail.ex.example --ip 192.0.2.10 --ip 2001:db8::10 --tls-rpt --mta-sts"
                     " --report reports@ex.example --config " + conf.string();
  CommandResult printed = run(kCli + args);
  ASSERT_EQ(printed.status, 0) << printed.out;

  Zone zone;
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
  CommandResult check = run(kCli + args + " --check" + dns);
  EXPECT_EQ(check.status, 0) << check.out;
  EXPECT_EQ(std::count(check.out.begin(), check.out.end(), '\n'), 11) << check.out;
  std::istringstream checked(check.out);
  while (std::getline(checked, line)) EXPECT_TRUE(line.starts_with("ok      ")) << line;
  EXPECT_NE(check.out.find("ok      DKIM    ed25519._domainkey.ex.example  matches "), std::string::npos) << check.out;

  zone.remove("_dmarc.ex.example", 16);
  check = run(kCli + args + " --check" + dns);
  EXPECT_EQ(check.status, 1) << check.out;
  EXPECT_NE(check.out.find("missing DMARC   _dmarc.ex.example  no v=DMARC1 record\n"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("mailward dns: 1 of 11 records not ok\n"), std::string::npos) << check.out;
}

TEST_F(SetupCli, HelpAndUsage) {
  CommandResult help = run(kCli + " --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("  setup postfix [--apply] [--postfix-dir DIR]"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("  dns DOMAIN [--ip ADDR]..."), std::string::npos) << help.out;
  EXPECT_EQ(run(kCli + " setup --help").status, 0);
  EXPECT_EQ(run(kCli + " dns --help").status, 0);
  CommandResult bad = run(kCli + " dns");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("a DOMAIN is needed"), std::string::npos) << bad.out;
  EXPECT_EQ(run(kCli + " dns ex.example --ip 999.1.1.1").status, 2);
  EXPECT_EQ(run(kCli + " setup postfix --postfix-dir").status, 2);
  // A broken configuration names its line and exits 78.
  fs::path conf = dir_ / "bad.conf";
  std::ofstream(conf) << "[dkim-sign]\nkey = ex.example\n";
  CommandResult cfg = run(kCli + " dns ex.example --config " + conf.string());
  EXPECT_EQ(cfg.status, 78) << cfg.out;
  EXPECT_NE(cfg.out.find("bad.conf:2"), std::string::npos) << cfg.out;
}

}  // namespace
