// DMARC (RFC 7489): record parsing, organizational domains on the Public Suffix List (libpsl),
// policy discovery through dns::Resolver, identifier alignment, p/sp/pct, and the choice of the
// RFC5322.From domain. Two DMARCbis (RFC 9989) features are supported as well: np= (policy for
// non-existent subdomains) and t=y (test mode). The DNS tree walk and psd= of RFC 9989 are not: the
// organizational domain comes from the PSL, as RFC 7489 §3.2 says.
//
// DMARC is handed the SPF and DKIM results (Input); it never recomputes them. Verdicts and parse
// errors are values; nothing here throws except PublicSuffixList's loaders (start-up configuration).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/dns/resolver.h"
#include "common/mail/message.h"

namespace mailward::dmarc {

enum class Policy : std::uint8_t { none, quarantine, reject };
enum class Alignment : std::uint8_t { relaxed, strict };

struct Record {
  Policy policy = Policy::none;                         // p=
  std::optional<Policy> subdomain_policy;               // sp=
  std::optional<Policy> nonexistent_subdomain_policy;   // np= (RFC 9989 §4.7)
  Alignment dkim_alignment = Alignment::relaxed;        // adkim=
  Alignment spf_alignment = Alignment::relaxed;         // aspf=
  unsigned percent = 100;                               // pct= (0..100)
  std::vector<std::string> aggregate_report_uris;       // rua=, as written (with any "!size")
  std::vector<std::string> failure_report_uris;         // ruf=
  std::string failure_options = "0";                    // fo=, lowercased, e.g. "0", "1:d"
  std::string report_format = "afrf";                   // rf=
  std::uint32_t report_interval = 86400;                // ri= (seconds)
  bool test_mode = false;                               // t=y (RFC 9989 §4.7)
  std::optional<bool> public_suffix_domain;             // psd= (RFC 9989), parsed, not acted upon
};

enum class RecordError : std::uint8_t {
  none,
  not_dmarc,  // the first tag is not exactly "v=DMARC1": not a DMARC record at all (§6.6.3 step 2)
  invalid,    // a DMARC record that cannot be used: no valid p= (or a bad sp=) and no valid rua= (§6.6.3)
};

struct RecordParse {
  std::optional<Record> record;
  std::string error;                    // why there is no record (empty when record is set)
  RecordError kind = RecordError::none;
  std::vector<std::string> warnings;    // tags ignored or defaulted (§6.3: syntax errors are discarded)
};

// Parses one TXT record (its strings already concatenated). v=DMARC1 must be the first tag, exactly
// (RFC 7489 §6.4 ABNF, %x-coded so case-sensitive). Tag names and keyword values are
// case-insensitive; whitespace around '=' and ';' is allowed. Unknown tags are ignored (§6.3).
// A missing or invalid p= (or invalid sp=) with at least one valid rua= URI gives p=none with a
// warning; without one the record is RecordError::invalid (§6.6.3). Other bad values fall back to
// their defaults with a warning (§6.3).
RecordParse parse_record(std::string_view txt);
// True when the record starts with the v=DMARC1 tag (the §6.6.3 step 2 filter).
bool is_dmarc_record(std::string_view txt);

class PublicSuffixList {  // wraps libpsl; thread-safe after construction (read-only)
 public:
  // Loads a list in the PSL text format (or libpsl's DAFSA); throws std::runtime_error naming the file
  // when it cannot be read or holds no rules.
  static PublicSuffixList load_file(const std::string& path);
  // Debian's /usr/share/publicsuffix list (libpsl's psl_latest: the newer of that file and the built-in
  // list), else libpsl's built-in list; throws std::runtime_error when neither exists.
  static PublicSuffixList system_default();

  // The registrable domain (public suffix + one label), lowercased, or nullopt when `domain` is itself
  // a public suffix, empty, starts with '.', or has an empty label. ICANN and PRIVATE sections both
  // count (so victim.github.io is its own registrable domain), and a TLD missing from the list is a
  // public suffix (the implicit "*" rule).
  std::optional<std::string> registrable_domain(std::string_view domain) const;
  // RFC 7489 §3.2: the registrable domain; when there is none (a public suffix, a single label, an IP
  // address), the normalised domain itself. Interpretation: §3.2 does not define the result for a
  // public suffix; using the name itself means it aligns only with itself.
  std::string organizational_domain(std::string_view domain) const;

