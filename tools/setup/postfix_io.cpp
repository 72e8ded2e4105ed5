// Reading Postfix's settings through postconf and applying a plan through postconf (postfix_io.h).
#include "tools/setup/postfix_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/util/text.h"
#include "tools/setup/process.h"
#include "tools/setup/utc_format.h"

namespace fs = std::filesystem;

namespace mailward::setup {

namespace {

std::string failure(const std::vector<std::string>& argv, const ProgramResult& r) {
  std::string detail(text::trim(r.err));
  if (detail.empty()) detail = std::string(text::trim(r.out));
  // Postfix's commands print their errors only to a terminal (or syslog): say what we know.
  if (detail.empty()) detail = "no message (Postfix's commands log errors to syslog when not on a terminal)";
  return shell_words(argv) + " failed (exit " + std::to_string(r.status) + "): " + detail;
}

// "name = value" lines into a map.
void parse_assignments(const std::string& text, std::map<std::string, std::string>& out) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::size_t eq = line.find(" =");
    if (eq == std::string::npos) continue;
    std::string name(text::trim(std::string_view(line).substr(0, eq)));
    std::string value(text::trim(std::string_view(line).substr(eq + 2)));
    if (!name.empty()) out[name] = value;
  }
}

bool is_submission_name(std::string_view name) {
  std::size_t colon = name.rfind(':');  // "127.0.0.1:submission"
  if (colon != std::string_view::npos) name = name.substr(colon + 1);
  return name == "submission" || name == "587" || name == "submissions" || name == "465";
}

}  // namespace

bool read_postfix(const std::string& dir, PostfixSettings& out, std::string& error) {
  if (!fs::exists(fs::path(dir) / "main.cf")) {
    error = dir + "/main.cf does not exist: configure Postfix first (dpkg-reconfigure postfix), or name "
                  "its directory with --postfix-dir";
    return false;
  }
  out = PostfixSettings{};
  std::vector<std::string> argv = {"postconf", "-c", dir};
  ProgramResult r = run_program(argv);
  if (r.status != 0) {
    error = failure(argv, r);
    return false;
  }
  parse_assignments(r.out, out.main);
  // Values that are conditional expressions (the default smtpd_relay_restrictions in Postfix 3.x) are
  // taken expanded: that is the list Postfix uses.
  bool conditional = false;
  for (const auto& [name, value] : out.main) conditional = conditional || value.find("${{") != std::string::npos;
  if (conditional) {
    std::vector<std::string> xargv = {"postconf", "-c", dir, "-x"};
    ProgramResult x = run_program(xargv);
    if (x.status != 0) {
      error = failure(xargv, x);
      return false;
    }
    std::map<std::string, std::string> expanded;
    parse_assignments(x.out, expanded);
    for (auto& [name, value] : out.main)
      if (value.find("${{") != std::string::npos && expanded.contains(name)) value = expanded[name];
  }
  argv = {"postconf", "-c", dir, "-M"};
  r = run_program(argv);
  if (r.status != 0) {
    error = failure(argv, r);
    return false;
  }
  std::istringstream services(r.out);
  std::string line;
  while (std::getline(services, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    std::string w;
    while (fields >> w && f.size() < 8) f.push_back(w);
    if (f.size() == 8 && f[1] == "inet" && f[7] == "smtpd" && is_submission_name(f[0]))
      out.submission_services.push_back(f[0] + "/" + f[1]);
  }
  argv = {"postconf", "-c", dir, "-P"};
  r = run_program(argv);
  if (r.status != 0) {
    error = failure(argv, r);
    return false;
  }
  parse_assignments(r.out, out.overrides);
  return true;
}

std::vector<std::vector<std::string>> postconf_commands(const std::string& dir, const PostfixPlan& plan) {
  std::vector<std::vector<std::string>> out;
  for (const PostfixChange& c : plan.changes)
    out.push_back({"postconf", "-c", dir, c.service.empty() ? "-e" : "-P", c.postconf_argument()});
  return out;
}

std::string backup_file(const std::string& file, std::time_t now, std::string& error) {
  std::string base = file + ".mailward-" + utc_format(now, "%Y%m%dT%H%M%SZ");
  std::string target = base;
  for (int i = 1; fs::exists(target); ++i) target = base + "-" + std::to_string(i);
  std::error_code ec;
  fs::copy_file(file, target, fs::copy_options::none, ec);
  if (ec) {
    error = "cannot back up " + file + " to " + target + ": " + ec.message();
    return {};
  }
  struct stat st {};
  if (stat(file.c_str(), &st) == 0) {
    chmod(target.c_str(), st.st_mode & 07777);
    if (chown(target.c_str(), st.st_uid, st.st_gid) != 0) {
      // Not fatal: the copy is ours (root) and keeps the mode.
    }
  }
  return target;
}

ApplyResult apply_postfix(const std::string& dir, const PostfixPlan& plan, std::time_t now) {
  ApplyResult result;
  bool main_changes = false;
  bool master_changes = false;
  for (const PostfixChange& c : plan.changes) (c.service.empty() ? main_changes : master_changes) = true;
  for (auto [changes, name] : {std::pair{main_changes, "main.cf"}, std::pair{master_changes, "master.cf"}}) {
    if (!changes) continue;
    std::string path = dir + "/" + name;
    std::string backup = backup_file(path, now, result.error);
    if (backup.empty()) return result;
    result.backups.push_back(backup);
  }
  for (const std::vector<std::string>& argv : postconf_commands(dir, plan)) {
    ProgramResult r = run_program(argv);
    if (r.status != 0) {
      result.error = failure(argv, r);
      return result;
    }
  }
  result.ok = true;
  return result;
}

}  // namespace mailward::setup
