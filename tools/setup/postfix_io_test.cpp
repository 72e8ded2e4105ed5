// `mailward setup postfix` against the real postconf on a Postfix directory made in a temporary
// directory from Debian's own templates (never /etc/postfix): dry run, --apply, backups, the values
// postconf reads back, and a second run that has nothing to change.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/setup/postfix_io.h"
#include "tools/setup/process.h"
#include "tools/setup/setup_command.h"
#include "tools/setup/setup_test_fixture.h"

namespace fs = std::filesystem;

namespace mailward::setup {
namespace {

std::string postconf(const fs::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"postconf", "-c", dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProgramResult r = run_program(argv);
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

class SetupPostfixTest : public SetupCommandTest {
 protected:
  SetupPostfixTest() : SetupCommandTest("mailward-setup-postfix") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetupCommandTest::SetUp());
    dir_ = root_ / "postfix";
    ASSERT_NO_FATAL_FAILURE(copy_debian_postfix(dir_, "myhostname = mx.ex.org\n"
                                                      "smtpd_relay_restrictions = permit_mynetworks "
                                                      "permit_sasl_authenticated defer_unauth_destination\n"
                                                      "smtpd_milters = inet:127.0.0.1:8891\n"));
    // Submission enabled with its own relay restrictions, as Debian's commented example has it.
    std::ofstream(dir_ / "master.cf", std::ios::app)
        << "submission inet n       -       y       -       -       smtpd\n"
           "  -o syslog_name=postfix/submission\n"
           "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n";
    write_file(config_,
               "[policy]\n"
               "checks = relay, route\n"
               "local_domains = ex.org\n"
               "socketmap_socket = /var/spool/postfix/mailward/socketmap.sock\n"
               "route_fallback = [relay.example]:587\n");
  }
  std::vector<std::string> command_args() const override {
    return {"postfix", "--postfix-dir", dir_.string(), "--config", config_.string()};
  }

  fs::path dir_;
};

TEST_F(SetupPostfixTest, DryRunApplyAndIdempotence) {
  std::string main_before = read_file(dir_ / "main.cf");
  std::string master_before = read_file(dir_ / "master.cf");
  std::string out, err;
  ASSERT_EQ(run({}, out, err), 0) << err;
  // The dry run prints the postconf commands and changes nothing.
  std::string d = dir_.string();
  EXPECT_NE(out.find("postconf -c " + d +
                     " -e 'smtpd_milters = inet:127.0.0.1:8891, unix:mailward/milter.sock'\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("#   was: inet:127.0.0.1:8891\n"), std::string::npos) << out;
  EXPECT_NE(out.find("postconf -c " + d + " -P submission/inet/smtpd_relay_restrictions=check_policy_service,"
                                          "unix:mailward/policy.sock,permit_sasl_authenticated,reject\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("5 changes to make; run again with --apply to make them\n"), std::string::npos) << out;
  EXPECT_EQ(read_file(dir_ / "main.cf"), main_before);
  EXPECT_EQ(read_file(dir_ / "master.cf"), master_before);

  ASSERT_EQ(run({"--apply"}, out, err), 0) << err << out;
  EXPECT_NE(out.find("applied 5 changes; reload Postfix to use them: postfix -c " + d + " reload\n"),
            std::string::npos)
      << out;
  // What Postfix itself now reads.
  EXPECT_EQ(postconf(dir_, {"smtpd_milters", "non_smtpd_milters", "milter_default_action", "milter_protocol",
                            "smtpd_relay_restrictions", "sender_dependent_relayhost_maps"}),
            "smtpd_milters = inet:127.0.0.1:8891, unix:mailward/milter.sock\n"
            "non_smtpd_milters = unix:mailward/milter.sock\n"
            "milter_default_action = tempfail\n"
            "milter_protocol = 6\n"
            "smtpd_relay_restrictions = check_policy_service unix:mailward/policy.sock, permit_mynetworks, "
            "permit_sasl_authenticated, defer_unauth_destination\n"
            "sender_dependent_relayhost_maps = socketmap:unix:mailward/socketmap.sock:relayhost\n");
  EXPECT_EQ(postconf(dir_, {"-P", "submission/inet/smtpd_relay_restrictions"}),
            "submission/inet/smtpd_relay_restrictions = "
            "check_policy_service,unix:mailward/policy.sock,permit_sasl_authenticated,reject\n");
  // One backup of each file, identical to the original.
  int main_backups = 0, master_backups = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("main.cf.mailward-")) {
      ++main_backups;
      EXPECT_EQ(read_file(entry.path()), main_before);
    }
    if (name.starts_with("master.cf.mailward-")) {
      ++master_backups;
      EXPECT_EQ(read_file(entry.path()), master_before);
    }
  }
  EXPECT_EQ(main_backups, 1);
  EXPECT_EQ(master_backups, 1);
  // `postfix check`-like sanity: postconf -n still parses the result without warnings.
  ProgramResult check = run_program({"postconf", "-c", d, "-n"});
  EXPECT_EQ(check.status, 0);
  EXPECT_EQ(check.err, "");

  // Second run: nothing to change, no new backup.
  std::string main_after = read_file(dir_ / "main.cf");
  ASSERT_EQ(run({"--apply"}, out, err), 0) << err;
  EXPECT_NE(out.find("nothing to change: " + d + " already has mailward's settings\n"), std::string::npos) << out;
  EXPECT_EQ(read_file(dir_ / "main.cf"), main_after);
  int backups = 0;
  for (const auto& entry : fs::directory_iterator(dir_))
    backups += entry.path().filename().string().find(".mailward-") != std::string::npos;
  EXPECT_EQ(backups, 2);
}

TEST_F(SetupPostfixTest, RefusesAMilterSocketOutsideTheQueueDirectory) {
  write_file(config_, "[milter]\nsocket = /run/mailward/milter.sock\n");
  std::string main_before = read_file(dir_ / "main.cf");
  std::string out, err;
  EXPECT_EQ(run({"--apply"}, out, err), kExitFailed);
  EXPECT_NE(err.find("refused: mailward-milter's socket /run/mailward/milter.sock"), std::string::npos) << err;
  EXPECT_EQ(read_file(dir_ / "main.cf"), main_before);
}

TEST_F(SetupPostfixTest, ErrorsAndUsage) {
  std::string out, err;
  write_file(config_, "[milter]\nbogus = 1\n");
  EXPECT_EQ(run({}, out, err), kExitConfig);
  EXPECT_NE(err.find("mailward.conf:2"), std::string::npos) << err;
  fs::remove(dir_ / "main.cf");
  write_file(config_, "");
  EXPECT_EQ(run({}, out, err), kExitFailed);
  EXPECT_NE(err.find("/main.cf does not exist"), std::string::npos) << err;
  std::ostringstream o, e;
  EXPECT_EQ(run_setup_command({"postfix", "--bogus"}, o, e), kExitUsage);
  EXPECT_NE(e.str().find("unknown option --bogus"), std::string::npos);
  EXPECT_EQ(run_setup_command({"sendmail"}, o, e), kExitUsage);
  EXPECT_EQ(run_setup_command({}, o, e), kExitUsage);
}

}  // namespace
}  // namespace mailward::setup
