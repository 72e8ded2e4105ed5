// SPF record parser: RFC 7208 §4.5 (record selection), §4.6.1 (term syntax), §5 (mechanisms),
// §6 (modifiers), §7.1 (macro syntax) and the collected ABNF of §12.
#include "milters/auth/spf/record.h"

#include "common/util/text.h"
#include "milters/auth/spf/macro.h"

namespace mailward::spf {

char qualifier_char(Qualifier q) noexcept {
  switch (q) {
    case Qualifier::pass: return '+';
    case Qualifier::fail: return '-';
    case Qualifier::softfail: return '~';
    case Qualifier::neutral: return '?';
  }
  return '+';
}

std::string_view to_string(MechanismKind k) noexcept {
  switch (k) {
    case MechanismKind::all: return "all";
    case MechanismKind::include: return "include";
    case MechanismKind::a: return "a";
    case MechanismKind::mx: return "mx";
    case MechanismKind::ptr: return "ptr";
    case MechanismKind::ip4: return "ip4";
    case MechanismKind::ip6: return "ip6";
    case MechanismKind::exists: return "exists";
  }
  return "?";
}

bool Mechanism::queries_dns() const noexcept {
  switch (kind) {
    case MechanismKind::include: case MechanismKind::a: case MechanismKind::mx:
    case MechanismKind::ptr: case MechanismKind::exists:
      return true;
    default:
      return false;
  }
}

std::string_view to_string(ParseError e) noexcept {
  switch (e) {
    case ParseError::none: return "none";
    case ParseError::not_spf: return "not an SPF record";
    case ParseError::invalid_character: return "invalid character";
    case ParseError::unknown_mechanism: return "unknown mechanism";
    case ParseError::bad_argument: return "bad mechanism argument";
    case ParseError::bad_domain_spec: return "bad domain-spec";
    case ParseError::bad_macro: return "bad macro";
    case ParseError::bad_cidr: return "bad cidr-length";
    case ParseError::bad_ip: return "bad IP network";
    case ParseError::duplicate_modifier: return "duplicate modifier";
    case ParseError::bad_modifier: return "bad modifier";
  }
  return "?";
}

std::string abbreviate(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max)) + "...";
}

bool is_spf_record(std::string_view txt) noexcept {
  constexpr std::string_view version = "v=spf1";
  if (!text::istarts_with(txt, version)) return false;
  return txt.size() == version.size() || txt[version.size()] == ' ';
}

namespace {

bool is_alnum(char c) noexcept { return text::is_alpha(c) || text::is_digit(c); }

// §12: toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view label) noexcept {
  if (label.empty()) return false;
  bool alpha = false, dash = false;
  for (char c : label) {
    if (c == '-') dash = true;
    else if (text::is_alpha(c)) alpha = true;
    else if (!text::is_digit(c)) return false;
  }
  if (!dash) return alpha;
  return is_alnum(label.front()) && is_alnum(label.back());
}

// ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT); ip6 allows up to three digits (§12).
bool parse_cidr(std::string_view digits, unsigned max, unsigned& out) noexcept {
  if (digits.empty() || digits.size() > 3) return false;
  if (digits.size() > 1 && digits.front() == '0') return false;
  unsigned long long v = 0;
  if (!text::parse_uint(digits, max, v)) return false;
  out = static_cast<unsigned>(v);
  return true;
}

// Length of the run of digits that ends `s`.
std::size_t trailing_digits(std::string_view s) noexcept {
  std::size_t n = 0;
  while (n < s.size() && text::is_digit(s[s.size() - 1 - n])) ++n;
  return n;
}

struct TermError {
  ParseError error = ParseError::none;
  std::string detail;
};

TermError error_for(ParseError e, std::string_view term, std::string_view why) {
  return {e, "'" + abbreviate(term) + "': " + std::string(why)};
}

