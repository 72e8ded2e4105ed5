// DMARC evaluation (RFC 7489 §6.6): policy discovery (§6.6.3), identifier alignment (§3.1),
// pass/fail (§6.6.2, §4.2), the policy that applies (p / sp, and np from RFC 9989 for non-existent
// subdomains), pct sampling (§6.6.4) and t=y test mode (RFC 9989); and the choice of the
// RFC5322.From domain (§6.6.1).
#include <string>

#include "common/mail/address.h"
#include "common/util/text.h"
#include "milters/auth/dmarc/dmarc.h"

namespace mailward::dmarc {

std::string_view to_string(Status s) noexcept {
  switch (s) {
    case Status::none: return "none";
    case Status::pass: return "pass";
    case Status::fail: return "fail";
    case Status::temperror: return "temperror";
    case Status::permerror: return "permerror";
  }
  return "permerror";
}

std::string_view to_string(Policy p) noexcept {
  switch (p) {
    case Policy::none: return "none";
    case Policy::quarantine: return "quarantine";
    case Policy::reject: return "reject";
  }
  return "none";
}

std::string_view to_string(Alignment a) noexcept { return a == Alignment::strict ? "strict" : "relaxed"; }

bool is_domain_name(std::string_view domain) {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > 253) return false;
  std::size_t label = 0;
  for (char ch : domain) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (c <= 0x20 || c == 0x7f) return false;
    switch (c) {
      case '@': case '[': case ']': case '(': case ')': case '<': case '>': case ',': case ';':
      case ':': case '\\': case '"':
        return false;
      default:
        break;
    }
    if (++label > 63) return false;
  }
  return label > 0;
}

