// The spam score of a message: named contributions from rules (rules.h), GTUBE, DNS blocklists
// (dnsbl.h), the SPF/DKIM/DMARC results the milter computed in process, and a classifier (Bayes);
// and the actions that follow from it (X-Spam-* header fields, reject above a threshold).
//
//   SpamChecker checker(settings);                 // once per process; throws on a bad rules file
//   ParsedMail mail = parse_mail(raw);             // once per message (milters/spam/content)
//   SpamScore s; checker.score(mail, raw_body, request, resolver, s, error);
//   SpamActions a = decide(s, settings);           // header fields to add, reject or not
//
// Header fields follow SpamAssassin's form, which Sieve scripts already test:
//   X-Spam-Flag: YES                                        (only when score >= required_score)
//   X-Spam-Score: 6.2
//   X-Spam-Status: Yes, score=6.2 required=5.0 tests=BAYES_99,GTUBE,RCVD_IN_ZEN_EXAMPLE
// ("No, ..." below the required score; tests sorted by name, "tests=none" when nothing fired).
// Existing X-Spam-* fields are removed by the milter so that senders cannot forge a verdict.
//
// Configuration: the [spam] section (README "Configuration reference"; load_spam_settings()).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "common/dns/resolver.h"
#include "common/net/ip_address.h"
#include "milters/spam/content/parsed_mail.h"
#include "milters/spam/rules/dnsbl.h"
#include "milters/spam/rules/rules.h"

namespace mailward::spam {

// A classifier's opinion (the Bayes engineer implements SpamClassifier).
struct ClassifierResult {
  double probability = 0.5;  // P(spam)
  double score = 0;          // contribution to the total
  std::string name;          // e.g. "BAYES_99"
  std::string description;   // e.g. "Bayes spam probability is 99 to 100%"
};

class SpamClassifier {
 public:
  virtual ~SpamClassifier() = default;
  // nullopt: no opinion (untrained model, store unavailable). Thread-safe; must not throw (a throw is
  // caught and treated as an internal error of the scoring).
  virtual std::optional<ClassifierResult> classify(const ParsedMail& mail, std::string_view user) = 0;
};

// What the authentication checks found (in process, never read from header fields).
struct AuthEvidence {
  bool known = false;             // false: not checked (outgoing mail, the CLI)
  bool spf_fail = false;
  bool spf_softfail = false;
  bool dkim_aligned_pass = false; // a valid DKIM signature whose d= aligns with From (RFC 7489 §3.1.1)
  bool dmarc_fail = false;
  bool dmarc_none = false;        // no DMARC policy published
};

struct SpamSettings {
  bool enabled = false;                   // [spam] enabled
  std::string rules_file;                 // empty: the shipped default rules (compiled in)
  double required_score = 5.0;            // X-Spam-Flag: YES at or above (SpamAssassin's required_score)
  std::optional<double> reject_score = 15.0;  // 550 at or above; nullopt: never reject ("off")
  bool score_outgoing = false;            // also score SASL / trusted-network mail
  bool add_headers = true;                // X-Spam-Score / -Status / -Flag
  std::size_t max_scan_bytes = 1u << 20;  // bytes of a message scored (the rest is not looked at)
  DnsblSettings dnsbl;
  // Authentication results as evidence (rule names in parentheses).
  double spf_fail_score = 1.0;          // (SPF_FAIL)
  double spf_softfail_score = 0.5;      // (SPF_SOFTFAIL)
  double dmarc_fail_score = 2.0;        // (DMARC_FAIL)
  double dmarc_none_score = 0.1;        // (DMARC_NONE)
  double dkim_aligned_score = -1.0;     // (DKIM_VALID_ALIGNED)
};

// Reads [spam]; throws config::ConfigError naming file:line. Keys starting with "bayes_" are left to
// the classifier (not checked here).
SpamSettings load_spam_settings(const config::Config& config);

// The rules shipped in milters/spam/rules/default.rules (compiled into the binary).
std::string_view default_rules_text() noexcept;

struct Contribution {
  std::string name;
  double score = 0;
  std::string description;
};

struct SpamScore {
  std::vector<Contribution> contributions;  // in the order found: GTUBE/rules, DNSBL, auth, classifier
  double total = 0;
  std::vector<std::string> problems;        // DNS timeouts etc., for the log; never change the score
  bool has(std::string_view name) const;
};

struct SpamRequest {
  std::optional<net::IpAddress> client;
  AuthEvidence auth;
  std::string user;      // for per-user classifier data; "" = global
  bool use_dns = true;   // DNSBL lookups (off for the CLI)
};

class SpamChecker {
 public:
  // Loads and compiles the rules; throws std::runtime_error with "file:line: ..." on a bad rule file.
  explicit SpamChecker(SpamSettings settings, std::shared_ptr<SpamClassifier> classifier = nullptr);

  // Scores `mail` (`raw_body`: the body as received, for rawbody rules). Returns false and sets
  // `error` on an internal failure (the caller applies its fail mode); never throws. `resolver` may
  // be null (no DNSBL).
  bool score(const ParsedMail& mail, std::string_view raw_body, const SpamRequest& request,
             dns::Resolver* resolver, SpamScore& out, std::string& error) const;

  const SpamSettings& settings() const noexcept { return settings_; }
  const RuleSet& rules() const noexcept { return *rules_; }
  // Set before first use (not synchronised).
  void set_classifier(std::shared_ptr<SpamClassifier> c) { classifier_ = std::move(c); }
  void set_domain_mapper(DomainMapper m) { mapper_ = std::move(m); }

 private:
  SpamSettings settings_;
  std::shared_ptr<const RuleSet> rules_;
  std::shared_ptr<SpamClassifier> classifier_;
  DomainMapper mapper_;
};

struct SpamActions {
  bool spam = false;    // total >= required_score
  bool reject = false;  // total >= reject_score
  std::string reply_text;  // for reject: "Message rejected as spam (score 1000.0 >= 15.0): GTUBE, ..."
  std::vector<std::pair<std::string, std::string>> headers;  // name, value (" ..." with leading space)
};

SpamActions decide(const SpamScore& score, const SpamSettings& settings);

// "6.2": one decimal, as SpamAssassin prints scores ("-1.0", never "-0.0").
std::string format_score(double score);

// The X-Spam-* field names the milter removes from incoming mail (lowercase).
const std::vector<std::string>& spam_header_names();

// For `mailward spam score`: the full score of one message (rules + GTUBE + classifier), no DNS and
// no authentication evidence. Never throws; on an internal error the score holds what was found and
// `error` says what failed.
SpamScore score_message(const SpamChecker& checker, std::string_view raw_message,
                        std::string_view user, std::string* error = nullptr);

}  // namespace mailward::spam
