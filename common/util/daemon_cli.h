// The command line every mailward daemon shares: `--config FILE`, `--check`, `--help`, `--version`,
// and the exit statuses (sysexits.h) they end with, so that the daemons, their units and their
// manual text agree.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace mailward::util {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;   // EX_USAGE: a bad command line
inline constexpr int kExitConfig = 78;  // EX_CONFIG: the configuration is wrong (the message says where)
inline constexpr int kExitOsErr = 71;   // EX_OSERR: a socket, directory or user could not be set up
inline constexpr std::string_view kDefaultConfigPath = "/etc/mailward/mailward.conf";

// What `--help` prints besides the options: one paragraph on what the daemon does (`summary`), what
// `--check` validates, and the rest of a manual page in brief (`details`: configuration sections read,
// signals, files). Each is plain text; lines are printed as given.
struct DaemonHelp {
  std::string_view name;
  std::string_view summary;
  std::string_view check_does;
  std::string_view details;
};

struct DaemonArgs {
  std::string config_path{kDefaultConfigPath};
  bool check_only = false;
};

// Parses argv into `args`. Returns nothing when the daemon should go on; otherwise the status to
// exit with at once: 0 after --help (to `out`) or --version, kExitUsage after an unknown or
// incomplete argument (message and usage to `err`). `-c FILE` is accepted for --config.
std::optional<int> parse_daemon_args(int argc, const char* const* argv, const DaemonHelp& help,
                                     DaemonArgs& args, std::ostream& out, std::ostream& err);

// The full --help text.
std::string daemon_help_text(const DaemonHelp& help);

}  // namespace mailward::util
