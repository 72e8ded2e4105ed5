// mailward-milter's settings, read from the shared configuration file (common/config).
//
// load_settings() reads and validates every key the milter uses — unknown keys and sections are
// errors naming file and line — without starting anything, so `mailward-milter --check` and
// `mailward config check` share it. Key files are opened (and parsed) by load_signing_keys(), also
// without side effects, by Runtime (runtime.h). The reference for every key is README.md, "Configuration reference".
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/net/ip_address.h"
#include "milters/spam/rules/spam.h"

namespace mailward::milter {

enum class FailMode { tempfail, accept };
enum class QuarantineAction { header, hold };

struct SigningKeySpec {
  std::string domain;
  std::string selector;
  std::string key_file;
  std::string where;  // file:line, for messages
};

struct Settings {
  // [log]
  log::Settings log;
  // [dns]
  std::vector<std::string> dns_servers;  // HOST[:PORT]; empty: /etc/resolv.conf
  std::chrono::milliseconds dns_timeout{2000};
  unsigned dns_attempts = 2;
  std::size_t dns_cache_entries = 20000;
  // [milter]
  std::string socket_path = "/var/spool/postfix/mailward/milter.sock";
  unsigned socket_mode = 0660;
  std::string socket_group;  // e.g. postfix; empty: leave as created
  std::string user;          // drop privileges to this user after creating the socket
  std::string authserv_id;   // default: the host name
  FailMode fail_mode = FailMode::tempfail;
  std::vector<net::Network> trusted_networks{*net::Network::parse("127.0.0.1/32"),
                                             *net::Network::parse("::1/128")};
  std::chrono::seconds milter_timeout{300};
  // [spf]
  bool spf_enabled = true;
  bool spf_reject_fail = false;  // reject SPF hard fail without looking at DMARC (off: DMARC decides)
  // [dkim]
  bool dkim_verify = true;
  unsigned dkim_min_rsa_bits = 1024;
  bool dkim_sign = true;
  std::vector<std::string> dkim_signed_headers;      // empty: the library's default
  std::vector<std::string> dkim_oversigned_headers;  // empty: the library's default
  std::chrono::seconds dkim_signature_lifetime{0};   // x= after this long; 0: no x=
  // [dkim-sign]
  std::vector<SigningKeySpec> signing_keys;
  // [dmarc]
  bool dmarc_enabled = true;
  bool dmarc_enforce = true;
  QuarantineAction dmarc_quarantine = QuarantineAction::header;
  std::string dmarc_quarantine_header = "X-Mailward-Quarantine";
  bool dmarc_tempfail_on_temperror = true;  // DNS trouble deciding a policy: 451, never a guess
  std::string psl_file = "/usr/share/publicsuffix/public_suffix_list.dat";
  std::vector<net::Network> trusted_forwarders;  // DMARC failures from these are not enforced
  // [spam] (milters/spam/rules/spam.h): rules, GTUBE, DNSBL, authentication evidence, Bayes
  spam::SpamSettings spam;
};

// Throws config::ConfigError naming file, line and key.
Settings load_settings(const config::Config& config);
std::string default_authserv_id();

}  // namespace mailward::milter
