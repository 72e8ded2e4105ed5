// The fixture shared by the tests of `mailward setup postfix|dovecot` against the real postconf and
// doveconf: a temporary root directory (removed afterwards) that holds a copy of Debian's Postfix or
// Dovecot configuration (never /etc/postfix or /etc/dovecot themselves) and a mailward.conf, and
// run(), which calls run_setup_command with the test's fixed arguments followed by extra ones.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/files.h"

namespace mailward::setup {

using test_support::read_file;
using test_support::write_file;

class SetupCommandTest : public ::testing::Test {
 protected:
  explicit SetupCommandTest(std::string_view prefix) : tmp_(prefix) {}
  // Fails when the temporary directory could not be made; sets config_ (not written).
  void SetUp() override;

  // The arguments every run() starts with ("postfix", "--postfix-dir", ...).
  virtual std::vector<std::string> command_args() const = 0;
  // run_setup_command(command_args() + extra): its exit status; what it printed in out / err.
  int run(const std::vector<std::string>& extra, std::string& out, std::string& err);

  // Debian's Postfix templates (the postfix package) into DIR: master.cf as shipped
  // (master.cf.dist), main.cf as Debian's "Internet Site" configuration writes it (main.cf.debian)
  // followed by `main_cf_tail`. Fatal failure, naming the package, when they are missing (not skipped).
  static void copy_debian_postfix(const std::filesystem::path& dir, const std::string& main_cf_tail);
  // The installed /etc/dovecot copied as DIR, after doveconf has parsed it. Fatal failure, naming
  // the package, when it is missing (not skipped).
  static void copy_debian_dovecot(const std::filesystem::path& dir);

  test_support::TempDir tmp_;
  const std::filesystem::path& root_ = tmp_.path();
  std::filesystem::path config_;  // root_/mailward.conf
};

}  // namespace mailward::setup
