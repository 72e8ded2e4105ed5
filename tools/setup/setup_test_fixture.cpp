// SetupCommandTest (setup_test_fixture.h).
#include "tools/setup/setup_test_fixture.h"

#include <sstream>

#include "tools/setup/process.h"
#include "tools/setup/setup_command.h"

namespace fs = std::filesystem;

namespace mailward::setup {

void SetupCommandTest::SetUp() {
  ASSERT_FALSE(root_.empty()) << "mkdtemp in /tmp failed";
  config_ = root_ / "mailward.conf";
}

int SetupCommandTest::run(const std::vector<std::string>& extra, std::string& out, std::string& err) {
  std::vector<std::string> args = command_args();
  args.insert(args.end(), extra.begin(), extra.end());
  std::ostringstream o, e;
  int status = run_setup_command(args, o, e);
  out = o.str();
  err = e.str();
  return status;
}

void SetupCommandTest::copy_debian_postfix(const fs::path& dir, const std::string& main_cf_tail) {
  for (const char* f : {"/usr/share/postfix/master.cf.dist", "/usr/share/postfix/main.cf.debian"})
    ASSERT_TRUE(fs::exists(f)) << f << " missing: the postfix package is needed (not skipping)";
  ASSERT_EQ(run_program({"postconf", "-d", "mail_version"}).status, 0) << "postconf missing (postfix package)";
  fs::create_directories(dir);
  fs::copy_file("/usr/share/postfix/master.cf.dist", dir / "master.cf");
  write_file(dir / "main.cf", read_file("/usr/share/postfix/main.cf.debian") + main_cf_tail);
}

void SetupCommandTest::copy_debian_dovecot(const fs::path& dir) {
  ASSERT_TRUE(fs::exists("/etc/dovecot/dovecot.conf")) << "Debian's dovecot-core is needed (not skipping)";
  ASSERT_EQ(run_program({"doveconf", "-c", "/etc/dovecot/dovecot.conf", "-h", "protocols"}).status, 0)
      << "doveconf missing or the stock configuration does not parse";
  fs::copy("/etc/dovecot", dir, fs::copy_options::recursive);
}

}  // namespace mailward::setup
