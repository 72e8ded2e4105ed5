#include "milters/milter/settings.h"

#include <unistd.h>

#include "common/util/text.h"

namespace mailward::milter {

namespace {

std::vector<net::Network> read_networks(const config::Config& c, std::string_view section,
                                        std::string_view key,
                                        const std::vector<net::Network>& fallback) {
  auto entries = c.find_all(section, key);
  if (entries.empty()) return fallback;
  std::vector<net::Network> out;
  for (const config::Entry* e : entries) {
    for (std::string_view item : text::split_list(e->value)) {
      auto n = net::Network::parse(item);
      if (!n) config::Config::fail(*e, "'" + std::string(item) + "' is not an address or network");
      out.push_back(*n);
    }
  }
  return out;
}

}  // namespace

std::string default_authserv_id() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return text::to_lower(name);
}

Settings load_settings(const config::Config& c) {
  Settings s;
  c.require_known_sections({"log", "dns", "milter", "spf", "dkim", "dkim-sign", "dmarc"},
                           // other parts of mailward read their own sections from the same file
                           {"policy", "notify", "webhook", "spam", "target", "store", "auth-policy"});

  c.require_known_keys("log", {"destination", "level"});
  if (const config::Entry* e = c.find("log", "destination")) {
    try {
      s.log.destination = log::parse_destination(e->value, s.log.file_path);
    } catch (const std::exception& ex) {
      config::Config::fail(*e, ex.what());
    }
  }
  if (const config::Entry* e = c.find("log", "level")) {
    if (!log::parse_level(e->value, s.log.min_level))
      config::Config::fail(*e, "'" + e->value + "' is not one of: debug, info, warning, error");
  }

  c.require_known_keys("dns", {"servers", "timeout", "attempts", "cache_entries"});
  s.dns_servers = c.get_list("dns", "servers", {});
  s.dns_timeout = c.get_duration("dns", "timeout", s.dns_timeout);
  if (s.dns_timeout.count() < 10)
    config::Config::fail(*c.find("dns", "timeout"), "must be at least 10ms");
  s.dns_attempts = static_cast<unsigned>(c.get_int("dns", "attempts", s.dns_attempts, 1, 10));
  s.dns_cache_entries =
      static_cast<std::size_t>(c.get_int("dns", "cache_entries", 20000, 0, 10'000'000));

  c.require_known_keys("milter", {"socket", "socket_mode", "socket_group", "user", "authserv_id",
                                  "fail_mode", "trusted_networks", "timeout"});
  s.socket_path = c.get_string("milter", "socket", s.socket_path);
  if (s.socket_path.empty() || s.socket_path.front() != '/')
    config::Config::fail(*c.find("milter", "socket"), "must be an absolute path");
  if (const config::Entry* e = c.find("milter", "socket_mode")) {
    unsigned long long mode = 0;
    bool ok = !e->value.empty();
    for (char ch : e->value) ok = ok && ch >= '0' && ch <= '7';
    if (ok) mode = std::stoull(e->value, nullptr, 8);
    if (!ok || mode > 0777) config::Config::fail(*e, "'" + e->value + "' is not an octal mode like 0660");
    if (mode & 0007) config::Config::fail(*e, "must not give access to other users (e.g. 0660)");
    s.socket_mode = static_cast<unsigned>(mode);
  }
  s.socket_group = c.get_string("milter", "socket_group", "");
  s.user = c.get_string("milter", "user", "");
  s.authserv_id = c.get_string("milter", "authserv_id", "");
  if (s.authserv_id.empty()) s.authserv_id = default_authserv_id();
  for (char ch : s.authserv_id)
    if (ch <= ' ' || ch == ';' || ch == '(' || ch == '"' || static_cast<unsigned char>(ch) >= 127)
      config::Config::fail(*c.find("milter", "authserv_id"), "must be a host name without spaces");
  s.fail_mode = c.get_choice("milter", "fail_mode", "tempfail", {"tempfail", "accept"}) == "accept"
                    ? FailMode::accept
                    : FailMode::tempfail;
  s.trusted_networks = read_networks(c, "milter", "trusted_networks", s.trusted_networks);
  s.milter_timeout = std::chrono::duration_cast<std::chrono::seconds>(
      c.get_duration("milter", "timeout", std::chrono::seconds(300)));

  c.require_known_keys("spf", {"enabled", "reject_fail"});
  s.spf_enabled = c.get_bool("spf", "enabled", true);
  s.spf_reject_fail = c.get_bool("spf", "reject_fail", false);

  c.require_known_keys("dkim", {"verify", "sign", "min_rsa_bits", "sign_headers",
                                "oversign_headers", "signature_lifetime"});
  s.dkim_verify = c.get_bool("dkim", "verify", true);
  s.dkim_sign = c.get_bool("dkim", "sign", true);
  s.dkim_min_rsa_bits = static_cast<unsigned>(c.get_int("dkim", "min_rsa_bits", 1024, 512, 16384));
  s.dkim_signed_headers = c.get_list("dkim", "sign_headers", {});
  s.dkim_oversigned_headers = c.get_list("dkim", "oversign_headers", {});
  for (auto& h : s.dkim_signed_headers) h = text::to_lower(h);
  for (auto& h : s.dkim_oversigned_headers) h = text::to_lower(h);
  if (!s.dkim_signed_headers.empty()) {
    bool has_from = false;
    for (const auto& h : s.dkim_signed_headers) has_from = has_from || h == "from";
    if (!has_from)
      config::Config::fail(*c.find("dkim", "sign_headers"),
                           "must include 'from' (RFC 6376 §5.4: From is always signed)");
  }
  s.dkim_signature_lifetime = std::chrono::duration_cast<std::chrono::seconds>(
      c.get_duration("dkim", "signature_lifetime", std::chrono::seconds(0)));

  c.require_known_keys("dkim-sign", {"key"});
  for (const config::Entry* e : c.find_all("dkim-sign", "key")) {
    auto parts = text::split_list(e->value);
    if (parts.size() != 3)
      config::Config::fail(*e, "expected 'DOMAIN SELECTOR /path/to/private.key'");
    SigningKeySpec k{text::normalize_domain(parts[0]), text::to_lower(parts[1]),
                     std::string(parts[2]), e->file + ":" + std::to_string(e->line)};
    if (k.key_file.front() != '/') config::Config::fail(*e, "key file must be an absolute path");
    s.signing_keys.push_back(std::move(k));
  }

  c.require_known_keys("dmarc", {"enabled", "enforce", "quarantine", "quarantine_header",
                                 "tempfail_on_temperror", "psl_file", "trusted_forwarders"});
  s.dmarc_enabled = c.get_bool("dmarc", "enabled", true);
  s.dmarc_enforce = c.get_bool("dmarc", "enforce", true);
  s.dmarc_quarantine = c.get_choice("dmarc", "quarantine", "header", {"header", "hold"}) == "hold"
                           ? QuarantineAction::hold
                           : QuarantineAction::header;
  s.dmarc_quarantine_header = c.get_string("dmarc", "quarantine_header", s.dmarc_quarantine_header);
  s.dmarc_tempfail_on_temperror = c.get_bool("dmarc", "tempfail_on_temperror", true);
  s.psl_file = c.get_string("dmarc", "psl_file", s.psl_file);
  s.trusted_forwarders = read_networks(c, "dmarc", "trusted_forwarders", {});

  s.spam = spam::load_spam_settings(c);
  return s;
}

}  // namespace mailward::milter
