// mailward-notifyd: sends the notification events the Sieve extension vnd.mailward.webhook writes
// into the spool. Usage: mailward-notifyd [--config FILE] [--check] (common/util/daemon_cli.h;
// --help below). It never forks (run it under systemd Type=simple); --foreground is accepted.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/util/daemon_cli.h"
#include "common/util/privileges.h"
#include "common/notify/targets.h"
#include "dovecot-plugins/notifyd/daemon.h"
#include "dovecot-plugins/notifyd/transfer.h"

namespace {

constexpr mailward::util::DaemonHelp kHelp{
    "mailward-notifyd",
    "Sends the notifications that the Sieve extension vnd.mailward.webhook records in the spool\n"
    "([notify] spool) to the administrator's targets ([target.NAME]: ntfy, Gotify, Pushover, IFTTT,\n"
    "Slack, Mattermost, Discord or generic JSON over HTTPS), with an HMAC signature and an idempotency\n"
    "key, retries with back-off, Retry-After, rate limits and dead letters. Nothing is lost when it is\n"
    "down: events wait in the spool.",
    "validate the configuration and read every target's secrets; exit",
    "configuration sections: [notify] [target.NAME]... [log]\n"
    "  (reference: dovecot-plugins/notifyd/README.md; other parts' sections are ignored).\n"
    "spool: tmp/ and new/ written by the Sieve plugin, state/ and dead/ kept by notifyd;\n"
    "  `mailward notify queue` lists what waits and what was dead-lettered.\n"
    "start-up: as root, drops to [notify] user after opening the log and the metrics port and\n"
    "  before reading secrets (the secret files must be readable by that user).\n"
    "signals: SIGHUP re-reads the targets' secret files; SIGTERM or SIGINT: no new requests,\n"
    "  those in flight get up to 5 s; unfinished events stay in the spool and are sent again\n"
    "  (receivers deduplicate by Idempotency-Key)."};

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
  util::DaemonArgs args;
  if (auto status = util::parse_daemon_args(argc, argv, kHelp, args, std::cout, std::cerr)) return *status;
  const std::string& config_path = args.config_path;
  const bool check = args.check_only;
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
    return util::kExitConfig;
  }
  if (check) {
    for (const notify::Target& t : settings.targets) {
      notify::Secrets s;
      std::string error;
      if (!notifyd::load_secrets(t, s, error)) {
        std::cerr << "mailward-notifyd: target " << t.name << ": " << error << "\n";
        return util::kExitConfig;
      }
    }
    std::cout << "configuration ok: " << settings.targets.size() << " targets\n";
    return 0;
  }
  if (!drop_privileges(settings.user)) return 1;
  ::umask(027);
  return notifyd::run_daemon(settings);
}
