// Small ASCII text helpers shared by every parser in mailward.
// Mail protocols are ASCII-case-insensitive in their keywords; nothing here is locale-dependent.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailward::text {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr bool is_space_or_tab(char c) noexcept { return c == ' ' || c == '\t'; }
// RFC 5234 WSP plus CR and LF: what folding leaves behind.
constexpr bool is_fws(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
constexpr bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
// RFC 9110 §5.6.2 tchar (the bytes of an HTTP token: header field names, methods):
// "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
constexpr bool is_tchar(char c) noexcept {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

std::string to_lower(std::string_view s);
// Inline: parsers call it per token and most pairs differ in length already.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}
bool istarts_with(std::string_view s, std::string_view prefix) noexcept;
bool iends_with(std::string_view s, std::string_view suffix) noexcept;

// Trims spaces, tabs, CR and LF from both ends.
std::string_view trim(std::string_view s) noexcept;

// Splits on `sep`, keeping empty fields.
std::vector<std::string_view> split(std::string_view s, char sep);
// Splits on runs of spaces/tabs/commas, dropping empty fields ("a, b  c" -> a b c).
std::vector<std::string_view> split_list(std::string_view s);

// Parses a whole string as an unsigned decimal number no larger than `max`; false on anything else.
bool parse_uint(std::string_view s, unsigned long long max, unsigned long long& out) noexcept;

// Removes one trailing dot and lowercases: the form DNS names are compared in.
std::string normalize_domain(std::string_view name);

}  // namespace mailward::text
