// SPF evaluation: check_host() of RFC 7208 §4 with the mechanisms of §5, the modifiers of §6, the
// macros of §7 and the processing limits of §4.6.4, which form ONE budget for the whole evaluation
// (every include and redirect level draws on the same counters).
#include "milters/auth/spf/spf.h"

#include <algorithm>

#include "common/util/text.h"
#include "milters/auth/spf/macro.h"
#include "milters/auth/spf/record.h"

namespace mailward::spf {

std::string_view to_string(Result r) noexcept {
  switch (r) {
    case Result::none: return "none";
    case Result::neutral: return "neutral";
    case Result::pass: return "pass";
    case Result::fail: return "fail";
    case Result::softfail: return "softfail";
    case Result::temperror: return "temperror";
    case Result::permerror: return "permerror";
  }
  return "?";
}

std::string_view to_string(Identity i) noexcept {
  return i == Identity::helo ? "helo" : "mailfrom";
}

bool valid_domain(std::string_view domain) noexcept {
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (domain.empty() || domain.size() > kMaxDomainName) return false;
  if (domain.front() == '[') return false;  // address literal (RFC 5321 §4.1.3)
  std::size_t labels = 0;
  bool last_numeric = true;
  for (std::string_view label : text::split(domain, '.')) {
    if (label.empty() || label.size() > 63) return false;
    last_numeric = true;
    for (char c : label) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f) return false;
      if (!text::is_digit(c)) last_numeric = false;
    }
    ++labels;
  }
  // §4.3: "not a multi-label domain name" gives none; an all-numeric top label is an IPv4 address
  // written bare, never a domain (RFC 3696 §2): we read it as malformed.
  return labels >= 2 && !last_numeric;
}

namespace {

// A name a mechanism may query: no empty label, labels of at most 63 octets, at most 253 in all.
// Unlike valid_domain(), any octet is allowed: "%_" and "%-" put spaces and percent signs into
// names (RFC 7208 §7.3; the suite's macro-mania-in-domain queries such a name).
bool valid_target(std::string_view name) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxDomainName) return false;
  for (std::string_view label : text::split(name, '.'))
    if (label.empty() || label.size() > 63) return false;
  return true;
}

enum class Match { no, yes, temperror, permerror };

struct Outcome {
  Result result = Result::none;
  std::string mechanism;
  std::string explanation;
  std::string problem;
};

class Evaluation {
 public:
  Evaluation(dns::Resolver& resolver, const Request& request, const Limits& limits,
             std::string_view sender)
      : resolver_(resolver), request_(request), limits_(limits),
        ip_(request.client_ip.unmapped()), sender_(sender) {
    std::size_t at = sender_.rfind('@');
    if (at == std::string::npos) {
      sender_domain_ = sender_;
      local_ = "postmaster";
      sender_ = "postmaster@" + sender_domain_;
    } else {
      local_ = sender_.substr(0, at);
      sender_domain_ = sender_.substr(at + 1);
      if (local_.empty()) {  // §4.3: no local-part: "postmaster"
        local_ = "postmaster";
        sender_ = "postmaster@" + sender_domain_;
      }
    }
  }

  Outcome check_host(std::string_view domain, int depth);
  unsigned dns_terms() const noexcept { return dns_terms_; }
  unsigned voids() const noexcept { return voids_; }
  const std::string& sender() const noexcept { return sender_; }

 private:
  MacroContext context(std::string_view domain) {
    MacroContext c;
    c.sender = sender_;
    c.local_part = local_;
    c.sender_domain = sender_domain_;
    c.domain = domain;
    c.ip = ip_;
    c.helo = request_.helo;
    c.receiver = request_.receiver;
    c.now = request_.now;
    c.validated_name = [this, domain = std::string(domain)] { return validated_name(domain); };
    return c;
  }

  dns::RecordType address_type() const noexcept {
    return ip_.is_v4() ? dns::RecordType::a : dns::RecordType::aaaa;
  }

