// Straightforward reference implementations of DKIM canonicalisation (RFC 6376 §3.4.1-§3.4.4, same
// line model as canon.h), for differential checks of the optimised code (canon_test, fuzz_dkim_canon).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "milters/auth/dkim/canon.h"

namespace mailward::dkim::testing {

inline std::string reference_header(Canon c, std::string_view name, std::string_view value) {
  if (c == Canon::simple) return std::string(name) + ":" + std::string(value);
  std::string out;
  std::string_view n = name;
  while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) n.remove_suffix(1);
  for (char ch : n) out.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
  out.push_back(':');
  std::string v;
  for (char ch : value)
    if (ch != '\r' && ch != '\n') v.push_back(ch);
  std::string collapsed;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == ' ' || v[i] == '\t') {
      while (i + 1 < v.size() && (v[i + 1] == ' ' || v[i + 1] == '\t')) ++i;
      collapsed.push_back(' ');
    } else {
      collapsed.push_back(v[i]);
    }
  }
  std::size_t b = collapsed.find_first_not_of(' ');
  std::size_t e = collapsed.find_last_not_of(' ');
  if (b != std::string::npos) out += collapsed.substr(b, e - b + 1);
  return out;
}

inline std::string reference_body(Canon c, std::string_view body) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      lines.emplace_back(body.substr(pos));
      break;
    }
    lines.emplace_back(body.substr(pos, eol - pos));
    pos = eol + 2;
  }
  if (c == Canon::relaxed) {
    for (std::string& l : lines) {
      std::string o;
      for (std::size_t i = 0; i < l.size(); ++i) {
        if (l[i] == ' ' || l[i] == '\t') {
          while (i + 1 < l.size() && (l[i + 1] == ' ' || l[i + 1] == '\t')) ++i;
          o.push_back(' ');
        } else {
          o.push_back(l[i]);
        }
      }
      while (!o.empty() && o.back() == ' ') o.pop_back();
      l = o;
    }
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  for (const std::string& l : lines) out += l + "\r\n";
  if (c == Canon::simple && out.empty()) out = "\r\n";
  return out;
}

}  // namespace mailward::dkim::testing
