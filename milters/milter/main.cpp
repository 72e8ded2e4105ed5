// mailward-milter: SPF, DKIM and DMARC for Postfix in one pass (see engine.h).
//
//   mailward-milter [--config FILE] [--check]   (--help: util::DaemonHelp below)
//
// Reads the configuration (every error names file, line and key), loads signing keys and the Public
// Suffix List, opens the unix socket with the configured mode and group, drops privileges to the
// configured user, and serves until SIGTERM. --check validates everything and exits without
// starting anything.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/util/daemon_cli.h"
#include "common/util/privileges.h"
#include "milters/milter/libmilter_adapter.h"
#include "milters/milter/runtime.h"
#include "milters/spam/bayes/classifier.h"
#include "milters/spam/bayes/model_store.h"

using namespace mailward;

namespace {

using util::kExitConfig;
using util::kExitOsErr;

constexpr util::DaemonHelp kHelp{
    "mailward-milter",
    "SPF, DKIM (verify and sign), DMARC and spam scoring for Postfix in one pass, over the milter\n"
    "protocol on a unix socket. Adds one Authentication-Results header (RFC 8601) and removes those\n"
    "claiming our authserv-id, enforces DMARC policy, signs mail from SASL users and trusted networks,\n"
    "scores spam (X-Spam-* headers, reject above [spam] reject_score). On an internal error it answers\n"
    "with [milter] fail_mode (tempfail by default), never a permanent reject.",
    "validate the configuration, keys and Public Suffix List; exit",
    "configuration sections: [log] [dns] [milter] [spf] [dkim] [dkim-sign] [dmarc] [spam]\n"
    "  (reference: the README's \"Configuration reference\"; other parts' sections are ignored).\n"
    "Postfix: smtpd_milters = unix:mailward/milter.sock (relative to Postfix's chroot, with the socket\n"
    "  at /var/spool/postfix/mailward/milter.sock), milter_default_action = tempfail.\n"
    "start-up: creates the socket with [milter] socket_mode and socket_group, then drops privileges\n"
    "  to [milter] user; opens the Bayes store ([spam] bayes_path) as that user.\n"
    "signals: SIGTERM or SIGINT stop after the current sessions."};

bool lookup_group(const std::string& name, gid_t& gid) {
  struct group* g = getgrnam(name.c_str());
  if (!g) return false;
  gid = g->gr_gid;
  return true;
}

// Socket permissions first, then the user: after setuid we could no longer chown.
bool secure_socket(const milter::Settings& s, std::string& error) {
  if (chmod(s.socket_path.c_str(), static_cast<mode_t>(s.socket_mode)) != 0) {
    error = "chmod " + s.socket_path + ": " + std::strerror(errno);
    return false;
  }
  uid_t owner = static_cast<uid_t>(-1);
  gid_t group = static_cast<gid_t>(-1);
  if (!s.user.empty()) {
    struct passwd* pw = getpwnam(s.user.c_str());
    if (!pw) {
      error = "unknown user '" + s.user + "' ([milter] user)";
      return false;
    }
    owner = pw->pw_uid;
  }
  if (!s.socket_group.empty() && !lookup_group(s.socket_group, group)) {
    error = "unknown group '" + s.socket_group + "' ([milter] socket_group)";
    return false;
  }
  if ((owner != static_cast<uid_t>(-1) || group != static_cast<gid_t>(-1)) &&
      chown(s.socket_path.c_str(), owner, group) != 0) {
    error = "chown " + s.socket_path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  util::DaemonArgs args;
  if (auto status = util::parse_daemon_args(argc, argv, kHelp, args, std::cout, std::cerr))
    return *status;
  const std::string& config_path = args.config_path;

  milter::Settings settings;
  std::unique_ptr<milter::Runtime> runtime;
  std::optional<config::Config> config;
  try {
    config.emplace(config::Config::load_file(config_path));
    settings = milter::load_settings(*config);
    (void)spam::bayes::load_bayes_params(*config);  // bad bayes_* values fail here, not later
    (void)spam::bayes::bayes_enabled(*config);
    runtime = std::make_unique<milter::Runtime>(settings);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailward-milter: %s\n", e.what());
    return kExitConfig;
  }
  if (args.check_only) {
    std::printf("mailward-milter: configuration OK: %s (%zu signing keys)\n", config_path.c_str(),
                settings.signing_keys.size());
    return 0;
  }

  try {
    settings.log.ident = "mailward-milter";
    log::init(settings.log);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailward-milter: %s\n", e.what());
    return kExitConfig;
  }

  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(settings.socket_path).parent_path();
  if (!std::filesystem::exists(dir)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      log::fatal("cannot create socket directory ", dir.string(), ": ", ec.message());
      return kExitOsErr;
    }
  }
  umask(0117);  // the socket is never briefly open to others
  std::string error;
  if (!milter::register_milter(runtime->engine(), settings.socket_path, error) ||
      !secure_socket(settings, error) || !util::drop_privileges(settings.user, error)) {
    log::fatal(error);
    return kExitOsErr;
  }
  // The Bayes model, opened as the unprivileged user (the store files are that user's). Without it
  // the milter still scores with rules, DNSBLs and authentication results: a warning, not a stop.
  std::unique_ptr<store::Store> bayes_store;  // outlives the milter loop: the model refers to it
  if (settings.spam.enabled && spam::bayes::bayes_enabled(*config)) {
    try {
      bayes_store = spam::bayes::open_bayes_store(*config);
      auto model = std::make_shared<spam::bayes::StoreModel>(*bayes_store);
      runtime->engine().set_spam_classifier(std::make_shared<spam::bayes::BayesClassifier>(
          model, spam::bayes::load_bayes_params(*config)));
      log::info("Bayes classifier: ", model->describe());
    } catch (const std::exception& e) {
      log::warning("Bayes classifier off: ", e.what());
    }
  }
  log::info("mailward-milter listening on ", settings.socket_path, " authserv-id ",
            settings.authserv_id, ", ", settings.signing_keys.size(), " signing keys");
  int rc = milter::run_milter();
  log::info("mailward-milter stopped");
  return rc == 0 ? 0 : 1;
}
