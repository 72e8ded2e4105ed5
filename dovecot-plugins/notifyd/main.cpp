// mailward-notifyd: sends the notification events the Sieve extension vnd.mailward.webhook writes
// into the spool. Usage: mailward-notifyd --config FILE [--check] [--foreground]
// It never forks (run it under systemd Type=simple); --foreground is accepted for symmetry.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/util/privileges.h"
#include "common/notify/targets.h"
#include "dovecot-plugins/notifyd/daemon.h"
#include "dovecot-plugins/notifyd/transfer.h"

namespace {

int usage() {
  std::cerr << "usage: mailward-notifyd --config FILE [--check] [--foreground]\n";
  return 2;
}

bool drop_privileges(const std::string& user) {
  if (::geteuid() != 0) return true;
  if (user.empty()) {
    mailward::log::warning("running as root: set [notify] user = to drop privileges");
    return true;
  }
  std::string error;
  if (!mailward::util::drop_privileges(user, error)) {
    mailward::log::fatal("[notify] user: ", error);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mailward;
  std::string config_path;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--check") check = true;
    else if (a == "--foreground") continue;
    else return usage();
  }
  if (config_path.empty()) return usage();
  notify::NotifySettings settings;
  log::Settings ls;
  ls.ident = "mailward-notifyd";
  try {
    config::Config c = config::Config::load_file(config_path);
    settings = notify::parse_notify_settings(c);
    std::string dest = !settings.log.empty() ? settings.log : c.get_string("log", "destination", "stderr");
    ls.destination = log::parse_destination(dest, ls.file_path);
    std::string level = !settings.log_level.empty() ? settings.log_level : c.get_string("log", "level", "info");
    if (!log::parse_level(level, ls.min_level)) throw config::ConfigError("log level '" + level + "' is not known");
    log::init(ls);
  } catch (const std::exception& e) {
    std::cerr << "mailward-notifyd: " << e.what() << "\n";
    return 1;
  }
  if (check) {
    for (const notify::Target& t : settings.targets) {
      notify::Secrets s;
      std::string error;
      if (!notifyd::load_secrets(t, s, error)) {
        std::cerr << "mailward-notifyd: target " << t.name << ": " << error << "\n";
        return 1;
      }
    }
    std::cout << "configuration ok: " << settings.targets.size() << " targets\n";
    return 0;
  }
  if (!drop_privileges(settings.user)) return 1;
  ::umask(027);
  return notifyd::run_daemon(settings);
}
