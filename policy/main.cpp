// mailward-policyd: Postfix policy delegation (relay, sender ownership, rate limits), the socketmap
// routing table, and the Dovecot auth-policy endpoint, in one single-threaded daemon.
//
//   mailward-policyd [--config FILE] [--check]   (--help: kHelp below; common/util/daemon_cli.h)
//
// Reads [policy], [log] and [store] from the configuration (every error names file, line and key),
// loads the sender map, creates the sockets with the configured mode and group, drops privileges to
// the configured user, opens the state store as that user, and serves until SIGTERM. SIGHUP reloads the
// sender map (a bad new map is logged and the old one kept). --check validates and exits.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
#include "common/store/store.h"
#include "policy/checks/engine.h"
#include "policy/server/server.h"
#ifdef MAILWARD_POLICYD_AUTH
#include "policy/auth/endpoint.h"
#endif

using namespace mailward;

namespace {

using util::kExitConfig;
using util::kExitOsErr;

constexpr util::DaemonHelp kHelp{
    "mailward-policyd",
    "Postfix policy delegation (relay, sender ownership, rate limits) on a unix socket, the socketmap\n"
    "table that routes mail to relay hosts, and, when [auth-policy] is configured, Dovecot's\n"
    "authentication policy (delays, then blocks password guessing). One single-threaded daemon; state\n"
    "(rate counters, failed logins) in the [store]: embedded LMDB file, Redis, or memory.",
    "validate [policy], [store], [auth-policy] and the sender map; open nothing; exit",
    "configuration sections: [policy] [store] [auth-policy] [log]\n"
    "  (reference: policy/README.md, policy/auth/README.md, common/store/README.md).\n"
    "Postfix: smtpd_relay_restrictions = check_policy_service unix:mailward/policy.sock, ...\n"
    "  (`mailward setup postfix` writes it; the socket is /var/spool/postfix/mailward/policy.sock).\n"
    "start-up: creates the sockets with [policy] socket_mode and socket_group, drops privileges to\n"
    "  [policy] user, then opens the store as that user (its files are that user's).\n"
    "signals: SIGHUP reloads the sender map (a bad new map is logged and the old one kept);\n"
    "  SIGTERM or SIGINT stop."};

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
  util::DaemonArgs args;
  if (auto status = util::parse_daemon_args(argc, argv, kHelp, args, std::cout, std::cerr))
    return *status;
  const std::string& config_path = args.config_path;

  policy::PolicySettings settings;
  policy::SenderMap sender_map;
  std::optional<store::StoreChoice> store_choice;  // opened after the privilege drop
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
    if (need_store) store_choice = store::read_store_choice(cfg, "store");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailward-policyd: %s\n", e.what());
    return kExitConfig;
  }
  if (args.check_only) {
    std::printf("mailward-policyd: configuration OK: %s (%zu checks, %zu limits, %zu sender map "
                "entries%s%s)\n",
                config_path.c_str(), settings.checks.size(), settings.limits.size(),
                sender_map.size(), store_choice ? ", store " : "",
                store_choice ? store_choice->describe().c_str() : "");
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
  // The engine holds a pointer to the store, which is opened below, after the privilege drop and
  // before the first request is read.
  policy::PolicyEngine engine(settings, nullptr, std::move(sender_map));
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
  if (ok && auth_config) {
    // Sessions are made once the server runs, when the endpoint (it needs the store) exists.
    policy::SessionFactory factory = [&auth_endpoint] {
      return std::make_unique<AuthSession>(*auth_endpoint);
    };
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
  if (store_choice) {
    try {
      state = store::open_store(*store_choice);
    } catch (const std::exception& e) {
      log::fatal("cannot open the store (", store_choice->describe(), ") as this user: ", e.what());
      return kExitOsErr;
    }
    engine.set_store(state.get());
#ifdef MAILWARD_POLICYD_AUTH
    if (auth_config) {
      auth = std::make_unique<auth_policy::AuthPolicy>(*state, auth_config->policy);
      auth_endpoint =
          std::make_unique<auth_policy::AuthPolicyEndpoint>(*auth, auth_config->endpoint);
    }
#endif
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
