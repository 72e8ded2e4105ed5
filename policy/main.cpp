// mailward-policyd: Postfix policy delegation (relay, sender ownership, rate limits), the socketmap
// routing table, and the Dovecot auth-policy endpoint, in one single-threaded daemon.
//
//   mailward-policyd [--config FILE] [--check]
//
// Reads [policy], [log] and [store] from the configuration (every error names file, line and key),
// loads the sender map, opens the state store, creates the sockets with the configured mode and
// group, drops privileges to the configured user, and serves until SIGTERM. SIGHUP reloads the
// sender map (a bad new map is logged and the old one kept). --check validates and exits.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/util/privileges.h"
#include "common/store/store.h"
#include "policy/checks/engine.h"
#include "policy/server/server.h"
#ifdef MAILWARD_POLICYD_AUTH
#include "policy/auth/endpoint.h"
#endif

using namespace mailward;

namespace {

constexpr int kExitUsage = 64;   // EX_USAGE
constexpr int kExitConfig = 78;  // EX_CONFIG
constexpr int kExitOsErr = 71;   // EX_OSERR

int usage(int rc) {
  std::fprintf(rc ? stderr : stdout,
               "usage: mailward-policyd [--config FILE] [--check]\n"
               "  --config FILE  configuration (default /etc/mailward/mailward.conf)\n"
               "  --check        validate the configuration and the sender map, then exit\n");
  return rc;
}

bool ensure_dir(const std::string& socket_path, std::string& error) {
  std::filesystem::path dir = std::filesystem::path(socket_path).parent_path();
  if (dir.empty() || std::filesystem::exists(dir)) return true;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) error = "cannot create socket directory " + dir.string() + ": " + ec.message();
  return !ec;
}

bool uses(const policy::PolicySettings& s, policy::CheckKind k) {
  for (policy::CheckKind c : s.checks)
    if (c == k) return true;
  return false;
}

#ifdef MAILWARD_POLICYD_AUTH
// The Dovecot auth-policy endpoint (policy/auth) as a session of this daemon's event loop.
class AuthSession : public policy::Session {
 public:
  explicit AuthSession(auth_policy::AuthPolicyEndpoint& endpoint) : connection_(endpoint) {}
  bool on_data(std::string_view bytes, std::string& out) override {
    return connection_.on_data(bytes, out);
  }

 private:
  auth_policy::AuthPolicyConnection connection_;
};
#endif

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
      std::fprintf(stderr, "mailward-policyd: unknown argument '%s'\n", arg.c_str());
      return usage(kExitUsage);
    }
  }

  policy::PolicySettings settings;
  policy::SenderMap sender_map;
  std::unique_ptr<store::Store> state;
#ifdef MAILWARD_POLICYD_AUTH
  // [auth-policy] present: this daemon also answers Dovecot's auth_policy_server_url.
  std::unique_ptr<auth_policy::AuthPolicyConfig> auth_config;
  std::unique_ptr<auth_policy::AuthPolicy> auth;
  std::unique_ptr<auth_policy::AuthPolicyEndpoint> auth_endpoint;
#endif
  try {
    config::Config cfg = config::Config::load_file(config_path);
    settings = policy::load_policy_settings(cfg);
    std::string error;
    if (uses(settings, policy::CheckKind::sender) &&
        !policy::SenderMap::load_file(settings.sender_map_path, sender_map, error)) {
      std::fprintf(stderr, "mailward-policyd: %s\n", error.c_str());
      return kExitConfig;
    }
    bool need_store = uses(settings, policy::CheckKind::rate);
#ifdef MAILWARD_POLICYD_AUTH
    if (cfg.has_section("auth-policy")) {
      auth_config = std::make_unique<auth_policy::AuthPolicyConfig>(
          auth_policy::read_config(cfg, "auth-policy"));
      need_store = true;
    }
#endif
    if (need_store) state = store::open_store(cfg, "store");
#ifdef MAILWARD_POLICYD_AUTH
    if (auth_config) {
      auth = std::make_unique<auth_policy::AuthPolicy>(*state, auth_config->policy);
      auth_endpoint =
          std::make_unique<auth_policy::AuthPolicyEndpoint>(*auth, auth_config->endpoint);
    }
#endif
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailward-policyd: %s\n", e.what());
    return kExitConfig;
  }
  if (check_only) {
    std::printf("mailward-policyd: configuration OK: %s (%zu checks, %zu limits, %zu sender map "
                "entries%s%s)\n",
                config_path.c_str(), settings.checks.size(), settings.limits.size(),
                sender_map.size(), state ? ", store " : "",
                state ? state->describe().c_str() : "");
    return 0;
  }

  try {
    settings.log.ident = "mailward-policyd";
    log::init(settings.log);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailward-policyd: %s\n", e.what());
    return kExitConfig;
  }

  policy::PolicyServer::block_signals();
  policy::PolicyEngine engine(settings, state.get(), std::move(sender_map));
  policy::ServerSettings server_settings;
  server_settings.idle_timeout = settings.idle_timeout;
  policy::PolicyServer server(engine, server_settings);
  std::string error;
  bool ok = ensure_dir(settings.socket_path, error) &&
            server.listen_policy_unix(settings.socket_path, settings.socket_mode,
                                      settings.socket_group, error);
  if (ok && !settings.tcp_listen.empty()) ok = server.listen_policy_tcp(settings.tcp_listen, error);
  if (ok && !settings.socketmap_path.empty())
    ok = ensure_dir(settings.socketmap_path, error) &&
         server.listen_socketmap_unix(settings.socketmap_path, settings.socket_mode,
                                      settings.socket_group, error);
#ifdef MAILWARD_POLICYD_AUTH
  if (ok && auth_endpoint) {
    auth_policy::AuthPolicyEndpoint* ep = auth_endpoint.get();
    policy::SessionFactory factory = [ep] { return std::make_unique<AuthSession>(*ep); };
    const std::string& where = auth_config->listen;
    ok = !where.empty() && where.front() == '/'
             ? server.listen_unix(where, settings.socket_mode, settings.socket_group, factory, error)
             : server.listen_tcp(where, factory, error);
    if (ok) log::info("Dovecot auth policy endpoint on ", where);
  }
#endif
  if (ok) ok = util::drop_privileges(settings.user, error);
  if (!ok) {
    log::fatal(error);
    return kExitOsErr;
  }
  const std::string map_path = settings.sender_map_path;
  const bool reload_map = uses(settings, policy::CheckKind::sender);
  server.set_reload_hook([&engine, map_path, reload_map] {
    if (!reload_map) return;
    policy::SenderMap fresh;
    std::string e;
    if (!policy::SenderMap::load_file(map_path, fresh, e)) {
      log::error("sender map not reloaded, keeping the old one: ", e);
      return;
    }
    log::info("sender map reloaded: ", fresh.size(), " entries from ", map_path);
    engine.replace_sender_map(std::move(fresh));
  });
  std::string check_names;
  for (policy::CheckKind k : settings.checks) {
    if (!check_names.empty()) check_names += ",";
    check_names += policy::to_string(k);
  }
  log::info("mailward-policyd listening on ", settings.socket_path,
            settings.tcp_listen.empty() ? "" : " and ", settings.tcp_listen,
            settings.socketmap_path.empty() ? "" : ", socketmap on ", settings.socketmap_path,
            "; checks ", check_names, state ? ", store " + state->describe() : std::string());
  int rc = server.run();
  log::info("mailward-policyd stopped");
  return rc;
}
