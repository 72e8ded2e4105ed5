// Sender Policy Framework evaluation (RFC 7208): check_host() of §4 for the MAIL FROM and HELO
// identities. Pure logic: DNS only through dns::Resolver, time passed in the Request. A verdict is a
// value, never an exception. Every limit of §4.6.4 is a single budget for the whole evaluation,
// shared by all include and redirect levels (never reset per include).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/dns/resolver.h"
#include "common/net/ip_address.h"

namespace mailward::spf {

enum class Result { none, neutral, pass, fail, softfail, temperror, permerror };
std::string_view to_string(Result) noexcept;  // RFC 7208 §2.6 words: "pass", "fail", ...

enum class Identity { mail_from, helo };
std::string_view to_string(Identity) noexcept;  // "mailfrom", "helo" (RFC 7208 §9.1 identity=)

struct Request {
  net::IpAddress client_ip;   // may be IPv4-mapped IPv6: evaluated as IPv4 (RFC 7208 §5)
  std::string mail_from;      // envelope sender without <>, "" for the null reverse-path
  std::string helo;           // HELO/EHLO argument as given
  std::string receiver = "unknown";  // %{r}
  std::int64_t now = 0;       // unix time, for %{t}
};

struct Limits {
  unsigned dns_terms = 10;        // include, a, mx, ptr, exists, redirect (§4.6.4)
  unsigned void_lookups = 2;      // NXDOMAIN or empty answers (§4.6.4)
  unsigned names_per_mx_ptr = 10; // MX exchanges (more: permerror) / PTR names (more: ignored)
};

struct Verdict {
  Result result = Result::none;
  Identity identity = Identity::mail_from;
  std::string domain;       // the domain whose policy was evaluated
  std::string sender;       // the identity as checked: "local@domain", or "postmaster@helo" (§2.4)
  std::string mechanism;    // the term that matched, e.g. "ip4:192.0.2.0/24", "-all", or "default"
  std::string explanation;  // expanded exp= text (fail only), else ""
  std::string problem;      // human-readable reason for none/permerror/temperror
  unsigned dns_lookups = 0; // DNS-querying terms used (§4.6.4), all levels
  unsigned void_lookups = 0;
};

// MAIL FROM identity (§2.4); a null reverse-path is checked as "postmaster@<helo>".
Verdict check_mail_from(dns::Resolver&, const Request&, const Limits& = {});
// HELO identity (§2.3); a HELO that is not a multi-label domain name (an address literal, a bare
// word) gives none.
Verdict check_helo(dns::Resolver&, const Request&, const Limits& = {});
// check_host() of RFC 7208 §4 for a given domain and sender, for tools and tests.
Verdict check_host(dns::Resolver&, const Request&, std::string_view domain, std::string_view sender,
                   Identity, const Limits& = {});

// RFC 7208 §4.3: a domain check_host() can evaluate: multi-label, labels of 1..63 octets, at most
// 253 octets without the trailing dot, no address literal.
bool valid_domain(std::string_view domain) noexcept;

}  // namespace mailward::spf