 private:
  struct Context;
  explicit PublicSuffixList(std::shared_ptr<const Context> ctx) : ctx_(std::move(ctx)) {}
  std::shared_ptr<const Context> ctx_;
};

// The Authentication-Results words for dmarc (RFC 7489 §11.2, registered under RFC 8601).
enum class Status : std::uint8_t { none, pass, fail, temperror, permerror };
std::string_view to_string(Status) noexcept;
std::string_view to_string(Policy) noexcept;
std::string_view to_string(Alignment) noexcept;

struct Input {
  std::string from_domain;                     // RFC5322.From domain (see from_domain_of)
  std::string spf_domain;                      // SPF-authenticated identifier (MAIL FROM domain, or HELO when MAIL FROM is <>)
  bool spf_pass = false;                       // SPF result for spf_domain was pass
  std::vector<std::string> dkim_pass_domains;  // d= of every signature that verified
};

struct Result {
  Status status = Status::none;
  Policy published = Policy::none;   // the policy the domain asks for (p, sp or np)
  Policy applied = Policy::none;     // what the receiver should do: none unless status is fail; after pct/t=
  bool sampled_out = false;          // fail, pct < 100 and the caller's draw fell outside it (§6.6.4)
  bool test_mode = false;            // fail and the record says t=y (RFC 9989): applied is one step milder
  bool spf_aligned = false, dkim_aligned = false;
  std::string spf_aligned_domain;    // spf_domain when it aligned
  std::string dkim_aligned_domain;   // the first d= that aligned
  std::string header_from;           // from_domain, normalised
  std::string organizational_domain; // of header_from
  std::string record_domain;         // where the record was found ("" when none)
  std::string record_text;           // the record as published
  std::optional<Record> record;      // the record that applied
  std::string reason;                // human readable, for logs and Authentication-Results comments
};

// percent_draw: a number in [0,100) chosen by the caller (random in production, fixed in tests); the
// message is subject to the policy when percent_draw < pct.
Result evaluate(dns::Resolver&, const PublicSuffixList&, const Input&, unsigned percent_draw);

// Policy discovery alone (RFC 7489 §6.6.3): _dmarc.<domain>, then _dmarc.<organizational domain>.
enum class DiscoveryStatus : std::uint8_t { found, none, temperror, permerror };
struct Discovery {
  DiscoveryStatus status = DiscoveryStatus::none;
  std::optional<Record> record;   // set when found
  std::string record_text;
  std::string record_domain;      // the domain whose _dmarc name held the record
  std::string organizational_domain;
  bool is_organizational = false; // the record came from the organizational-domain query
  std::vector<std::string> warnings;
  std::string detail;             // why none / temperror / permerror
};
Discovery discover_record(dns::Resolver&, const PublicSuffixList&, std::string_view domain);

// The RFC5322.From domain(s), decided in one place.
//   - exactly one From field holding exactly one mailbox with a domain name: that domain;
//   - several mailboxes or several From fields (RFC 5322 §3.6 allows neither without Sender / at all)
//     whose domains are all the same: that domain, with a note;
//   - several distinct domains: `domain` is empty, `problem` says so and `domains` lists them all, so a
//     caller may evaluate each and apply the strictest outcome (RFC 7489 §6.6.1) with evaluate_all();
//     an attacker can never make the receiver pick the weakest one;
//   - no From field, an unparseable one, an empty group, a domain literal or a malformed domain name:
//     `domain` is empty and `problem` says why (§6.6.1 lets the receiver reject such mail; the caller
//     decides, and should say so in its reply rather than drop the message silently).
struct FromDomain {
  std::string domain;               // empty => problem says why
  std::string problem;
  std::vector<std::string> domains; // every distinct author domain, in order (when they parsed)
  std::string note;                 // tolerated irregularity (duplicate From fields, several mailboxes)
};
FromDomain from_domain_of(const std::vector<mail::HeaderField>& headers);

// RFC 7489 §6.6.1 for several author domains: evaluates each (input.from_domain is replaced) and
// returns the worst: a fail with the strictest applied policy, else temperror, permerror, none, pass.
Result evaluate_all(dns::Resolver&, const PublicSuffixList&, const std::vector<std::string>& from_domains,
                    const Input& input, unsigned percent_draw);

// A syntactically usable DNS domain name: 1..253 octets, labels 1..63 octets, no spaces or controls.
bool is_domain_name(std::string_view domain);

}  // namespace mailward::dmarc
