// SPF macro expansion, RFC 7208 §7 (syntax §7.1, letters §7.2, expansion rules §7.3).
#include "milters/auth/spf/macro.h"

#include <algorithm>
#include <vector>

#include "common/util/text.h"

namespace mailward::spf {

std::string_view to_string(MacroError e) noexcept {
  switch (e) {
    case MacroError::none: return "none";
    case MacroError::bad_syntax: return "bad macro syntax";
    case MacroError::letter_not_allowed: return "macro letter not allowed";
    case MacroError::bad_transformer: return "bad macro transformer";
    case MacroError::too_long: return "macro expansion too long";
  }
  return "?";
}

namespace {

// §7.1 macro-literal = %x21-24 / %x26-7E; explain-string adds SP (§12).
bool is_literal(char c, MacroMode mode) noexcept {
  auto u = static_cast<unsigned char>(c);
  if (u == ' ') return mode == MacroMode::explanation;
  return u >= 0x21 && u <= 0x7e && u != '%';
}

bool is_delimiter(char c) noexcept {
  return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

// §7.2: s l o d i p h v everywhere; c r t only in explanation text.
bool letter_allowed(char lower, MacroMode mode) noexcept {
  switch (lower) {
    case 's': case 'l': case 'o': case 'd': case 'i': case 'p': case 'h': case 'v': return true;
    case 'c': case 'r': case 't': return mode == MacroMode::explanation;
    default: return false;
  }
}

struct Expand {
  char letter = 0;         // as written (uppercase: URL-escape the result, §7.3)
  unsigned long long digits = 0;  // 0: keep all parts
  bool reverse = false;
  std::string_view delimiters;
};

// Parses the macro-expand at input[pos] == '{' ... '}'. Returns the index after '}' or npos.
std::size_t parse_expand(std::string_view input, std::size_t pos, MacroMode mode, Expand& out,
                         MacroError& error, std::string* detail) {
  // input[pos] is '{'
  std::size_t i = pos + 1;
  auto fail = [&](MacroError e, std::string why) {
    error = e;
    if (detail) *detail = std::move(why);
    return std::string_view::npos;
  };
  if (i >= input.size()) return fail(MacroError::bad_syntax, "unterminated %{");
  char letter = input[i];
  if (!text::is_alpha(letter) || !letter_allowed(text::ascii_lower(letter), mode))
    return fail(MacroError::letter_not_allowed,
                std::string("macro letter '") + (text::is_alpha(letter) ? letter : '?') +
                    "' not allowed here (RFC 7208 §7.2)");
  out.letter = letter;
  ++i;
  std::size_t digits_start = i;
  while (i < input.size() && text::is_digit(input[i])) ++i;
  if (i > digits_start) {
    // Saturate: any count beyond the number of parts keeps them all.
    unsigned long long v = 0;
    for (std::size_t k = digits_start; k < i; ++k) {
      v = v * 10 + static_cast<unsigned long long>(input[k] - '0');
      if (v > 1000) v = 1000;
    }
    if (v == 0) return fail(MacroError::bad_transformer, "macro digit transformer of zero (RFC 7208 §7.3)");
    out.digits = v;
  }
  if (i < input.size() && (input[i] == 'r' || input[i] == 'R')) {
    out.reverse = true;
    ++i;
  }
  std::size_t delim_start = i;
  while (i < input.size() && is_delimiter(input[i])) ++i;
  out.delimiters = input.substr(delim_start, i - delim_start);
  if (i >= input.size() || input[i] != '}')
    return fail(MacroError::bad_syntax, "malformed macro-expand (RFC 7208 §7.1)");
  return i + 1;
}

bool unreserved(char c) noexcept {  // RFC 3986 §2.3
  return text::is_alpha(c) || text::is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

void url_escape_append(std::string& out, std::string_view value) {
  static const char hex[] = "0123456789ABCDEF";
  for (char c : value) {
    if (unreserved(c)) {
      out.push_back(c);
    } else {
      auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xf]);
    }
  }
}

// §7.3: split on the delimiters (default "."), reverse, keep the rightmost N parts, join with ".".
std::string transform(std::string_view value, const Expand& e) {
  if (e.digits == 0 && !e.reverse && (e.delimiters.empty() || e.delimiters == "."))
    return std::string(value);
  std::string_view delims = e.delimiters.empty() ? std::string_view(".") : e.delimiters;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delims.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (e.reverse) std::reverse(parts.begin(), parts.end());
  std::size_t first = 0;
  if (e.digits != 0 && e.digits < parts.size()) first = parts.size() - e.digits;
  std::string out;
  for (std::size_t i = first; i < parts.size(); ++i) {
    if (i != first) out.push_back('.');
    out.append(parts[i]);
  }
  return out;
}

}  // namespace

MacroError check_macro_string(std::string_view input, MacroMode mode, std::string* detail) {
  for (std::size_t i = 0; i < input.size();) {
    char c = input[i];
    if (c != '%') {
      if (!is_literal(c, mode)) {
        if (detail) *detail = "invalid character in macro-string (RFC 7208 §7.1)";
        return MacroError::bad_syntax;
      }
      ++i;
      continue;
    }
    if (i + 1 >= input.size()) {
      if (detail) *detail = "'%' at end of macro-string (RFC 7208 §7.1)";
      return MacroError::bad_syntax;
    }
    char n = input[i + 1];
    if (n == '%' || n == '_' || n == '-') {
      i += 2;
      continue;
    }
    if (n != '{') {
      if (detail) *detail = "'%' not followed by '{', '%', '_' or '-' (RFC 7208 §7.1)";
      return MacroError::bad_syntax;
    }
    Expand e;
    MacroError err = MacroError::none;
    std::size_t next = parse_expand(input, i + 1, mode, e, err, detail);
    if (next == std::string_view::npos) return err;
    i = next;
  }
  return MacroError::none;
}

std::string truncate_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  while (name.size() > kMaxDomainName) {
    std::size_t dot = name.find('.');
    if (dot == std::string_view::npos) return std::string();
    name.remove_prefix(dot + 1);
  }
  return std::string(name);
}

