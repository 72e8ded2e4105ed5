// Fuzz target dkim_canon: header and body canonicalisation (RFC 6376 §3.4). The body is fed once
// whole and once in chunks whose sizes come from the input; both must give the same bytes, and
// canonical output must be a fixed point (canonicalising it again changes nothing).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "milters/auth/dkim/canon.h"

using namespace mailward::dkim;

namespace {

std::string run(Canon c, std::string_view body, std::string_view splits) {
  BodyCanonicalizer bc(c);
  std::string out;
  std::size_t pos = 0, k = 0;
  while (pos < body.size()) {
    std::size_t n = splits.empty() ? body.size() : 1 + static_cast<std::size_t>(static_cast<unsigned char>(splits[k++ % splits.size()]) % 16);
    n = std::min(n, body.size() - pos);
    out.append(bc.update(body.substr(pos, n)));
    pos += n;
  }
  out.append(bc.finish());
  if (bc.emitted() != out.size()) std::abort();
  return out;
}

// Straightforward reference implementations (RFC 6376 §3.4.1-§3.4.4, same line model as canon.h),
// for differential checking of the optimised code.
std::string reference_header(Canon c, std::string_view name, std::string_view value) {
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

std::string reference_body(Canon c, std::string_view body) {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Layout: first byte = number of split bytes (mod 8), then split bytes, then the text.
  std::size_t nsplit = in.empty() ? 0 : static_cast<unsigned char>(in[0]) % 8;
  std::string_view rest = in.empty() ? in : in.substr(1);
  std::string_view splits = rest.substr(0, std::min(nsplit, rest.size()));
  std::string_view body = rest.substr(splits.size());
  for (Canon c : {Canon::simple, Canon::relaxed}) {
    std::string whole = run(c, body, {});
    std::string chunked = run(c, body, splits);
    if (whole != chunked) std::abort();
    if (whole != reference_body(c, body)) std::abort();
    if (run(c, whole, {}) != whole) std::abort();
    if (!whole.empty() && !(whole.size() >= 2 && whole.substr(whole.size() - 2) == "\r\n")) std::abort();
    // l=: a limiter never passes more than its limit.
    BodyLimiter lim(static_cast<std::uint64_t>(body.size() / 2));
    if (lim.take(whole).size() > body.size() / 2) std::abort();
    // Headers: split the text at the first ':' into name and value.
    std::size_t colon = body.find(':');
    std::string_view name = body.substr(0, colon == std::string_view::npos ? body.size() : colon);
    std::string h;
    append_canonical_header(h, c, name, colon == std::string_view::npos ? std::string_view() : body.substr(colon + 1));
    if (h != reference_header(c, name, colon == std::string_view::npos ? std::string_view() : body.substr(colon + 1)))
      std::abort();
    // Relaxed values are unfolded (names are taken as given: a field name never holds CR or LF).
    bool name_clean = name.find_first_of("\r\n") == std::string_view::npos;
    if (c == Canon::relaxed && name_clean && h.find_first_of("\r\n") != std::string::npos) std::abort();
  }
  return 0;
}