  // Counts a void answer (§4.6.4); false when the limit is now exceeded.
  bool count_void(const dns::Answer& a) {
    if (!a.is_void()) return true;
    ++voids_;
    return voids_ <= limits_.void_lookups;
  }

  std::string void_problem() const {
    return "more than " + std::to_string(limits_.void_lookups) +
           " void DNS lookups (RFC 7208 §4.6.4 void lookup limit)";
  }

  static std::string dns_problem(const dns::Answer& a, std::string_view name, dns::RecordType type) {
    return "DNS " + std::string(a.status == dns::Status::timeout ? "timeout" : "server failure") +
           " for " + std::string(name) + " " + std::string(dns::to_string(type));
  }

  bool address_matches(const net::IpAddress& a, const Mechanism& m) const noexcept {
    net::IpAddress candidate = a.unmapped();
    if (candidate.family() != ip_.family()) return false;
    return ip_.in_prefix(candidate, ip_.is_v4() ? m.cidr4 : m.cidr6);
  }

  // §5.5 / §7.3 "p": names from the PTR lookup whose addresses include the client.
  std::vector<std::string> validated_names(std::string_view target, bool stop_at_match);
  std::string validated_name(std::string_view domain);

  Match evaluate(const Mechanism& m, std::string_view domain, int depth, std::string& problem);
  std::string explanation(const Record& record, std::string_view domain);

  dns::Resolver& resolver_;
  const Request& request_;
  const Limits& limits_;
  net::IpAddress ip_;
  std::string sender_, local_, sender_domain_;
  unsigned dns_terms_ = 0;
  unsigned voids_ = 0;
};

bool is_subdomain_or_equal(std::string_view name, std::string_view domain) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (text::iequals(name, domain)) return true;
  return name.size() > domain.size() && text::iends_with(name, domain) &&
         name[name.size() - domain.size() - 1] == '.';
}

std::vector<std::string> Evaluation::validated_names(std::string_view target, bool stop_at_match) {
  std::vector<std::string> out;
  dns::Answer ptr = resolver_.lookup(ip_.reverse_name(), dns::RecordType::ptr);
  if (ptr.status != dns::Status::ok) return out;
  // §4.6.4: only the first 10 PTR names are considered; the rest are ignored.
  std::size_t n = std::min<std::size_t>(ptr.names.size(), limits_.names_per_mx_ptr);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& name = ptr.names[i];
    if (name.empty()) continue;
    dns::Answer addrs = resolver_.lookup(name, address_type());
    if (addrs.status != dns::Status::ok) continue;  // §5.5: a DNS error skips this name
    bool ok = std::any_of(addrs.addresses.begin(), addrs.addresses.end(),
                          [&](const net::IpAddress& a) { return a.unmapped() == ip_; });
    if (!ok) continue;
    out.push_back(name);
    if (stop_at_match && is_subdomain_or_equal(name, target)) break;
  }
  return out;
}

std::string Evaluation::validated_name(std::string_view domain) {
  // §7.3: prefer a validated name equal to or under the current domain, else any, else "unknown".
  std::vector<std::string> names = validated_names(domain, true);
  for (const std::string& n : names)
    if (is_subdomain_or_equal(n, domain)) return n;
  return names.empty() ? std::string("unknown") : names.front();
}

