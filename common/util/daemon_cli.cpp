// The daemons' shared command line (see daemon_cli.h).
#include "common/util/daemon_cli.h"

#include <sstream>

#ifndef MAILWARD_VERSION
#define MAILWARD_VERSION "unknown"
#endif

namespace mailward::util {

std::string daemon_help_text(const DaemonHelp& help) {
  std::ostringstream s;
  s << "usage: " << help.name << " [--config FILE] [--check]\n";
  if (!help.summary.empty()) s << "\n" << help.summary << "\n";
  s << "\noptions:\n"
    << "  --config FILE, -c FILE  configuration (default " << kDefaultConfigPath << ")\n"
    << "  --check                 " << help.check_does << "\n"
    << "  --foreground            accepted and ignored: the daemon never forks (systemd Type=simple)\n"
    << "  --help, -h              this text\n"
    << "  --version               print the version\n";
  if (!help.details.empty()) s << "\n" << help.details << "\n";
  s << "\nexit status: 0 ok; " << kExitUsage << " bad command line; " << kExitConfig
    << " configuration error (the message names\n  file, line and key); " << kExitOsErr
    << " a socket, directory or user could not be set up; 1 stopped after an error\n  at run time.\n";
  return s.str();
}

std::optional<int> parse_daemon_args(int argc, const char* const* argv, const DaemonHelp& help,
                                     DaemonArgs& args, std::ostream& out, std::ostream& err) {
  auto usage_error = [&](const std::string& message) {
    err << help.name << ": " << message << "\n"
        << "usage: " << help.name << " [--config FILE] [--check] (--help for more)\n";
    return kExitUsage;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc) return usage_error(std::string(arg) + " needs a file name");
      args.config_path = argv[++i];
    } else if (arg.starts_with("--config=")) {
      args.config_path = std::string(arg.substr(9));
    } else if (arg == "--check") {
      args.check_only = true;
    } else if (arg == "--foreground") {
      continue;  // never forks: accepted for the habit of other daemons' units
    } else if (arg == "--help" || arg == "-h") {
      out << daemon_help_text(help);
      return kExitOk;
    } else if (arg == "--version") {
      out << help.name << " " << MAILWARD_VERSION << "\n";
      return kExitOk;
    } else {
      return usage_error("unknown argument '" + std::string(arg) + "'");
    }
  }
  if (args.config_path.empty()) return usage_error("--config needs a file name");
  return std::nullopt;
}

}  // namespace mailward::util