TermError parse_mechanism(std::string_view term, Mechanism& m) {
  std::string_view t = term;
  m.text = std::string(term);
  switch (t.front()) {
    case '+': m.qualifier = Qualifier::pass; t.remove_prefix(1); break;
    case '-': m.qualifier = Qualifier::fail; t.remove_prefix(1); break;
    case '~': m.qualifier = Qualifier::softfail; t.remove_prefix(1); break;
    case '?': m.qualifier = Qualifier::neutral; t.remove_prefix(1); break;
    default: break;
  }
  std::size_t name_end = t.find_first_of(":/");
  std::string_view name = t.substr(0, name_end);
  std::string_view rest = name_end == std::string_view::npos ? std::string_view() : t.substr(name_end);
  if (text::iequals(name, "all")) m.kind = MechanismKind::all;
  else if (text::iequals(name, "include")) m.kind = MechanismKind::include;
  else if (text::iequals(name, "a")) m.kind = MechanismKind::a;
  else if (text::iequals(name, "mx")) m.kind = MechanismKind::mx;
  else if (text::iequals(name, "ptr")) m.kind = MechanismKind::ptr;
  else if (text::iequals(name, "ip4")) m.kind = MechanismKind::ip4;
  else if (text::iequals(name, "ip6")) m.kind = MechanismKind::ip6;
  else if (text::iequals(name, "exists")) m.kind = MechanismKind::exists;
  else return error_for(ParseError::unknown_mechanism, term, "unknown mechanism (RFC 7208 §5)");

  std::string detail;
  auto domain_arg = [&](std::string_view arg, bool required) -> TermError {
    if (arg.empty()) {
      if (required) return error_for(ParseError::bad_argument, term, "needs ':' domain-spec");
      return {};
    }
    if (arg.front() != ':') return error_for(ParseError::bad_argument, term, "unexpected argument");
    arg.remove_prefix(1);
    if (!valid_domain_spec(arg, &detail)) return error_for(ParseError::bad_domain_spec, term, detail);
    m.domain_spec = std::string(arg);
    return {};
  };

  switch (m.kind) {
    case MechanismKind::all:
      if (!rest.empty()) return error_for(ParseError::bad_argument, term, "'all' takes no argument");
      return {};
    case MechanismKind::include:
    case MechanismKind::exists:
      return domain_arg(rest, true);
    case MechanismKind::ptr:
      return domain_arg(rest, false);
    case MechanismKind::a:
    case MechanismKind::mx: {
      // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ], at the end (§5.6, §12).
      std::size_t n = trailing_digits(rest);
      if (n > 0 && n < rest.size() && rest[rest.size() - n - 1] == '/') {
        std::string_view digits = rest.substr(rest.size() - n);
        bool v6 = rest.size() >= n + 2 && rest[rest.size() - n - 2] == '/';
        if (v6) {
          if (!parse_cidr(digits, 128, m.cidr6))
            return error_for(ParseError::bad_cidr, term, "ip6-cidr-length out of range (RFC 7208 §5.6)");
          rest.remove_suffix(n + 2);
          n = trailing_digits(rest);
        }
        if (n > 0 && n < rest.size() && rest[rest.size() - n - 1] == '/' &&
            !(rest.size() >= n + 2 && rest[rest.size() - n - 2] == '/')) {
          if (!parse_cidr(rest.substr(rest.size() - n), 32, m.cidr4))
            return error_for(ParseError::bad_cidr, term, "ip4-cidr-length out of range (RFC 7208 §5.6)");
          rest.remove_suffix(n + 1);
        }
      }
      return domain_arg(rest, false);
    }
    case MechanismKind::ip4:
    case MechanismKind::ip6: {
      bool v4 = m.kind == MechanismKind::ip4;
      if (rest.empty() || rest.front() != ':')
        return error_for(ParseError::bad_argument, term, "needs ':' and a network");
      rest.remove_prefix(1);
      std::size_t slash = rest.find('/');
      auto address = net::IpAddress::parse(rest.substr(0, slash));
      if (!address || address->is_v4() != v4)
        return error_for(ParseError::bad_ip, term,
                         v4 ? "not an IPv4 address (RFC 7208 §5.6)" : "not an IPv6 address (RFC 7208 §5.6)");
      m.network = *address;
      if (slash != std::string_view::npos) {
        unsigned bits = 0;
        if (!parse_cidr(rest.substr(slash + 1), v4 ? 32u : 128u, bits))
          return error_for(ParseError::bad_cidr, term, "cidr-length out of range (RFC 7208 §5.6)");
        (v4 ? m.cidr4 : m.cidr6) = bits;
      }
      return {};
    }
  }
  return {};
}

}  // namespace

bool valid_domain_spec(std::string_view spec, std::string* detail) {
  if (spec.empty()) {
    if (detail) *detail = "empty domain-spec";
    return false;
  }
  if (check_macro_string(spec, MacroMode::domain_spec, detail) != MacroError::none) return false;
  // domain-end = ( "." toplabel [ "." ] ) / macro-expand  (§7.1, §12). Find the literal run after
  // the last macro-expand ("%%", "%_" and "%-" are macro-expands in the ABNF).
  std::size_t literal_start = 0;
  for (std::size_t i = 0; i < spec.size();) {
    if (spec[i] == '%') {
      if (spec[i + 1] == '{') i = spec.find('}', i) + 1;
      else i += 2;
      literal_start = i;
    } else {
      ++i;
    }
  }
  std::string_view tail = spec.substr(literal_start);
  if (tail.empty()) return true;  // ends in a macro-expand
  if (tail.back() == '.') tail.remove_suffix(1);
  std::size_t dot = tail.rfind('.');
  if (dot == std::string_view::npos || !valid_toplabel(tail.substr(dot + 1))) {
    if (detail) *detail = "domain-spec must end in a macro or '.' and a valid top label (RFC 7208 §7.1)";
    return false;
  }
  return true;
}