Match Evaluation::evaluate(const Mechanism& m, std::string_view domain, int depth, std::string& problem) {
  if (m.kind == MechanismKind::all) return Match::yes;
  if (m.kind == MechanismKind::ip4 || m.kind == MechanismKind::ip6) {
    // We interpret an ip6 network of IPv4-mapped addresses (ip6:::ffff:192.0.2.0/120) as also
    // covering the IPv4 client it maps, since RFC 7208 §5 evaluates mapped clients as IPv4.
    if (m.kind == MechanismKind::ip6 && ip_.is_v4() && m.network.is_v4_mapped() && m.cidr6 >= 96)
      return ip_.in_prefix(m.network.unmapped(), m.cidr6 - 96) ? Match::yes : Match::no;
    if (m.network.family() != ip_.family()) return Match::no;
    return ip_.in_prefix(m.network, m.kind == MechanismKind::ip4 ? m.cidr4 : m.cidr6) ? Match::yes
                                                                                      : Match::no;
  }
  // The target name: the expanded domain-spec, or the current domain (§4.8).
  std::string target;
  if (m.domain_spec.empty()) {
    target = std::string(domain);
  } else {
    MacroResult x = expand(m.domain_spec, context(domain), MacroMode::domain_spec);
    if (!x.ok()) {
      problem = "'" + abbreviate(m.text) + "': " + x.detail;
      return Match::permerror;
    }
    target = std::move(x.text);
  }

  switch (m.kind) {
    case MechanismKind::include: {
      // §5.2: pass matches; fail/softfail/neutral do not; temperror, permerror propagate;
      // none is a permerror.
      Outcome sub = check_host(target, depth + 1);
      switch (sub.result) {
        case Result::pass: return Match::yes;
        case Result::fail: case Result::softfail: case Result::neutral: return Match::no;
        case Result::temperror: problem = sub.problem; return Match::temperror;
        case Result::permerror: problem = sub.problem; return Match::permerror;
        case Result::none:
          problem = "'" + abbreviate(m.text) + "': " + (sub.problem.empty() ? "no SPF record" : sub.problem) +
                    " (include of a domain without SPF record is a permerror, RFC 7208 §5.2)";
          return Match::permerror;
      }
      return Match::permerror;
    }
    case MechanismKind::a:
    case MechanismKind::exists: {
      // §5.3 a: addresses of the client's family; §5.7 exists: always an A query.
      dns::RecordType type = m.kind == MechanismKind::exists ? dns::RecordType::a : address_type();
      if (!valid_target(target)) return Match::no;
      dns::Answer a = resolver_.lookup(target, type);
      if (a.is_temporary_failure()) {
        problem = dns_problem(a, target, type);
        return Match::temperror;
      }
      if (!count_void(a)) {
        problem = void_problem();
        return Match::permerror;
      }
      if (m.kind == MechanismKind::exists) return a.addresses.empty() ? Match::no : Match::yes;
      for (const net::IpAddress& addr : a.addresses)
        if (address_matches(addr, m)) return Match::yes;
      return Match::no;
    }
    case MechanismKind::mx: {
      if (!valid_target(target)) return Match::no;
      dns::Answer mx = resolver_.lookup(target, dns::RecordType::mx);
      if (mx.is_temporary_failure()) {
        problem = dns_problem(mx, target, dns::RecordType::mx);
        return Match::temperror;
      }
      if (!count_void(mx)) {
        problem = void_problem();
        return Match::permerror;
      }
      // §4.6.4: more than 10 MX names is a permerror for this mechanism.
      if (mx.mx.size() > limits_.names_per_mx_ptr) {
        problem = "'" + abbreviate(m.text) + "': " + std::to_string(mx.mx.size()) + " MX names for " + target +
                  ", more than " + std::to_string(limits_.names_per_mx_ptr) +
                  " (RFC 7208 §4.6.4 limit)";
        return Match::permerror;
      }
      for (const dns::MxRecord& r : mx.mx) {
        if (r.exchange.empty()) continue;  // null MX (RFC 7505)
        dns::Answer a = resolver_.lookup(r.exchange, address_type());
        if (a.is_temporary_failure()) {
          problem = dns_problem(a, r.exchange, address_type());
          return Match::temperror;
        }
        for (const net::IpAddress& addr : a.addresses)
          if (address_matches(addr, m)) return Match::yes;
      }
      return Match::no;
    }
    case MechanismKind::ptr: {
      // §5.5: a failed PTR lookup just does not match.
      dns::Answer ptr = resolver_.lookup(ip_.reverse_name(), dns::RecordType::ptr);
      if (ptr.status != dns::Status::ok) {
        if (ptr.status == dns::Status::nxdomain && !count_void(ptr)) {
          problem = void_problem();
          return Match::permerror;
        }
        return Match::no;
      }
      if (!count_void(ptr)) {
        problem = void_problem();
        return Match::permerror;
      }
      std::size_t n = std::min<std::size_t>(ptr.names.size(), limits_.names_per_mx_ptr);
      for (std::size_t i = 0; i < n; ++i) {
        const std::string& name = ptr.names[i];
        if (name.empty() || !is_subdomain_or_equal(name, target)) continue;
        dns::Answer addrs = resolver_.lookup(name, address_type());
        if (addrs.status != dns::Status::ok) continue;
        for (const net::IpAddress& a : addrs.addresses)
          if (a.unmapped() == ip_) return Match::yes;
      }
      return Match::no;
    }
    default:
      return Match::no;
  }
}

