// The [notify] and [target.NAME] sections of mailward.conf, read once for both the Sieve plugin
// and mailward-notifyd. Every bad value or unknown key is a ConfigError naming file and line.
#include "common/notify/targets.h"

#include <algorithm>
#include <set>

#include "common/config/config.h"
#include "common/util/text.h"

namespace mailward::notify {

namespace {

using config::Config;
using config::Entry;

bool is_name_char(char c) {
  return text::is_alpha(c) || text::is_digit(c) || c == '_' || c == '-';
}

// RFC 9110 §5.6.2 token, used for header names and the method.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = text::is_alpha(c) || text::is_digit(c) ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool has_ctl(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// "60/1m", "10/30s", "5/h", "0" (unlimited).
RateLimit parse_rate(const Entry& e) {
  RateLimit r;
  std::string_view v = text::trim(e.value);
  std::size_t slash = v.find('/');
  unsigned long long count = 0;
  if (!text::parse_uint(v.substr(0, slash), 1'000'000, count))
    Config::fail(e, "'" + e.value + "' is not a rate (COUNT/PERIOD, e.g. 60/1m)");
  r.count = static_cast<unsigned>(count);
  if (slash == std::string_view::npos) {
    if (count != 0) Config::fail(e, "'" + e.value + "' has no period (e.g. 60/1m)");
    return r;
  }
  std::string_view period = v.substr(slash + 1);
  std::size_t digits = 0;
  while (digits < period.size() && text::is_digit(period[digits])) ++digits;
  unsigned long long n = 1;
  if (digits > 0 && !text::parse_uint(period.substr(0, digits), 1'000'000, n))
    Config::fail(e, "'" + e.value + "' has a bad period");
  std::string_view unit = period.substr(digits);
  unsigned long long seconds = 0;
  if (unit == "s") seconds = 1;
  else if (unit == "m") seconds = 60;
  else if (unit == "h") seconds = 3600;
  else if (unit == "d") seconds = 86400;
  else Config::fail(e, "'" + e.value + "' has a bad period unit (use s, m, h or d)");
  if (n == 0) Config::fail(e, "'" + e.value + "' has a zero period");
  r.per = std::chrono::seconds(static_cast<long long>(n * seconds));
  return r;
}

PayloadFormat parse_format(const std::string& s) {
  if (s == "ntfy") return PayloadFormat::ntfy;
  if (s == "gotify") return PayloadFormat::gotify;
  if (s == "pushover") return PayloadFormat::pushover;
  if (s == "ifttt") return PayloadFormat::ifttt;
  if (s == "slack") return PayloadFormat::slack;
  if (s == "mattermost") return PayloadFormat::mattermost;
  if (s == "discord") return PayloadFormat::discord;
  return PayloadFormat::generic;
}

bool valid_host_pattern(std::string_view h) {
  if (h.starts_with("*.")) h.remove_prefix(2);
  if (h.empty()) return false;
  for (char c : h) {
    if (!(text::is_alpha(c) || text::is_digit(c) || c == '-' || c == '.')) return false;
  }
  return true;
}

Target parse_target(const Config& c, const std::string& section) {
  static const std::set<std::string, std::less<>> kKeys = {
      "url",          "format",         "method",        "header",      "secret_file",
      "timeout",      "max_attempts",   "max_age",       "rate_per_target", "rate_per_user",
      "users",        "allow_user_url", "url_hosts",     "snippet",     "ca_file",
      "token_file",   "pushover_user"};
  c.require_known_keys(section, kKeys);
  Target t;
  t.name = section.substr(std::string_view("target.").size());

  const Entry* url = c.find(section, "url");
  if (!url) {
    throw config::ConfigError(c.file() + ": [" + section + "] url: missing (every target needs one)");
  }
  UrlParts parts;
  if (!parse_url(url->value, parts) || has_ctl(url->value))
    Config::fail(*url, "'" + url->value + "' is not an http:// or https:// URL with a host");
  t.url = url->value;

  t.format = parse_format(c.get_choice(section, "format", "generic",
                                       {"generic", "ntfy", "gotify", "pushover", "ifttt", "slack",
                                        "mattermost", "discord"}));
  if (const Entry* e = c.find(section, "method")) {
    if (!is_token(e->value)) Config::fail(*e, "'" + e->value + "' is not an HTTP method");
    t.method = e->value;
  }
  for (const Entry* e : c.find_all(section, "header")) {
    std::size_t colon = e->value.find(':');
    std::string_view name =
        colon == std::string::npos ? std::string_view() : text::trim(std::string_view(e->value).substr(0, colon));
    if (colon == std::string::npos || !is_token(name) || has_ctl(e->value))
      Config::fail(*e, "'" + e->value + "' is not 'Name: value'");
    t.headers.emplace_back(std::string(name),
                           std::string(text::trim(std::string_view(e->value).substr(colon + 1))));
  }
  t.secret_file = c.get_string(section, "secret_file", "");
  t.ca_file = c.get_string(section, "ca_file", "");
  t.token_file = c.get_string(section, "token_file", "");
  t.pushover_user = c.get_string(section, "pushover_user", "");
  for (const char* key : {"secret_file", "ca_file", "token_file"}) {
    if (const Entry* e = c.find(section, key); e && !e->value.starts_with("/"))
      Config::fail(*e, "'" + e->value + "' is not an absolute path");
  }
  if (t.format == PayloadFormat::pushover) {
    if (t.token_file.empty())
      throw config::ConfigError(c.file() + ": [" + section +
                                "] token_file: format pushover needs the application token file");
    if (t.pushover_user.empty())
      throw config::ConfigError(c.file() + ": [" + section +
                                "] pushover_user: format pushover needs the user key");
  }
  t.timeout = c.get_duration(section, "timeout", std::chrono::milliseconds(5000));
  if (t.timeout.count() < 1 || t.timeout > std::chrono::minutes(10))
    Config::fail(*c.find(section, "timeout"), "must be between 1ms and 10m");
  t.max_attempts = static_cast<unsigned>(c.get_int(section, "max_attempts", 12, 1, 1000));
  auto age = c.get_duration(section, "max_age", std::chrono::milliseconds(86'400'000));
  if (age < std::chrono::seconds(1)) Config::fail(*c.find(section, "max_age"), "must be at least 1s");
  t.max_age = std::chrono::duration_cast<std::chrono::seconds>(age);
  if (const Entry* e = c.find(section, "rate_per_target")) t.rate_per_target = parse_rate(*e);
  if (const Entry* e = c.find(section, "rate_per_user")) t.rate_per_user = parse_rate(*e);
  for (const Entry* e : c.find_all(section, "users")) {
    for (std::string_view u : text::split_list(e->value)) {
      bool ok = u == "*" || (u.size() > 1 && u.front() == '@') ||
                (u.find('@') != std::string_view::npos && u.front() != '@');
      if (!ok) Config::fail(*e, "'" + std::string(u) + "' is not user@domain, @domain or *");
      t.users.push_back(text::to_lower(u));
    }
  }
  t.allow_user_url = c.get_bool(section, "allow_user_url", false);
  for (const Entry* e : c.find_all(section, "url_hosts")) {
    for (std::string_view h : text::split_list(e->value)) {
      if (!valid_host_pattern(h))
        Config::fail(*e, "'" + std::string(h) + "' is not a host name or *.domain");
      t.url_hosts.push_back(text::normalize_domain(h));
    }
  }
  if (t.allow_user_url && t.url_hosts.empty())
    Config::fail(*c.find(section, "allow_user_url"), "needs url_hosts (the allowlist for :url)");
  t.snippet_bytes = static_cast<std::size_t>(c.get_int(section, "snippet", 0, 0, 65536));
  return t;
}

}  // namespace

std::string_view to_string(PayloadFormat format) {
  switch (format) {
    case PayloadFormat::generic: return "generic";
    case PayloadFormat::ntfy: return "ntfy";
    case PayloadFormat::gotify: return "gotify";
    case PayloadFormat::pushover: return "pushover";
    case PayloadFormat::ifttt: return "ifttt";
    case PayloadFormat::slack: return "slack";
    case PayloadFormat::mattermost: return "mattermost";
    case PayloadFormat::discord: return "discord";
  }
  return "generic";
}

bool Target::allows_user(std::string_view user) const {
  std::string u = text::to_lower(user);
  std::size_t at = u.rfind('@');
  for (const std::string& pattern : users) {
    if (pattern == "*") return true;
    if (pattern.front() == '@') {
      if (at != std::string::npos && std::string_view(u).substr(at) == pattern) return true;
    } else if (pattern == u) {
      return true;
    }
  }
  return false;
}

const Target* NotifySettings::find(std::string_view name) const {
  for (const Target& t : targets)
    if (t.name == name) return &t;
  return nullptr;
}

bool parse_url(std::string_view url, UrlParts& out) {
  out = UrlParts{};
  std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) return false;
  out.scheme = text::to_lower(url.substr(0, sep));
  if (out.scheme == "https") out.port = 443;
  else if (out.scheme == "http") out.port = 80;
  else return false;
  std::string_view rest = url.substr(sep + 3);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  out.path = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (authority.find('@') != std::string_view::npos) return false;  // no userinfo: ambiguous hosts
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
    }
  } else if (std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return false;
  for (char c : host) {
    if (!(text::is_alpha(c) || text::is_digit(c) || c == '-' || c == '.' || c == ':' || c == '_'))
      return false;
  }
  if (!port.empty() || authority.ends_with(":")) {
    unsigned long long p = 0;
    if (!text::parse_uint(port, 65535, p) || p == 0) return false;
    out.port = static_cast<unsigned>(p);
  }
  out.host = text::normalize_domain(host);
  return true;
}

