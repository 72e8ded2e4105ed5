// mailward-policyd's settings, read from the [policy] section of mailward.conf (common/config),
// plus [log]; the state store is configured in [store] (common/store/store.h, open_store).
// load_policy_settings() validates every key (unknown keys are errors naming file and line) and
// starts nothing, so `mailward-policyd --check` uses the same code. Keys: policy/README.md.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/net/ip_address.h"

namespace mailward::policy {

enum class CheckKind { relay, sender, rate, route };
enum class Subject { user, sender, client };
enum class Unit { messages, recipients };
enum class RateAction { defer, hold };
enum class StoreFailMode { allow, defer };
// Where messages and recipients are counted (see README, "Rate limits"):
//   rcpt: at protocol_state RCPT — a message once per `instance`, a recipient per request;
//   end_of_message: at END-OF-MESSAGE — one message, recipient_count recipients.
enum class RateStage { rcpt, end_of_message };

struct RateLimit {
  Subject subject = Subject::user;
  Unit unit = Unit::messages;
  unsigned long long count = 0;
  std::chrono::seconds window{0};
  std::string text;  // as written: "user messages 100/1h", for replies and logs
};

struct Route {
  std::string domain;   // lowercase, no trailing dot
  std::string nexthop;  // "[smtp.relay.example]:587"
};

struct PolicySettings {
  log::Settings log;
  // daemon
  std::string socket_path = "/var/spool/postfix/mailward/policy.sock";
  unsigned socket_mode = 0660;
  std::string socket_group;  // e.g. postfix
  std::string user;          // drop privileges after creating the sockets
  std::string tcp_listen;    // "127.0.0.1:10040"; empty: no TCP listener
  std::string socketmap_path;  // routing table server; empty: none (needed when route is on)
  std::chrono::milliseconds idle_timeout{300000};  // close idle policy connections (Postfix: 300s)
  // checks, in order
  std::vector<CheckKind> checks;
  // relay
  std::vector<std::string> local_domains;  // lowercase; ".example" also matches subdomains
  std::vector<net::Network> trusted_networks;
  // sender
  std::string sender_map_path;
  char recipient_delimiter = '\0';  // '+': alice+tag@ex.org is checked as alice@ex.org
  // rate
  std::vector<RateLimit> limits;
  RateAction rate_action = RateAction::defer;
  RateStage rate_stage = RateStage::rcpt;
  std::vector<net::Network> rate_exempt_networks;
  std::vector<std::string> rate_exempt_users;  // lowercase
  StoreFailMode store_fail_mode = StoreFailMode::allow;  // from [store] fail_mode
  // route
  std::vector<Route> sender_routes;
  std::vector<Route> recipient_routes;
  std::string fallback_relay;  // empty: none
};

// Throws config::ConfigError naming file, line and key.
PolicySettings load_policy_settings(const config::Config& config);

// "user messages 100/1h" (subject: user|sender|client; unit: messages|recipients; window: a number
// with s, m, h or d, or a bare unit). False with `error` set on anything else.
bool parse_rate_limit(std::string_view text, RateLimit& out, std::string& error);

std::string_view to_string(CheckKind kind) noexcept;
std::string_view to_string(Subject subject) noexcept;
std::string_view to_string(Unit unit) noexcept;

}  // namespace mailward::policy