ParseResult parse_record(std::string_view txt) {
  ParseResult r;
  if (!is_spf_record(txt)) {
    r.error = ParseError::not_spf;
    r.detail = "record does not start with \"v=spf1\" (RFC 7208 §4.5)";
    return r;
  }
  for (char c : txt) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) {
      r.error = ParseError::invalid_character;
      r.detail = "byte 0x";
      static const char hex[] = "0123456789abcdef";
      r.detail.push_back(hex[u >> 4]);
      r.detail.push_back(hex[u & 0xf]);
      r.detail += " in record: terms are printable ASCII separated by spaces (RFC 7208 §3.1, §4.6.1)";
      return r;
    }
  }
  Record record;
  std::string_view rest = txt.substr(6);
  for (std::string_view term : text::split(rest, ' ')) {
    if (term.empty()) continue;
    // §4.6.1: a term whose leading name is followed by "=" is a modifier.
    std::size_t n = 0;
    if (text::is_alpha(term[0])) {
      n = 1;
      while (n < term.size() && (is_alnum(term[n]) || term[n] == '-' || term[n] == '_' || term[n] == '.')) ++n;
    }
    if (n > 0 && n < term.size() && term[n] == '=') {
      Modifier mod{text::to_lower(term.substr(0, n)), std::string(term.substr(n + 1))};
      std::string detail;
      if (mod.name == "redirect" || mod.name == "exp") {
        std::optional<Modifier>& slot = mod.name == "redirect" ? record.redirect : record.exp;
        if (slot) {
          r.error = ParseError::duplicate_modifier;
          r.detail = "'" + abbreviate(mod.name) + "' given more than once (RFC 7208 §6)";
          return r;
        }
        if (!valid_domain_spec(mod.value, &detail)) {
          r.error = ParseError::bad_domain_spec;
          r.detail = "'" + abbreviate(term) + "': " + detail;
          return r;
        }
        slot = std::move(mod);
      } else {
        // Unknown modifiers are ignored (§6) but their value is a macro-string (§12).
        if (check_macro_string(mod.value, MacroMode::explanation, &detail) != MacroError::none ||
            mod.value.find(' ') != std::string::npos) {
          r.error = ParseError::bad_modifier;
          r.detail = "'" + abbreviate(term) + "': " + detail;
          return r;
        }
        record.unknown.push_back(std::move(mod));
      }
      continue;
    }
    Mechanism m;
    TermError e = parse_mechanism(term, m);
    if (e.error != ParseError::none) {
      r.error = e.error;
      r.detail = std::move(e.detail);
      return r;
    }
    record.mechanisms.push_back(std::move(m));
  }
  r.record = std::move(record);
  return r;
}

std::string to_string(const Record& record) {
  std::string out = "v=spf1";
  for (const Mechanism& m : record.mechanisms) {
    out.push_back(' ');
    if (m.qualifier != Qualifier::pass) out.push_back(qualifier_char(m.qualifier));
    out.append(to_string(m.kind));
    switch (m.kind) {
      case MechanismKind::ip4:
      case MechanismKind::ip6: {
        out += ":" + m.network.to_string();
        unsigned bits = m.kind == MechanismKind::ip4 ? m.cidr4 : m.cidr6;
        if (bits != (m.kind == MechanismKind::ip4 ? 32u : 128u)) out += "/" + std::to_string(bits);
        break;
      }
      default:
        if (!m.domain_spec.empty()) out += ":" + m.domain_spec;
        if (m.kind == MechanismKind::a || m.kind == MechanismKind::mx) {
          if (m.cidr4 != 32) out += "/" + std::to_string(m.cidr4);
          if (m.cidr6 != 128) out += "//" + std::to_string(m.cidr6);
        }
        break;
    }
  }
  if (record.redirect) out += " redirect=" + record.redirect->value;
  if (record.exp) out += " exp=" + record.exp->value;
  for (const Modifier& mod : record.unknown) out += " " + mod.name + "=" + mod.value;
  return out;
}

}  // namespace mailward::spf