std::string Evaluation::explanation(const Record& record, std::string_view domain) {
  // §6.2: any failure (DNS error, not exactly one TXT record, syntax error) means no explanation.
  if (!record.exp) return {};
  MacroResult target = expand(record.exp->value, context(domain), MacroMode::domain_spec);
  if (!target.ok() || !valid_domain(target.text)) return {};
  dns::Answer a = resolver_.lookup(target.text, dns::RecordType::txt);
  if (a.status != dns::Status::ok || a.texts.size() != 1) return {};
  MacroResult text = expand(a.texts.front(), context(domain), MacroMode::explanation);
  if (!text.ok()) return {};
  return text.text;
}

Outcome Evaluation::check_host(std::string_view domain_in, int depth) {
  Outcome out;
  std::string domain(domain_in);
  if (!domain.empty() && domain.back() == '.') domain.pop_back();
  if (!valid_domain(domain)) {
    // §4.3: a malformed or single-label domain gives none.
    out.problem = "'" + domain + "' is not a valid multi-label domain name (RFC 7208 §4.3)";
    return out;
  }
  if (depth > 32) {  // unreachable within the 10-term budget; a guard against a broken invariant
    out.result = Result::permerror;
    out.problem = "include/redirect nesting too deep";
    return out;
  }
  dns::Answer txt = resolver_.lookup(domain, dns::RecordType::txt);
  if (txt.is_temporary_failure()) {
    out.result = Result::temperror;
    out.problem = dns_problem(txt, domain, dns::RecordType::txt);
    return out;
  }
  // §4.5: keep the records that start with "v=spf1"; none -> none; more than one -> permerror.
  const std::string* spf_text = nullptr;
  std::size_t count = 0;
  for (const std::string& t : txt.texts) {
    if (is_spf_record(t)) {
      ++count;
      spf_text = &t;
    }
  }
  if (count == 0) {
    out.problem = "no SPF record for " + domain;
    return out;
  }
  if (count > 1) {
    out.result = Result::permerror;
    out.problem = std::to_string(count) + " SPF records for " + domain + " (RFC 7208 §4.5)";
    return out;
  }
  ParseResult parsed = parse_record(*spf_text);
  if (!parsed.ok()) {
    out.result = Result::permerror;
    out.problem = "syntax error in SPF record of " + domain + ": " + parsed.detail;
    return out;
  }
  const Record& record = *parsed.record;
  for (const Mechanism& m : record.mechanisms) {
    if (m.queries_dns() && ++dns_terms_ > limits_.dns_terms) {
      out.result = Result::permerror;
      out.problem = "more than " + std::to_string(limits_.dns_terms) +
                    " DNS-querying terms (RFC 7208 §4.6.4 DNS lookup limit) at '" + abbreviate(m.text) + "' in " + domain;
      return out;
    }
    std::string problem;
    Match match = evaluate(m, domain, depth, problem);
    if (match == Match::no) continue;
    if (match == Match::temperror || match == Match::permerror) {
      out.result = match == Match::temperror ? Result::temperror : Result::permerror;
      out.problem = std::move(problem);
      out.mechanism = abbreviate(m.text, 256);
      return out;
    }
    switch (m.qualifier) {
      case Qualifier::pass: out.result = Result::pass; break;
      case Qualifier::fail: out.result = Result::fail; break;
      case Qualifier::softfail: out.result = Result::softfail; break;
      case Qualifier::neutral: out.result = Result::neutral; break;
    }
    out.mechanism = abbreviate(m.text, 256);
    if (out.result == Result::fail) out.explanation = explanation(record, domain);
    return out;
  }
  if (record.redirect) {
    // §6.1: redirect counts against the DNS-term limit; a target without a record is a permerror.
    if (++dns_terms_ > limits_.dns_terms) {
      out.result = Result::permerror;
      out.problem = "more than " + std::to_string(limits_.dns_terms) +
                    " DNS-querying terms (RFC 7208 §4.6.4 DNS lookup limit) at redirect in " + domain;
      return out;
    }
    MacroResult target = expand(record.redirect->value, context(domain), MacroMode::domain_spec);
    if (!target.ok()) {
      out.result = Result::permerror;
      out.problem = "redirect=" + abbreviate(record.redirect->value) + ": " + target.detail;
      return out;
    }
    Outcome sub = check_host(target.text, depth + 1);
    if (sub.result == Result::none) {
      sub.result = Result::permerror;
      sub.problem = "redirect to " + target.text + ": " +
                    (sub.problem.empty() ? std::string("no SPF record") : sub.problem) + " (RFC 7208 §6.1)";
    }
    return sub;
  }
  out.result = Result::neutral;  // §4.7: no match and no redirect
  out.mechanism = "default";
  return out;
}

