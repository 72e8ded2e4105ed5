// DMARC policy records (RFC 7489 §6.3 tags, §6.4 ABNF, §6.6.3 invalid p= handling), plus the
// RFC 9989 tags np=, t= and psd=.
#include <string>

#include "common/util/text.h"
#include "milters/auth/dmarc/dmarc.h"

namespace mailward::dmarc {
namespace {

struct Tag {
  std::string name;  // lowercased
  std::string_view value;
};

// Splits "tag = value ; tag=value;" into tags. Whitespace around names, '=' and values is dropped
// (RFC 7489 §6.4: *WSP around "=" and dmarc-sep). Tag specs without '=' or with an empty name are
// reported through `bad`.
std::vector<Tag> split_tags(std::string_view txt, std::vector<std::string>& bad) {
  std::vector<Tag> tags;
  for (std::string_view spec : text::split(txt, ';')) {
    spec = text::trim(spec);
    if (spec.empty()) continue;
    const std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos || text::trim(spec.substr(0, eq)).empty()) {
      bad.push_back(std::string(spec));
      continue;
    }
    tags.push_back({text::to_lower(text::trim(spec.substr(0, eq))), text::trim(spec.substr(eq + 1))});
  }
  return tags;
}

std::optional<Policy> parse_policy(std::string_view v) {
  // dmarc-request: ABNF quoted strings, so case-insensitive (RFC 5234 §2.3).
  if (text::iequals(v, "none")) return Policy::none;
  if (text::iequals(v, "quarantine")) return Policy::quarantine;
  if (text::iequals(v, "reject")) return Policy::reject;
  return std::nullopt;
}

std::optional<Alignment> parse_alignment(std::string_view v) {
  if (text::iequals(v, "r")) return Alignment::relaxed;
  if (text::iequals(v, "s")) return Alignment::strict;
  return std::nullopt;
}

std::optional<bool> parse_yes_no(std::string_view v) {
  if (text::iequals(v, "y")) return true;
  if (text::iequals(v, "n")) return false;
  return std::nullopt;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (RFC 7489 §6.4). The URI check is the
// part DMARC relies on: a scheme (RFC 3986 §3.1) and something after the colon, no spaces.
bool is_report_uri(std::string_view uri) {
  const std::size_t bang = uri.rfind('!');
  if (bang != std::string_view::npos) {
    std::string_view size = uri.substr(bang + 1);
    if (!size.empty() && (text::ascii_lower(size.back()) == 'k' || text::ascii_lower(size.back()) == 'm' ||
                          text::ascii_lower(size.back()) == 'g' || text::ascii_lower(size.back()) == 't'))
      size.remove_suffix(1);
    unsigned long long n = 0;
    if (!text::parse_uint(size, ~0ULL, n)) return false;
    uri = uri.substr(0, bang);
  }
  const std::size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == uri.size()) return false;
  if (!text::is_alpha(uri[0])) return false;
  for (std::size_t i = 1; i < colon; ++i) {
    const char c = uri[i];
    if (!text::is_alpha(c) && !text::is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  for (char c : uri)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

// Valid URIs of a comma-separated list; invalid ones become warnings.
std::vector<std::string> parse_uri_list(std::string_view tag, std::string_view v, std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  for (std::string_view uri : text::split(v, ',')) {
    uri = text::trim(uri);
    if (uri.empty()) continue;
    if (is_report_uri(uri))
      out.emplace_back(uri);
    else
      warnings.push_back(std::string(tag) + "=: ignored invalid URI \"" + std::string(uri) + "\"");
  }
  return out;
}

// fo = "0" / "1" / "d" / "s", colon-separated (RFC 7489 §6.3).
std::optional<std::string> parse_failure_options(std::string_view v) {
  std::string out;
  for (std::string_view opt : text::split(v, ':')) {
    opt = text::trim(opt);
    if (opt.size() != 1) return std::nullopt;
    const char c = text::ascii_lower(opt[0]);
    if (c != '0' && c != '1' && c != 'd' && c != 's') return std::nullopt;
    if (!out.empty()) out.push_back(':');
    out.push_back(c);
  }
  return out;
}

std::string quoted(std::string_view name, std::string_view value) {
  return std::string(name) + "=" + std::string(value);
}

}  // namespace

bool is_dmarc_record(std::string_view txt) {
  // RFC 7489 §6.4: dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31, first in the record.
  const std::size_t semi = txt.find(';');
  const std::string_view first = text::trim(txt.substr(0, semi));
  const std::size_t eq = first.find('=');
  if (eq == std::string_view::npos) return false;
  return text::iequals(text::trim(first.substr(0, eq)), "v") && text::trim(first.substr(eq + 1)) == "DMARC1";
}

RecordParse parse_record(std::string_view txt) {
  RecordParse out;
  if (!is_dmarc_record(txt)) {
    out.kind = RecordError::not_dmarc;
    out.error = "not a DMARC record: the first tag is not v=DMARC1";
    return out;
  }
  std::vector<std::string> bad;
  const std::vector<Tag> tags = split_tags(txt, bad);
  for (const std::string& b : bad) out.warnings.push_back("ignored malformed tag \"" + b + "\"");

  Record r;
  std::optional<Policy> policy;
  bool policy_invalid = false, sp_invalid = false;
  std::vector<std::string> seen;
  for (std::size_t i = 1; i < tags.size(); ++i) {  // tags[0] is v=DMARC1
    const Tag& t = tags[i];
    bool duplicate = false;
    for (const std::string& s : seen) duplicate = duplicate || s == t.name;
    if (duplicate) {
      // Interpretation: RFC 7489 does not say; like DKIM (RFC 6376 §3.2) a repeated tag is an error,
      // handled here as a discarded syntax error (§6.3): the first occurrence stands.
      out.warnings.push_back("ignored repeated tag " + quoted(t.name, t.value));
      continue;
    }
    seen.push_back(t.name);
    if (t.name == "p") {
      policy = parse_policy(t.value);
      policy_invalid = !policy;
    } else if (t.name == "sp") {
      r.subdomain_policy = parse_policy(t.value);
      sp_invalid = !r.subdomain_policy;
    } else if (t.name == "np") {
      r.nonexistent_subdomain_policy = parse_policy(t.value);
      if (!r.nonexistent_subdomain_policy) out.warnings.push_back("ignored invalid " + quoted(t.name, t.value));
    } else if (t.name == "adkim" || t.name == "aspf") {
      const std::optional<Alignment> a = parse_alignment(t.value);
      if (!a)
        out.warnings.push_back("ignored invalid " + quoted(t.name, t.value) + "; using r");
      else
        (t.name == "adkim" ? r.dkim_alignment : r.spf_alignment) = *a;
    } else if (t.name == "pct") {
      unsigned long long n = 0;
      if (text::parse_uint(t.value, 100, n))
        r.percent = static_cast<unsigned>(n);
      else
        out.warnings.push_back("ignored invalid " + quoted(t.name, t.value) + "; using 100");
    } else if (t.name == "rua") {
      r.aggregate_report_uris = parse_uri_list("rua", t.value, out.warnings);
    } else if (t.name == "ruf") {
      r.failure_report_uris = parse_uri_list("ruf", t.value, out.warnings);
    } else if (t.name == "fo") {
      if (std::optional<std::string> fo = parse_failure_options(t.value))
        r.failure_options = *fo;
      else
        out.warnings.push_back("ignored invalid " + quoted(t.name, t.value) + "; using 0");
    } else if (t.name == "rf") {
      // Format names are ":"-separated keywords; only afrf is registered (RFC 7489 §6.3).
      if (!t.value.empty())
        r.report_format = text::to_lower(t.value);
      else
        out.warnings.push_back("ignored empty rf=");
    } else if (t.name == "ri") {
      unsigned long long n = 0;
      if (text::parse_uint(t.value, 0xffffffffULL, n))
        r.report_interval = static_cast<std::uint32_t>(n);
      else
        out.warnings.push_back("ignored invalid " + quoted(t.name, t.value) + "; using 86400");
    } else if (t.name == "t") {
      const std::optional<bool> yes = parse_yes_no(t.value);
      if (yes)
        r.test_mode = *yes;
      else
        out.warnings.push_back("ignored invalid " + quoted(t.name, t.value));
    } else if (t.name == "psd") {
      // RFC 9989: y / n / u ("u" = unknown, the default).
      if (text::iequals(t.value, "u"))
        r.public_suffix_domain.reset();
      else if (std::optional<bool> yes = parse_yes_no(t.value))
        r.public_suffix_domain = *yes;
      else
        out.warnings.push_back("ignored invalid " + quoted(t.name, t.value));
    } else if (t.name == "v") {
      out.warnings.push_back("ignored v= after the first tag");
    }
    // §6.3: unknown tags MUST be ignored.
  }

  // RFC 7489 §6.6.3: without a valid p= (or with an invalid sp=), act as if p=none was published when
  // rua= holds at least one valid URI; otherwise apply no DMARC processing.
  if (!policy || sp_invalid) {
    std::string why = !policy ? (policy_invalid ? "invalid p= value" : "no p= tag") : "invalid sp= value";
    if (r.aggregate_report_uris.empty()) {
      out.kind = RecordError::invalid;
      out.error = why + " and no valid rua= (RFC 7489 §6.6.3)";
      return out;
    }
    out.warnings.push_back(why + "; treated as p=none because rua= is valid (RFC 7489 §6.6.3)");
    policy = Policy::none;
    r.subdomain_policy.reset();
  }
  r.policy = *policy;
  out.record = std::move(r);
  return out;
}

}  // namespace mailward::dmarc
