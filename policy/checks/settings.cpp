// Reads and validates mailward-policyd's [policy] and [log] settings (see settings.h).
#include "policy/checks/settings.h"

#include <algorithm>

#include "common/store/store.h"
#include "common/util/text.h"

namespace mailward::policy {

std::string_view to_string(CheckKind kind) noexcept {
  switch (kind) {
    case CheckKind::relay: return "relay";
    case CheckKind::sender: return "sender";
    case CheckKind::rate: return "rate";
    case CheckKind::route: return "route";
  }
  return "?";
}
std::string_view to_string(Subject subject) noexcept {
  switch (subject) {
    case Subject::user: return "user";
    case Subject::sender: return "sender";
    case Subject::client: return "client";
  }
  return "?";
}
std::string_view to_string(Unit unit) noexcept {
  return unit == Unit::messages ? "messages" : "recipients";
}

bool parse_rate_limit(std::string_view text, RateLimit& out, std::string& error) {
  std::vector<std::string_view> words = text::split_list(text);
  if (words.size() != 3) {
    error = "expected \"SUBJECT UNIT COUNT/WINDOW\" (e.g. \"user messages 100/1h\")";
    return false;
  }
  RateLimit r;
  if (words[0] == "user") r.subject = Subject::user;
  else if (words[0] == "sender") r.subject = Subject::sender;
  else if (words[0] == "client") r.subject = Subject::client;
  else {
    error = "subject must be user, sender or client, not '" + std::string(words[0]) + "'";
    return false;
  }
  if (words[1] == "messages") r.unit = Unit::messages;
  else if (words[1] == "recipients") r.unit = Unit::recipients;
  else {
    error = "unit must be messages or recipients, not '" + std::string(words[1]) + "'";
    return false;
  }
  std::string_view rate = words[2];
  std::size_t slash = rate.find('/');
  if (slash == std::string_view::npos ||
      !text::parse_uint(rate.substr(0, slash), 1000000000ULL, r.count) || r.count == 0) {
    error = "rate must be COUNT/WINDOW with COUNT from 1, e.g. 100/1h";
    return false;
  }
  std::string_view window = rate.substr(slash + 1);
  if (window.empty()) {
    error = "missing window after '/'";
    return false;
  }
  char unit = window.back();
  unsigned long long seconds_per = 0;
  switch (unit) {
    case 's': seconds_per = 1; break;
    case 'm': seconds_per = 60; break;
    case 'h': seconds_per = 3600; break;
    case 'd': seconds_per = 86400; break;
    default:
      error = "window must end in s, m, h or d (e.g. 1h)";
      return false;
  }
  window.remove_suffix(1);
  unsigned long long n = 1;
  if (!window.empty() && (!text::parse_uint(window, 366ULL * 86400, n) || n == 0)) {
    error = "bad window length";
    return false;
  }
  r.window = std::chrono::seconds(static_cast<long long>(n * seconds_per));
  r.text = std::string(words[0]) + " " + std::string(words[1]) + " " + std::string(rate);
  out = r;
  return true;
}

namespace {

std::vector<net::Network> networks(const config::Config& c, std::string_view key,
                                   const std::vector<std::string>& fallback) {
  std::vector<net::Network> out;
  const config::Entry* e = c.find("policy", key);
  for (const std::string& item : c.get_list("policy", key, fallback)) {
    auto n = net::Network::parse(item);
    if (!n) {
      if (e) config::Config::fail(*e, "not an address or network: '" + item + "'");
      throw config::ConfigError("bad default network " + item);
    }
    out.push_back(*n);
  }
  return out;
}

std::vector<Route> routes(const config::Config& c, std::string_view key) {
  std::vector<Route> out;
  for (const config::Entry* e : c.find_all("policy", key)) {
    std::vector<std::string_view> words = text::split_list(e->value);
    if (words.size() != 2)
      config::Config::fail(*e, "expected \"DOMAIN NEXTHOP\" (e.g. ex.org [smtp.relay.example]:587)");
    out.push_back({text::normalize_domain(words[0]), std::string(words[1])});
  }
  return out;
}

}  // namespace

PolicySettings load_policy_settings(const config::Config& c) {
  PolicySettings s;
  c.require_known_keys("log", {"destination", "level"});
  if (const config::Entry* e = c.find("log", "destination"))
    s.log.destination = log::parse_destination(e->value, s.log.file_path);
  if (const config::Entry* e = c.find("log", "level"))
    if (!log::parse_level(e->value, s.log.min_level))
      config::Config::fail(*e, "level must be debug, info, warning or error");

  c.require_known_keys(
      "policy",
      {"socket", "socket_mode", "socket_group", "user", "tcp_listen", "socketmap_socket",
       "idle_timeout", "checks", "local_domains", "trusted_networks", "sender_map",
       "recipient_delimiter", "limit", "rate_action", "rate_stage", "rate_exempt_networks",
       "rate_exempt_users", "route_sender_domain", "route_recipient_domain",
       "route_fallback"});
  s.socket_path = c.get_string("policy", "socket", s.socket_path);
  if (const config::Entry* e = c.find("policy", "socket_mode")) {
    unsigned long long mode = 0;
    std::string_view v = e->value;
    bool ok = !v.empty() && v.size() <= 4;
    for (char ch : v) {
      if (ch < '0' || ch > '7') ok = false;
      else mode = mode * 8 + static_cast<unsigned long long>(ch - '0');
    }
    if (!ok) config::Config::fail(*e, "socket_mode must be octal, e.g. 0660");
    s.socket_mode = static_cast<unsigned>(mode);
  }
  s.socket_group = c.get_string("policy", "socket_group", "");
  s.user = c.get_string("policy", "user", "");
  s.tcp_listen = c.get_string("policy", "tcp_listen", "");
  s.socketmap_path = c.get_string("policy", "socketmap_socket", "");
  s.idle_timeout = c.get_duration("policy", "idle_timeout", s.idle_timeout);

  const config::Entry* checks_entry = c.find("policy", "checks");
  for (const std::string& name :
       c.get_list("policy", "checks", {"relay", "sender", "rate", "route"})) {
    CheckKind k;
    if (name == "relay") k = CheckKind::relay;
    else if (name == "sender") k = CheckKind::sender;
    else if (name == "rate") k = CheckKind::rate;
    else if (name == "route") k = CheckKind::route;
    else config::Config::fail(*checks_entry, "unknown check '" + name +
                                                 "' (relay, sender, rate, route)");
    if (std::find(s.checks.begin(), s.checks.end(), k) != s.checks.end())
      config::Config::fail(*checks_entry, "check '" + name + "' listed twice");
    s.checks.push_back(k);
  }
  auto enabled = [&](CheckKind k) {
    return std::find(s.checks.begin(), s.checks.end(), k) != s.checks.end();
  };

  for (const std::string& d : c.get_list("policy", "local_domains", {}))
    s.local_domains.push_back(text::normalize_domain(d));
  s.trusted_networks = networks(c, "trusted_networks", {"127.0.0.1/32", "::1/128"});
  s.sender_map_path = c.get_string("policy", "sender_map", "");
  if (const config::Entry* e = c.find("policy", "recipient_delimiter")) {
    if (e->value.size() != 1) config::Config::fail(*e, "must be one character, e.g. +");
    s.recipient_delimiter = e->value[0];
  }
  for (const config::Entry* e : c.find_all("policy", "limit")) {
    RateLimit r;
    std::string error;
    if (!parse_rate_limit(e->value, r, error)) config::Config::fail(*e, error);
    s.limits.push_back(r);
  }
  s.rate_action = c.get_choice("policy", "rate_action", "defer", {"defer", "hold"}) == "hold"
                      ? RateAction::hold
                      : RateAction::defer;
  s.rate_stage = c.get_choice("policy", "rate_stage", "rcpt", {"rcpt", "end-of-message"}) == "rcpt"
                     ? RateStage::rcpt
                     : RateStage::end_of_message;
  s.rate_exempt_networks = networks(c, "rate_exempt_networks", {});
  for (const std::string& u : c.get_list("policy", "rate_exempt_users", {}))
    s.rate_exempt_users.push_back(text::to_lower(u));
  // The fail mode is the store's own setting ([store] fail_mode = allow | refuse), shared with
  // every other user of the store.
  s.store_fail_mode = store::fail_mode(c, "store") == store::FailMode::refuse ? StoreFailMode::defer
                                                                               : StoreFailMode::allow;
  s.sender_routes = routes(c, "route_sender_domain");
  s.recipient_routes = routes(c, "route_recipient_domain");
  s.fallback_relay = c.get_string("policy", "route_fallback", "");

  // Cross-checks: a switched-on check without what it needs is a configuration error, never a
  // silently inactive check.
  const std::string where = c.file() + ": [policy] checks";
  if (enabled(CheckKind::relay) && s.local_domains.empty())
    throw config::ConfigError(where + ": relay needs local_domains");
  if (enabled(CheckKind::sender) && s.sender_map_path.empty())
    throw config::ConfigError(where + ": sender needs sender_map");
  if (enabled(CheckKind::rate) && s.limits.empty())
    throw config::ConfigError(where + ": rate needs at least one limit");
  if (enabled(CheckKind::route) && s.socketmap_path.empty())
    throw config::ConfigError(where + ": route needs socketmap_socket (the table Postfix queries)");
  if (enabled(CheckKind::route) && s.sender_routes.empty() && s.recipient_routes.empty() &&
      s.fallback_relay.empty())
    throw config::ConfigError(where + ": route needs route_sender_domain, route_recipient_domain "
                                      "or route_fallback");
  return s;
}

}  // namespace mailward::policy