Verdict run(dns::Resolver& resolver, const Request& request, std::string_view domain,
            std::string_view sender, Identity identity, const Limits& limits) {
  Evaluation ev(resolver, request, limits, sender);
  Outcome o = ev.check_host(domain, 0);
  Verdict v;
  v.result = o.result;
  v.identity = identity;
  v.domain = text::normalize_domain(domain);
  v.sender = ev.sender();
  v.mechanism = std::move(o.mechanism);
  v.explanation = std::move(o.explanation);
  v.problem = std::move(o.problem);
  v.dns_lookups = ev.dns_terms();
  v.void_lookups = ev.voids();
  return v;
}

}  // namespace

Verdict check_host(dns::Resolver& resolver, const Request& request, std::string_view domain,
                   std::string_view sender, Identity identity, const Limits& limits) {
  return run(resolver, request, domain, sender, identity, limits);
}

Verdict check_helo(dns::Resolver& resolver, const Request& request, const Limits& limits) {
  std::string helo(text::trim(request.helo));
  // §2.3, §4.3: an address literal or a name that is not a multi-label domain gives none.
  if (!valid_domain(helo)) {
    Verdict v;
    v.identity = Identity::helo;
    v.domain = helo;
    v.sender = "postmaster@" + helo;
    v.problem = "HELO '" + helo + "' is not a domain name";
    return v;
  }
  return run(resolver, request, helo, "postmaster@" + helo, Identity::helo, limits);
}

Verdict check_mail_from(dns::Resolver& resolver, const Request& request, const Limits& limits) {
  if (request.mail_from.empty()) {
    // §2.4: the null reverse-path is checked as postmaster@<HELO>.
    std::string helo(text::trim(request.helo));
    Verdict v;
    if (!valid_domain(helo)) {
      v.domain = helo;
      v.sender = "postmaster@" + helo;
      v.problem = "null sender and HELO '" + helo + "' is not a domain name";
      return v;
    }
    v = run(resolver, request, helo, "postmaster@" + helo, Identity::mail_from, limits);
    return v;
  }
  std::string_view from = request.mail_from;
  std::size_t at = from.rfind('@');
  std::string_view domain = at == std::string_view::npos ? from : from.substr(at + 1);
  return run(resolver, request, domain, from, Identity::mail_from, limits);
}

}  // namespace mailward::spf