namespace {

// One level of §6.6.3: the TXT records at _dmarc.<domain>.
enum class Step : std::uint8_t { found, nothing, several, invalid, temperror };

Step query(dns::Resolver& resolver, const std::string& domain, Discovery& out) {
  const std::string name = "_dmarc." + domain;
  if (!is_domain_name(name)) return Step::nothing;  // cannot exist in the DNS
  const dns::Answer answer = resolver.lookup(name, dns::RecordType::txt);
  if (answer.is_temporary_failure()) {
    out.detail = "DNS " + std::string(dns::to_string(answer.status)) + " looking up " + name +
                 (answer.error.empty() ? "" : ": " + answer.error);
    return Step::temperror;
  }
  if (answer.status != dns::Status::ok) return Step::nothing;
  // §6.6.3 step 2: records that do not start with v=DMARC1 are discarded.
  std::vector<const std::string*> records;
  for (const std::string& t : answer.texts)
    if (is_dmarc_record(t)) records.push_back(&t);
  if (records.empty()) return Step::nothing;
  if (records.size() > 1) {
    // §6.6.3 step 5: several records end discovery; DMARC is not applied (no fallback either).
    out.detail = std::to_string(records.size()) + " DMARC records at " + name + " (RFC 7489 §6.6.3: none applies)";
    return Step::several;
  }
  RecordParse parsed = parse_record(*records.front());
  out.record_text = *records.front();
  out.record_domain = domain;
  out.warnings = std::move(parsed.warnings);
  if (!parsed.record) {
    out.detail = "DMARC record at " + name + " unusable: " + parsed.error;
    return Step::invalid;
  }
  out.record = std::move(parsed.record);
  return Step::found;
}

Discovery finish(Discovery d, Step step) {
  switch (step) {
    case Step::found: d.status = DiscoveryStatus::found; break;
    case Step::temperror: d.status = DiscoveryStatus::temperror; break;
    // Interpretation: a record that starts with v=DMARC1 but cannot be used is reported as permerror
    // ("a syntactically incorrect DMARC record", RFC 7489 §11.2); no policy applies (§6.6.3).
    case Step::invalid: d.status = DiscoveryStatus::permerror; break;
    case Step::several:
    case Step::nothing: d.status = DiscoveryStatus::none; break;
  }
  return d;
}

Policy milder(Policy p) {
  return p == Policy::reject ? Policy::quarantine : Policy::none;
}

// RFC 9091 §2.7 / RFC 9989: a non-existent domain has no A, AAAA or MX records. NXDOMAIN on the first
// query settles it (RFC 8020). Interpretation: a DNS failure counts as existing, so an unreachable
// server never makes the stricter or milder np= apply by accident; sp/p apply instead.
bool domain_exists(dns::Resolver& resolver, const std::string& domain) {
  for (dns::RecordType type : {dns::RecordType::a, dns::RecordType::aaaa, dns::RecordType::mx}) {
    const dns::Answer a = resolver.lookup(domain, type);
    if (a.status == dns::Status::nxdomain) return false;
    if (a.status != dns::Status::ok || a.has_records()) return true;
  }
  return false;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

Discovery discover_record(dns::Resolver& resolver, const PublicSuffixList& psl, std::string_view domain) {
  Discovery d;
  const std::string author = text::normalize_domain(domain);
  d.organizational_domain = psl.organizational_domain(author);
  if (!is_domain_name(author)) {
    d.status = DiscoveryStatus::permerror;
    d.detail = "\"" + author + "\" is not a domain name";
    return d;
  }
  Step step = query(resolver, author, d);
  if (step != Step::nothing) return finish(std::move(d), step);
  // §6.6.3 step 3: nothing at the author domain: ask the organizational domain, unless it is the same.
  if (d.organizational_domain != author) {
    d.is_organizational = true;
    step = query(resolver, d.organizational_domain, d);
    if (step != Step::nothing) return finish(std::move(d), step);
    d.is_organizational = false;
  }
  d.detail = "no DMARC record for " + author +
             (d.organizational_domain != author ? " or " + d.organizational_domain : std::string());
  return finish(std::move(d), Step::nothing);
}

Result evaluate(dns::Resolver& resolver, const PublicSuffixList& psl, const Input& input, unsigned percent_draw) {
  Result r;
  r.header_from = text::normalize_domain(input.from_domain);
  if (r.header_from.empty()) {
    r.status = Status::permerror;
    r.reason = "no RFC5322.From domain";
    return r;
  }
  Discovery d = discover_record(resolver, psl, r.header_from);
  r.organizational_domain = d.organizational_domain;

  // Alignment (§3.1) with the record's modes, or the defaults when there is no record (informative).
  const Alignment adkim = d.record ? d.record->dkim_alignment : Alignment::relaxed;
  const Alignment aspf = d.record ? d.record->spf_alignment : Alignment::relaxed;
  auto aligned = [&](const std::string& raw, Alignment mode) {
    const std::string id = text::normalize_domain(raw);
    if (id.empty()) return false;
    if (id == r.header_from) return true;  // §3.1.1 / §3.1.2: identical domains align in both modes
    // Relaxed: same organizational domain (§3.2), never a suffix test: github.io does not align
    // with victim.github.io because the PSL makes them different organizations.
    return mode == Alignment::relaxed && psl.organizational_domain(id) == r.organizational_domain;
  };
  for (const std::string& dkim : input.dkim_pass_domains) {
    if (aligned(dkim, adkim)) {
      r.dkim_aligned = true;
      r.dkim_aligned_domain = text::normalize_domain(dkim);
      break;
    }
  }
  if (input.spf_pass && aligned(input.spf_domain, aspf)) {
    r.spf_aligned = true;
    r.spf_aligned_domain = text::normalize_domain(input.spf_domain);
  }

  switch (d.status) {
    case DiscoveryStatus::temperror:
      r.status = Status::temperror;
      r.reason = d.detail;
      return r;
    case DiscoveryStatus::permerror:
      r.status = Status::permerror;
      r.record_domain = d.record_domain;
      r.record_text = d.record_text;
      r.reason = d.detail;
      return r;
    case DiscoveryStatus::none:
      r.status = Status::none;
      r.reason = d.detail;
      return r;
    case DiscoveryStatus::found:
      break;
  }

  const Record& rec = *d.record;
  r.record_domain = d.record_domain;
  r.record_text = d.record_text;
  std::string policy_tag = "p";
  r.published = rec.policy;
  if (d.is_organizational) {
    // §6.6.3 step 6 / §6.3 sp: a record found at the organizational domain for a subdomain author.
    if (rec.nonexistent_subdomain_policy && !domain_exists(resolver, r.header_from)) {
      r.published = *rec.nonexistent_subdomain_policy;  // RFC 9989 §4.7 np
      policy_tag = "np";
    } else if (rec.subdomain_policy) {
      r.published = *rec.subdomain_policy;
      policy_tag = "sp";
    }
  }
  std::string publishes = r.record_domain + " publishes " + policy_tag + "=" + std::string(to_string(r.published));

  if (r.dkim_aligned || r.spf_aligned) {
    r.status = Status::pass;  // §4.2: one aligned, authenticated identifier is enough
    r.reason = publishes + "; " +
               (r.dkim_aligned ? "aligned DKIM signature d=" + r.dkim_aligned_domain
                               : "aligned SPF domain " + r.spf_aligned_domain);
  } else {
    r.status = Status::fail;
    std::string dkim = input.dkim_pass_domains.empty()
                           ? std::string("no passing DKIM signature")
                           : "no aligned DKIM signature (d=" + join(input.dkim_pass_domains) + ", " +
                                 std::string(to_string(adkim)) + ")";
    std::string spf = !input.spf_pass ? std::string("SPF did not pass")
                                      : "SPF domain " + (input.spf_domain.empty() ? std::string("(empty)") : input.spf_domain) +
                                            " not aligned (" + std::string(to_string(aspf)) + ")";
    r.reason = publishes + "; " + dkim + "; " + spf;
    r.applied = r.published;
    if (rec.test_mode) {
      // RFC 9989 t=y: apply one step milder (reject -> quarantine, quarantine -> none).
      r.test_mode = true;
      r.applied = milder(r.published);
      r.reason += "; t=y: applying " + std::string(to_string(r.applied));
    } else if (rec.percent < 100 && percent_draw >= rec.percent) {
      // §6.6.4: outside the sampled percentage, quarantine becomes none and reject becomes quarantine.
      r.sampled_out = true;
      r.applied = milder(r.published);
      r.reason += "; pct=" + std::to_string(rec.percent) + " sampled out: applying " + std::string(to_string(r.applied));
    }
  }
  r.record = std::move(d.record);
  return r;
}

Result evaluate_all(dns::Resolver& resolver, const PublicSuffixList& psl, const std::vector<std::string>& from_domains,
                    const Input& input, unsigned percent_draw) {
  if (from_domains.empty()) {
    Result r;
    r.status = Status::permerror;
    r.reason = "no RFC5322.From domain";
    return r;
  }
  auto rank = [](const Result& r) {
    switch (r.status) {
      case Status::fail: return 10 + static_cast<int>(r.applied);
      case Status::temperror: return 4;
      case Status::permerror: return 3;
      case Status::none: return 2;
      case Status::pass: return 1;
    }
    return 0;
  };
  Result worst;
  int worst_rank = -1;
  for (const std::string& domain : from_domains) {
    Input one = input;
    one.from_domain = domain;
    Result r = evaluate(resolver, psl, one, percent_draw);
    if (rank(r) > worst_rank) {
      worst_rank = rank(r);
      worst = std::move(r);
    }
  }
  if (from_domains.size() > 1)
    worst.reason = "worst of " + std::to_string(from_domains.size()) + " author domains (RFC 7489 §6.6.1): " + worst.reason;
  return worst;
}

FromDomain from_domain_of(const std::vector<mail::HeaderField>& headers) {
  FromDomain out;
  std::size_t fields = 0, mailboxes = 0;
  for (const mail::HeaderField& h : headers) {
    if (!text::iequals(text::trim(h.name), "From")) continue;
    ++fields;
    const mail::AddressList list = mail::parse_address_list(h.unfolded());
    if (!list.ok()) {
      out.problem = "unparseable From field: " + list.error;
      out.domains.clear();
      return out;
    }
    for (const mail::Mailbox& m : list.mailboxes) {
      ++mailboxes;
      if (!m.domain.empty() && m.domain.front() == '[') {
        out.problem = "From address " + m.address() + " has a domain literal, not a domain name";
        out.domains.clear();
        return out;
      }
      const std::string d = text::normalize_domain(m.domain);
      if (!is_domain_name(d)) {
        out.problem = "From address " + m.address() + " has a malformed domain";
        out.domains.clear();
        return out;
      }
      bool seen = false;
      for (const std::string& s : out.domains) seen = seen || s == d;
      if (!seen) out.domains.push_back(d);
    }
  }
  if (fields == 0) {
    out.problem = "no From field (RFC 5322 §3.6 requires one)";
    return out;
  }
  if (out.domains.size() == 1) {
    out.domain = out.domains.front();
    if (fields > 1)
      out.note = std::to_string(fields) + " From fields, all in " + out.domain + " (RFC 5322 §3.6 allows one)";
    else if (mailboxes > 1)
      out.note = std::to_string(mailboxes) + " mailboxes in From, all in " + out.domain;
    return out;
  }
  // Interpretation of §6.6.1: with several author domains no single one may be chosen (an attacker
  // would add the weakest); the caller evaluates all of them (evaluate_all) or refuses the message.
  out.problem = std::to_string(out.domains.size()) + " different From domains (" + join(out.domains) +
                "): evaluate each (RFC 7489 §6.6.1)";
  return out;
}

}  // namespace mailward::dmarc