MacroResult expand(std::string_view input, const MacroContext& ctx, MacroMode mode) {
  MacroResult r;
  if (MacroError e = check_macro_string(input, mode, &r.detail); e != MacroError::none) {
    r.error = e;
    return r;
  }
  std::string& out = r.text;
  bool have_p = false;
  std::string p_value;
  for (std::size_t i = 0; i < input.size();) {
    if (out.size() > kMaxExpansion) {
      r.error = MacroError::too_long;
      r.detail = "macro expansion longer than " + std::to_string(kMaxExpansion) + " bytes";
      r.text.clear();
      return r;
    }
    char c = input[i];
    if (c != '%') {
      out.push_back(c);
      ++i;
      continue;
    }
    char n = input[i + 1];  // checked above: present
    if (n == '%') { out.push_back('%'); i += 2; continue; }
    if (n == '_') { out.push_back(' '); i += 2; continue; }
    if (n == '-') { out.append("%20"); i += 2; continue; }
    Expand e;
    MacroError err = MacroError::none;
    std::size_t next = parse_expand(input, i + 1, mode, e, err, nullptr);
    i = next;
    std::string value;
    switch (text::ascii_lower(e.letter)) {
      case 's': value = ctx.sender; break;
      case 'l': value = ctx.local_part; break;
      case 'o': value = ctx.sender_domain; break;
      case 'd': value = ctx.domain; break;
      case 'i': value = ctx.ip.to_dotted_nibbles(); break;
      case 'p':
        if (!have_p) {
          p_value = ctx.validated_name ? ctx.validated_name() : std::string("unknown");
          have_p = true;
        }
        value = p_value;
        break;
      case 'v': value = ctx.ip.is_v4() ? "in-addr" : "ip6"; break;
      case 'h': value = ctx.helo; break;
      case 'c': value = ctx.ip.to_string(); break;
      case 'r': value = ctx.receiver; break;
      case 't': value = std::to_string(ctx.now); break;
      default: break;
    }
    if (value.size() > kMaxExpansion) value.resize(kMaxExpansion + 1);
    std::string transformed = transform(value, e);
    if (text::is_alpha(e.letter) && e.letter >= 'A' && e.letter <= 'Z')
      url_escape_append(out, transformed);
    else
      out.append(transformed);
  }
  if (out.size() > kMaxExpansion) {
    r.error = MacroError::too_long;
    r.detail = "macro expansion longer than " + std::to_string(kMaxExpansion) + " bytes";
    r.text.clear();
    return r;
  }
  if (mode == MacroMode::domain_spec) {
    out = truncate_domain(out);
  } else if (out.size() > kMaxExplanation) {
    out.resize(kMaxExplanation);
  }
  return r;
}

}  // namespace mailward::spf