bool host_allowed(std::string_view host, const std::vector<std::string>& allowlist) {
  std::string h = text::normalize_domain(host);
  for (const std::string& entry : allowlist) {
    std::string p = text::normalize_domain(entry);
    if (p.starts_with("*.")) {
      std::string_view suffix = std::string_view(p).substr(1);  // ".example.net"
      if (h.size() > suffix.size() && std::string_view(h).ends_with(suffix)) return true;
    } else if (h == p) {
      return true;
    }
  }
  return false;
}

NotifySettings parse_notify_settings(const Config& c) {
  NotifySettings s;
  c.require_known_keys("notify", {"spool", "per_message_limit", "user", "metrics_listen",
                                  "rescan_interval", "max_in_flight", "log", "log_level", "log_sent",
                                  "batch_window"});
  if (const Entry* e = c.find("notify", "spool")) {
    if (!e->value.starts_with("/")) Config::fail(*e, "'" + e->value + "' is not an absolute path");
    s.spool = e->value;
  }
  s.per_message_limit = static_cast<unsigned>(c.get_int("notify", "per_message_limit", 3, 1, 100));
  s.user = c.get_string("notify", "user", "");
  s.metrics_listen = c.get_string("notify", "metrics_listen", "");
  if (const Entry* e = c.find("notify", "metrics_listen")) {
    std::size_t colon = e->value.rfind(':');
    unsigned long long port = 0;
    if (colon == std::string::npos ||
        !text::parse_uint(std::string_view(e->value).substr(colon + 1), 65535, port))
      Config::fail(*e, "'" + e->value + "' is not ADDRESS:PORT");
  }
  auto rescan = c.get_duration("notify", "rescan_interval", std::chrono::seconds(30));
  if (rescan < std::chrono::seconds(1) || rescan > std::chrono::hours(1))
    Config::fail(*c.find("notify", "rescan_interval"), "must be between 1s and 1h");
  s.rescan_interval = std::chrono::duration_cast<std::chrono::seconds>(rescan);
  s.max_in_flight = static_cast<unsigned>(c.get_int("notify", "max_in_flight", 64, 1, 10000));
  s.batch_window = c.get_duration("notify", "batch_window", std::chrono::milliseconds(10));
  if (s.batch_window > std::chrono::seconds(1))
    Config::fail(*c.find("notify", "batch_window"), "must be between 0 and 1s");
  s.log = c.get_string("notify", "log", "");
  s.log_level = c.get_string("notify", "log_level", "");
  if (const Entry* e = c.find("notify", "log_sent")) {
    if (e->value == "debug") s.log_sent_debug = true;
    else if (e->value != "info") Config::fail(*e, "'" + e->value + "' is not info or debug");
  }

  // Sections in file order: by their first entry (a section with no entries has no url and
  // fails below either way).
  std::vector<std::string> names;
  for (const Entry& e : c.entries()) {
    if (e.section.starts_with("target.") &&
        std::find(names.begin(), names.end(), e.section) == names.end())
      names.push_back(e.section);
  }
  for (const std::string& name : c.sections_with_prefix("target.")) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  for (const std::string& section : names) {
    std::string_view tname = std::string_view(section).substr(7);
    bool ok = !tname.empty() && tname.size() <= 64;
    for (char ch : tname) ok = ok && is_name_char(ch);
    if (!ok)
      throw config::ConfigError(c.file() + ": [" + section +
                                "]: a target name is 1-64 letters, digits, '_' or '-'");
    s.targets.push_back(parse_target(c, section));
  }
  return s;
}

}  // namespace mailward::notify
