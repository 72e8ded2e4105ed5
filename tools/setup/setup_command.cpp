// `mailward setup postfix|dovecot` and `mailward dns` (setup_command.h): option parsing, loading
// mailward.conf, printing and applying what the pure planners (postfix_plan.h, dovecot_conf.h,
// dns_records.h) decide.
#include "tools/setup/setup_command.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>

#include "common/config/config.h"
#include "tools/setup/paths.h"
#include "tools/setup/postfix_io.h"
#include "tools/setup/postfix_plan.h"
#include "tools/setup/process.h"

namespace fs = std::filesystem;

namespace mailward::setup {

namespace {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> named;
  bool has(const std::string& name) const { return named.contains(name); }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = named.find(name);
    return it == named.end() || it->second.empty() ? fallback : it->second.back();
  }
};

// Parses --name VALUE / --name=VALUE for `valued`, bare --name for `flags`. Empty optional + message
// on an unknown option or a missing value.
std::optional<Args> parse_args(const std::vector<std::string>& args, std::size_t first,
                               const std::vector<std::string>& valued, const std::vector<std::string>& flags,
                               std::string& problem) {
  Args a;
  for (std::size_t i = first; i < args.size(); ++i) {
    std::string arg = args[i];
    if (!arg.starts_with("--")) {
      a.positional.push_back(arg);
      continue;
    }
    std::string value;
    bool has_value = false;
    if (std::size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    bool is_valued = std::find(valued.begin(), valued.end(), arg) != valued.end();
    bool is_flag = std::find(flags.begin(), flags.end(), arg) != flags.end();
    if (!is_valued && !is_flag) {
      problem = "unknown option " + arg;
      return std::nullopt;
    }
    if (is_flag && has_value) {
      problem = arg + " takes no value";
      return std::nullopt;
    }
    if (is_valued && !has_value) {
      if (i + 1 >= args.size()) {
        problem = arg + " needs a value";
        return std::nullopt;
      }
      value = args[++i];
    }
    a.named[arg].push_back(value);
  }
  return a;
}

const char kSetupUsage[] =
    "usage: mailward setup postfix [--apply] [--postfix-dir DIR] [--config FILE]\n"
    "       mailward setup dovecot [--apply] [--dovecot-dir DIR] [--config FILE] [--imapsieve-dir DIR]\n"
    "                              [--nonce-file FILE]\n"
    "Without --apply: print what would change. With --apply: make the changes (a backup of every file\n"
    "changed is kept beside it); a second run says \"nothing to change\".\n";

int usage(std::ostream& err, const std::string& problem) {
  if (!problem.empty()) err << "mailward setup: " << problem << "\n";
  err << kSetupUsage;
  return kExitUsage;
}

// mailward.conf: the named file (must exist), or the default file when it exists, else no settings
// (every part's defaults).
config::Config load_config(const Args& a, std::string& described) {
  std::string path = a.get("--config", kMailwardConfig);
  if (a.has("--config") || fs::exists(path)) {
    described = path;
    return config::Config::load_file(path);
  }
  described = path + " (absent: defaults)";
  return config::Config::parse("", path);
}

void print_comment(std::ostream& out, const std::string& text) {
  out << "# " << text << "\n";
}

int setup_postfix(const Args& a, std::ostream& out, std::ostream& err) {
  std::string dir = a.get("--postfix-dir", kPostfixDir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string described;
  config::Config cfg = load_config(a, described);
  PostfixWanted wanted = wanted_from_config(cfg);
  PostfixSettings current;
  std::string error;
  if (!read_postfix(dir, current, error)) {
    err << "mailward setup postfix: " << error << "\n";
    return kExitFailed;
  }
  PostfixPlan plan = plan_postfix(current, wanted);
  if (!plan.error.empty()) {
    err << "mailward setup postfix: refused: " << plan.error << "\n";
    return kExitFailed;
  }
  out << "# mailward setup postfix: " << dir << ", configuration " << described << "\n";
  for (const std::string& note : plan.notes) print_comment(out, "note: " + note);
  if (plan.changes.empty()) {
    out << "nothing to change: " << dir << " already has mailward's settings\n";
    return 0;
  }
  std::vector<std::vector<std::string>> commands = postconf_commands(dir, plan);
  for (std::size_t i = 0; i < plan.changes.size(); ++i) {
    const PostfixChange& c = plan.changes[i];
    print_comment(out, (c.service.empty() ? "main.cf " : "master.cf " + c.service + " ") + c.parameter + ": " +
                           c.reason);
    print_comment(out, "  was: " + (!c.was_set ? std::string("(not set)")
                                    : c.old_value.empty() ? std::string("(empty)")
                                                          : c.old_value));
    out << shell_words(commands[i]) << "\n";
  }
  if (!a.has("--apply")) {
    out << plan.changes.size() << " change" << (plan.changes.size() == 1 ? "" : "s")
        << " to make; run again with --apply to make them\n";
    return 0;
  }
  ApplyResult applied = apply_postfix(dir, plan, std::time(nullptr));
  for (const std::string& b : applied.backups) print_comment(out, "backup: " + b);
  if (!applied.ok) {
    err << "mailward setup postfix: " << applied.error << "\n";
    return kExitFailed;
  }
  // Check: what Postfix now says needs no further change (idempotence, and that postconf took it).
  PostfixSettings after;
  if (!read_postfix(dir, after, error)) {
    err << "mailward setup postfix: after the changes: " << error << "\n";
    return kExitFailed;
  }
  PostfixPlan again = plan_postfix(after, wanted);
  if (!again.changes.empty()) {
    err << "mailward setup postfix: after the changes, postconf still shows " << again.changes.front().parameter
        << " = " << again.changes.front().old_value << "\n";
    return kExitFailed;
  }
  out << "applied " << plan.changes.size() << " change" << (plan.changes.size() == 1 ? "" : "s")
      << "; reload Postfix to use them: "
      << (dir == kPostfixDir ? std::string("postfix reload") : "postfix -c " + dir + " reload") << "\n";
  return 0;
}

}  // namespace

int run_setup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    (args.empty() ? err : out) << kSetupUsage;
    return args.empty() ? kExitUsage : 0;
  }
  std::string problem;
  try {
    if (args[0] == "postfix") {
      auto a = parse_args(args, 1, {"--postfix-dir", "--config"}, {"--apply", "--help"}, problem);
      if (!a || !a->positional.empty())
        return usage(err, a ? "unexpected argument " + a->positional.front() : problem);
      if (a->has("--help")) {
        out << kSetupUsage;
        return 0;
      }
      return setup_postfix(*a, out, err);
    }
    return usage(err, "unknown setup target '" + args[0] + "' (postfix or dovecot)");
  } catch (const config::ConfigError& e) {
    err << "mailward setup: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    err << "mailward setup: " << e.what() << "\n";
    return kExitFailed;
  }
}

int run_dns_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  (void)args;
  (void)out;
  err << "mailward dns: not implemented yet\n";
  return kExitFailed;
}

}  // namespace mailward::setup
