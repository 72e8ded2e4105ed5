// `mailward setup dovecot`: the rendered file (pure), the auth-policy URL, and the command against a
// temporary copy of Debian's /etc/dovecot checked by the real doveconf (never /etc/dovecot itself):
// dry run, --apply, secrets 0600, idempotence, backup of a changed file, and a refused result put back.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "tools/setup/dovecot_conf.h"
#include "tools/setup/process.h"
#include "tools/setup/setup_command.h"
#include "tools/setup/setup_test_fixture.h"

namespace fs = std::filesystem;

namespace mailward::setup {
namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

TEST(DovecotConf, MergesPluginListsAndSectionsByInput) {
  DovecotInputs in;
  in.mailward_config = "/etc/mailward/mailward.conf";
  std::string t = render_dovecot_conf(in);
  EXPECT_TRUE(contains(t, "protocol lmtp {\n  mail_plugins = $mail_plugins sieve\n}\n"));
  EXPECT_TRUE(contains(t, "protocol lda {\n  mail_plugins = $mail_plugins sieve\n}\n"));
  EXPECT_TRUE(contains(t, "  sieve_plugins = sieve_mailward\n"));
  EXPECT_TRUE(contains(t, "  sieve_extensions = +vnd.mailward.webhook\n"));
  EXPECT_FALSE(contains(t, "sieve_global_extensions")) << t;  // would restrict the webhook to global scripts
  EXPECT_FALSE(contains(t, "mailward_config"));  // the default path needs no setting
  EXPECT_FALSE(contains(t, "imapsieve"));
  EXPECT_FALSE(contains(t, "auth_policy_server_url"));

  in.mailward_config = "/srv/mw.conf";
  in.current_sieve_plugins = {"sieve_extprograms", "sieve_mailward"};
  in.current_sieve_extensions = {"+editheader"};
  in.imapsieve = true;
  in.imapsieve_dir = "/usr/lib/mailward/imapsieve";
  in.auth_policy_url = "http://127.0.0.1:8099/";
  in.api_header_file = "/etc/mailward/h";
  in.nonce_file = "/etc/mailward/n";
  t = render_dovecot_conf(in);
  EXPECT_TRUE(contains(t, "  sieve_plugins = sieve_extprograms sieve_mailward sieve_imapsieve\n")) << t;
  EXPECT_TRUE(contains(t, "  sieve_extensions = +editheader +vnd.mailward.webhook\n")) << t;
  EXPECT_TRUE(contains(t, "  sieve_global_extensions = +vnd.dovecot.pipe +vnd.dovecot.environment\n"))
      << t;
  EXPECT_TRUE(contains(t, "  mailward_config = /srv/mw.conf\n"));
  EXPECT_TRUE(contains(t, "protocol imap {\n  mail_plugins = $mail_plugins imap_sieve\n}\n"));
  EXPECT_TRUE(contains(t, "service imap {\n  vsz_limit = 2G\n}\n"));
  EXPECT_TRUE(contains(t, "  imapsieve_mailbox1_before = file:/usr/lib/mailward/imapsieve/report-spam.sieve\n"));
  EXPECT_TRUE(contains(t, "  imapsieve_mailbox2_from = Junk\n"));
  EXPECT_TRUE(contains(t, "auth_policy_server_url = http://127.0.0.1:8099/\n"
                          "auth_policy_server_api_header = </etc/mailward/h\n"
                          "auth_policy_hash_nonce = </etc/mailward/n\n"));
  // Stable: rendering again from what that file makes effective gives the same text.
  DovecotInputs again = in;
  again.current_sieve_plugins = split_words("sieve_extprograms sieve_mailward sieve_imapsieve");
  again.current_sieve_extensions = split_words("+editheader +vnd.mailward.webhook");
  again.current_sieve_global_extensions = split_words("+vnd.dovecot.pipe +vnd.dovecot.environment");
  EXPECT_EQ(render_dovecot_conf(again), t);
  // An earlier listing of the webhook among the global-only extensions is dropped.
  again.current_sieve_global_extensions = split_words("+vnd.mailward.webhook +vnd.dovecot.pipe");
  EXPECT_TRUE(contains(render_dovecot_conf(again),
                       "  sieve_global_extensions = +vnd.dovecot.pipe +vnd.dovecot.environment\n"));
}

TEST(DovecotConf, AuthPolicyUrl) {
  struct Case {
    const char* listen;
    const char* path;
    const char* want;
  } cases[] = {
      {"127.0.0.1:8099", "/", "http://127.0.0.1:8099/"},
      {"127.0.0.11:8099", "/auth-policy", "http://127.0.0.11:8099/auth-policy"},
      {"0.0.0.0:8099", "", "http://127.0.0.1:8099/"},
      {"[::]:8099", "p", "http://[::1]:8099/p"},
      {"[::1]:8099", "/", "http://[::1]:8099/"},
      {"/run/mailward/auth.sock", "/", ""},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_EQ(auth_policy_url(c.listen, c.path, error), c.want) << c.listen;
    EXPECT_EQ(error.empty(), std::string(c.want) != "") << c.listen;
  }
}

class SetupDovecotTest : public SetupCommandTest {
 protected:
  SetupDovecotTest() : SetupCommandTest("mailward-setup-dovecot") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetupCommandTest::SetUp());
    dir_ = root_ / "dovecot";
    ASSERT_NO_FATAL_FAILURE(copy_debian_dovecot(dir_));
    target_ = dir_ / "conf.d/99-mailward.conf";
    key_ = root_ / "auth-policy.key";
    write_file(key_, "s3cret-key\n");
    write_file(config_,
               "[auth-policy]\nlisten = 127.0.0.1:8099\npath = /auth-policy\napi_key_file = " + key_.string() + "\n");
    imapsieve_ = root_ / "imapsieve";
    fs::create_directories(imapsieve_);
    write_file(imapsieve_ / "report-spam.sieve", "require \"vnd.dovecot.pipe\";\n");
    write_file(imapsieve_ / "report-ham.sieve", "require \"vnd.dovecot.pipe\";\n");
  }
  std::vector<std::string> command_args() const override {
    return {"dovecot", "--dovecot-dir", dir_.string(), "--config", config_.string(),
            "--imapsieve-dir", imapsieve_.string(), "--nonce-file", (root_ / "nonce").string(),
            "--header-file", (root_ / "header").string()};
  }

  std::string effective(const std::string& name, const std::string& filter = "") {
    std::vector<std::string> argv = {"doveconf", "-c", (dir_ / "dovecot.conf").string()};
    if (!filter.empty()) argv.insert(argv.end(), {"-f", filter});
    argv.insert(argv.end(), {"-h", name});
    ProgramResult r = run_program(argv);
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  }

  fs::path dir_, target_, key_, imapsieve_;
};

