// `mailward dns DOMAIN`: the records a domain served by mailward publishes, and `--check`: what is
// published, record by record. Pure over a dns::Resolver (tests: dns::StaticResolver); the DKIM
// public keys are passed in (derived from the configured private keys by dkim_public_key()).
//
// Records (README.md in this directory, "mailward dns"):
//   MX        DOMAIN -> the MX host (RFC 5321 §5.1), plus A/AAAA of that host for each --ip;
//   SPF       "v=spf1 mx [ip4:/ip6: per --ip] [include: per --spf-include] -all" (RFC 7208 §5);
//   DKIM      SELECTOR._domainkey.DOMAIN "v=DKIM1; k=rsa|ed25519; p=..." per configured key
//             (RFC 6376 §3.6.1, RFC 8463 §4), split into 255-byte strings (RFC 1035 §3.3.14);
//   DMARC     _dmarc.DOMAIN "v=DMARC1; p=quarantine; rua=mailto:REPORT" (RFC 7489 §6.3). p=quarantine
//             is our choice: p=none protects nothing, p=reject from the first day loses legitimate
//             mail that a misconfigured forwarder or list breaks before the reports were read; move to
//             p=reject once the aggregate reports show only your own servers;
//   MTA-STS   _mta-sts.DOMAIN "v=STSv1; id=..." and the policy file (RFC 8461 §3.1, §3.2), mode
//             testing first (§5: reports without refusals);
//   TLS-RPT   _smtp._tls.DOMAIN "v=TLSRPTv1; rua=mailto:REPORT" (RFC 8460 §3);
//   PTR       a hint per --ip: the reverse name should point at the MX host (forward-confirmed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/dns/resolver.h"
#include "common/net/ip_address.h"
#include "milters/auth/dkim/dkim.h"
#include "milters/auth/dkim/key_record.h"

namespace mailward::setup {

struct DkimPublicKey {
  std::string selector;
  dkim::KeyType type = dkim::KeyType::rsa;
  std::string public_key;  // DER SubjectPublicKeyInfo (RSA) or 32 raw bytes (Ed25519), as p= decodes
  std::string key_file;    // for messages
};

struct DnsRequest {
  std::string domain;                  // normalised
  std::string mx;                      // MX host, normalised
  bool mx_given = false;               // --mx named it (check: it must be among the published MX)
  std::vector<net::IpAddress> ips;     // --ip
  std::vector<std::string> spf_includes;
  std::string report;                  // address for DMARC rua= and TLS-RPT rua=
  bool mta_sts = false;
  bool tls_rpt = false;
  std::vector<DkimPublicKey> dkim;
  std::string mta_sts_id;              // id= (changes whenever the policy does); e.g. a UTC timestamp
};

struct DnsRecord {
  std::string name;   // owner, no trailing dot
  std::string type;   // MX, A, AAAA, TXT, PTR
  std::string value;  // MX: "10 host."; A: address; TXT: the text (unquoted, unsplit)
  std::string what;   // SPF, DKIM, DMARC, MTA-STS, TLS-RPT, ...: for comments
};

std::vector<DnsRecord> records_for(const DnsRequest& request);
// The zone-file line: `name. IN TXT ( "..." "..." )` (TXT split into <=255-byte strings).
std::string zone_line(const DnsRecord& record);
// The MTA-STS policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461 §3.2).
std::string mta_sts_policy(const DnsRequest& request);
// The PTR record the owner of the address's reverse zone should publish.
DnsRecord ptr_hint(const DnsRequest& request, const net::IpAddress& ip);

enum class CheckStatus { ok, missing, wrong, warn, error };
std::string_view to_string(CheckStatus status) noexcept;

struct CheckLine {
  CheckStatus status = CheckStatus::ok;
  std::string what;    // MX, A, AAAA, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, PTR
  std::string name;    // the DNS name looked up
  std::string detail;
};

// One line per record, in the order records_for() prints them. `now` (unix time) for SPF macros.
std::vector<CheckLine> check_records(dns::Resolver& resolver, const DnsRequest& request, std::int64_t now);
// "ok       DKIM     sel._domainkey.ex.org  matches /etc/mailward/keys/ex.org.sel.key (rsa)"
std::string format_check_line(const CheckLine& line);

// The public half of a signing key as p= carries it (what dkim::generate_key publishes). Throws
// std::runtime_error when OpenSSL cannot encode it.
DkimPublicKey dkim_public_key(const dkim::SigningKey& key);

}  // namespace mailward::setup
