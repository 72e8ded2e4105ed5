// mailward-milter: SPF, DKIM and DMARC for Postfix in one pass (see engine.h).
//
//   mailward-milter [--config FILE] [--check]
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
#include <optional>
#include <string>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/util/privileges.h"
#include "milters/milter/libmilter_adapter.h"
#include "milters/milter/runtime.h"
#include "milters/spam/bayes/classifier.h"
#include "milters/spam/bayes/model_store.h"

using namespace mailward;

namespace {

constexpr int kExitUsage = 64;   // EX_USAGE
constexpr int kExitConfig = 78;  // EX_CONFIG
constexpr int kExitOsErr = 71;   // EX_OSERR

int usage(int rc) {
  std::fprintf(rc ? stderr : stdout,
               "usage: mailward-milter [--config FILE] [--check]\n"
               "  --config FILE  configuration (default /etc/mailward/mailward.conf)\n"
               "  --check        validate the configuration and keys, then exit\n");
  return rc;
}

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
  std::string config_path = "/etc/mailward/mailward.conf";
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (arg == "--check") check_only = true;
    else if (arg == "--help" || arg == "-h") return usage(0);
    else {
      std::fprintf(stderr, "mailward-milter: unknown argument '%s'\n", arg.c_str());
      return usage(kExitUsage);
    }
  }

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
  if (check_only) {
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