TEST_F(SetupDovecotTest, DryRunApplyIdempotenceAndBackup) {
  std::string out, err;
  ASSERT_EQ(run({}, out, err), 0) << err;
  EXPECT_TRUE(contains(out, "# " + target_.string() + " (new):\n")) << out;
  EXPECT_TRUE(contains(out, "auth_policy_server_url = http://127.0.0.1:8099/auth-policy\n")) << out;
  EXPECT_TRUE(contains(out, "run again with --apply to write " + target_.string() + "\n")) << out;
  EXPECT_FALSE(fs::exists(target_));
  EXPECT_FALSE(fs::exists(root_ / "nonce"));

  ASSERT_EQ(run({"--apply"}, out, err), 0) << err << out;
  EXPECT_TRUE(contains(out, "written; reload Dovecot to use it: doveadm -c " + (dir_ / "dovecot.conf").string() +
                                " reload\n"))
      << out;
  // Dovecot reads it: the plugins, the extension, the imapsieve rules, the auth policy.
  EXPECT_EQ(effective("plugin/sieve_plugins"), "sieve_imapsieve sieve_extprograms sieve_mailward\n");
  EXPECT_EQ(effective("plugin/sieve_extensions"), "+vnd.mailward.webhook\n");
  EXPECT_EQ(effective("mail_plugins", "protocol=lmtp"), " sieve\n");
  EXPECT_EQ(effective("mail_plugins", "protocol=imap"), " imap_sieve\n");
  EXPECT_EQ(effective("plugin/imapsieve_mailbox1_name"), "Junk\n");
  EXPECT_EQ(effective("auth_policy_server_url"), "http://127.0.0.1:8099/auth-policy\n");
  EXPECT_EQ(effective("auth_policy_hash_nonce"), "<" + (root_ / "nonce").string() + "\n");
  // The secrets: exact content, no newline, 0600.
  EXPECT_EQ(read_file(root_ / "header"), "X-Api-Key: s3cret-key");
  std::string nonce = read_file(root_ / "nonce");
  EXPECT_EQ(nonce.size(), 64u);
  EXPECT_EQ(nonce.find_first_not_of("0123456789abcdef"), std::string::npos);
  for (const char* f : {"header", "nonce"}) {
    struct stat st {};
    ASSERT_EQ(stat((root_ / f).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << f;
  }
  struct stat st {};
  ASSERT_EQ(stat(target_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  // Second run: nothing to change; the nonce is kept.
  std::string written = read_file(target_);
  ASSERT_EQ(run({"--apply"}, out, err), 0) << err;
  EXPECT_TRUE(contains(out, "nothing to change: " + target_.string() + " is up to date\n")) << out;
  EXPECT_EQ(read_file(root_ / "nonce"), nonce);
  EXPECT_EQ(read_file(target_), written);

  // An administrator's edit is backed up (a name Dovecot's conf.d/*.conf does not include) and replaced.
  write_file(target_, written + "# local edit\n");
  ASSERT_EQ(run({"--apply"}, out, err), 0) << err;
  EXPECT_TRUE(contains(out, "(differs: the old file is backed up)")) << out;
  int backups = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "conf.d")) {
    std::string name = e.path().filename().string();
    if (name.starts_with("99-mailward.conf.mailward-")) {
      ++backups;
      EXPECT_EQ(read_file(e.path()), written + "# local edit\n");
      EXPECT_FALSE(name.ends_with(".conf"));
    }
  }
  EXPECT_EQ(backups, 1);
  EXPECT_EQ(read_file(target_), written);
}

TEST_F(SetupDovecotTest, WithoutOptionalParts) {
  write_file(config_, "");
  fs::remove_all(imapsieve_);
  std::string out, err;
  ASSERT_EQ(run({"--apply"}, out, err), 0) << err;
  EXPECT_TRUE(contains(out, "# note: imapsieve learning left out: ")) << out;
  EXPECT_TRUE(contains(out, "# note: no [auth-policy] section in ")) << out;
  EXPECT_EQ(effective("plugin/sieve_plugins"), "sieve_mailward\n");
  EXPECT_EQ(effective("auth_policy_server_url"), "\n");
  EXPECT_FALSE(fs::exists(root_ / "nonce"));
}

TEST_F(SetupDovecotTest, AFileThatOverridesOursIsReportedAndOursRemoved) {
  write_file(dir_ / "conf.d/99-zz-local.conf", "plugin {\n  sieve_plugins = sieve_extprograms\n}\n");
  std::string out, err;
  EXPECT_EQ(run({"--apply"}, out, err), kExitFailed);
  EXPECT_TRUE(contains(err, "Dovecot's effective sieve_plugins is \"sieve_extprograms\"")) << err;
  EXPECT_TRUE(contains(err, "removed")) << err;
  EXPECT_FALSE(fs::exists(target_));
}

TEST_F(SetupDovecotTest, Errors) {
  std::string out, err;
  write_file(config_, "[auth-policy]\nlisten = /run/auth.sock\napi_key_file = " + key_.string() + "\n");
  EXPECT_EQ(run({}, out, err), kExitConfig);
  EXPECT_TRUE(contains(err, "mailward.conf:2: [auth-policy] listen")) << err;
  EXPECT_TRUE(contains(err, "HTTP over TCP only")) << err;
  write_file(config_, "[auth-policy]\nlisten = 127.0.0.1:1\napi_key_file = /nonexistent/key\n");
  EXPECT_EQ(run({}, out, err), kExitConfig);
  fs::remove(dir_ / "dovecot.conf");
  write_file(config_, "");
  EXPECT_EQ(run({}, out, err), kExitFailed);
  EXPECT_TRUE(contains(err, "dovecot.conf does not exist")) << err;
}

}  // namespace
}  // namespace mailward::setup
