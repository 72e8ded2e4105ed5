// URL spotting in text and host extraction (see urls.h; RFC 3986 §3 for the URL parts).
#include "milters/spam/content/urls.h"

#include <cstring>

#include "common/util/text.h"

namespace mailward::spam {
namespace {

bool is_alnum(char c) { return text::is_alpha(c) || text::is_digit(c); }

bool ends_url(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7F || std::strchr("<>\"'`{}|\\^", c) != nullptr;
}

}  // namespace

std::vector<std::string_view> find_urls(std::string_view s, std::size_t max) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < max) {
    char c = text::ascii_lower(s[i]);
    if ((c != 'h' && c != 'f' && c != 'w') || (i > 0 && (is_alnum(s[i - 1]) || s[i - 1] == '.'))) {
      ++i;
      continue;
    }
    std::string_view rest = s.substr(i);
    std::size_t skip = 0;
    if (text::istarts_with(rest, "http://")) skip = 7;
    else if (text::istarts_with(rest, "https://")) skip = 8;
    else if (text::istarts_with(rest, "ftp://")) skip = 6;
    else if (text::istarts_with(rest, "www.")) skip = 4;
    if (skip == 0) {
      ++i;
      continue;
    }
    std::size_t j = i + skip;
    while (j < s.size() && !ends_url(s[j])) ++j;
    // Trailing punctuation belongs to the sentence; a closing bracket only if the URL has no
    // opening one (looked up once: stripping from the end never adds one).
    const bool has_paren = s.substr(i, j - i).find('(') != std::string_view::npos;
    const bool has_bracket = s.substr(i, j - i).find('[') != std::string_view::npos;
    while (j > i + skip) {
      char t = s[j - 1];
      if (std::strchr(".,;:!?", t) != nullptr) {
        --j;
        continue;
      }
      if ((t == ')' && !has_paren) || (t == ']' && !has_bracket)) {
        --j;
        continue;
      }
      break;
    }
    if (j > i + skip) out.push_back(s.substr(i, j - i));
    i = j > i ? j : i + 1;
  }
  return out;
}

std::string url_host(std::string_view url) {
  std::string_view u = text::trim(url);
  std::size_t p = u.find("://");
  std::size_t colon = u.find(':');
  if (p != std::string_view::npos && colon == p) {
    std::string_view scheme = u.substr(0, p);
    for (char c : scheme)
      if (!is_alnum(c) && c != '+' && c != '-' && c != '.') return {};
    u = u.substr(p + 3);
  } else if (u.starts_with("//")) {
    u = u.substr(2);
  } else if (text::istarts_with(u, "www.")) {
    // scheme-less, as written in text
  } else {
    return {};
  }
  std::size_t end = 0;
  while (end < u.size() && u[end] != '/' && u[end] != '?' && u[end] != '#' && u[end] != '\\') ++end;
  std::string_view auth = u.substr(0, end);
  std::size_t at = auth.rfind('@');
  if (at != std::string_view::npos) auth = auth.substr(at + 1);
  std::string_view host;
  if (auth.starts_with("[")) {
    std::size_t close = auth.find(']');
    if (close == std::string_view::npos) return {};
    host = auth.substr(1, close - 1);
  } else {
    host = auth.substr(0, auth.find(':'));
  }
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) return {};
  for (char c : host) {
    auto b = static_cast<unsigned char>(c);
    if (!(is_alnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || b >= 0x80)) return {};
  }
  return text::to_lower(host);
}

}  // namespace mailward::spam
