// The I/O half of `mailward setup postfix`: read Postfix's settings with postconf, apply a plan with
// `postconf -e` (main.cf) and `postconf -P` (master.cf) — main.cf and master.cf are never written by
// hand — after a timestamped backup of each file that changes.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "tools/setup/postfix_plan.h"

namespace mailward::setup {

// `postconf -c DIR` (every main.cf parameter; `${{...}}` values replaced by `postconf -c DIR -x`),
// `postconf -c DIR -M` (submission services) and `postconf -c DIR -P` (overrides).
// False with `error` set when postconf fails or DIR/main.cf does not exist.
bool read_postfix(const std::string& dir, PostfixSettings& out, std::string& error);

// The postconf command lines that make the plan's changes (one per change, for printing).
std::vector<std::vector<std::string>> postconf_commands(const std::string& dir, const PostfixPlan& plan);

struct ApplyResult {
  bool ok = false;
  std::vector<std::string> backups;  // files written
  std::string error;
};

// Backs up DIR/main.cf and/or DIR/master.cf (those the plan changes) as
// FILE.mailward-YYYYMMDDTHHMMSSZ (UTC, `now`), then runs postconf. Stops at the first failure.
ApplyResult apply_postfix(const std::string& dir, const PostfixPlan& plan, std::time_t now);

// FILE.mailward-YYYYMMDDTHHMMSSZ next to FILE (a -N suffix when that exists), a copy with the same
// mode. Returns the backup's path; empty with `error` set on failure.
std::string backup_file(const std::string& file, std::time_t now, std::string& error);

}  // namespace mailward::setup
