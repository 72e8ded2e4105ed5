#include "common/util/text.h"

namespace mailward::text {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool iends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::vector<std::string_view> split_list(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (is_fws(s[i]) || s[i] == ',')) ++i;
    std::size_t start = i;
    while (i < s.size() && !is_fws(s[i]) && s[i] != ',') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool parse_uint(std::string_view s, unsigned long long max, unsigned long long& out) noexcept {
  if (s.empty() || s.size() > 20) return false;
  unsigned long long value = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    unsigned long long digit = static_cast<unsigned long long>(c - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

std::string normalize_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return to_lower(name);
}

}  // namespace mailward::text
