// Charset conversion to UTF-8 with glibc iconv and a per-thread descriptor cache
// (RFC 2045 §5.1, RFC 2046 §4.1.2 charset parameter; RFC 2047 §2 for header charsets).
//
// UTF-8, US-ASCII and the ISO-8859-1/windows-1252 family are converted here without iconv (they are
// most of the mail); everything else goes through a cached iconv descriptor. We interpret
// "iso-8859-1" as windows-1252, as the WHATWG Encoding Standard does for the web: mail labelled
// Latin-1 routinely carries 0x80-0x9F curly quotes and dashes.
#include "milters/spam/content/charset.h"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>
#include <unordered_map>

#include "common/util/text.h"
#include "milters/spam/content/utf8.h"

namespace mailward::spam {
namespace detail {

namespace {
constexpr std::array<std::uint16_t, 32> kCp1252High = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
}  // namespace

std::uint32_t cp1252_to_unicode(unsigned char c) noexcept {
  if (c >= 0x80 && c < 0xA0) return kCp1252High[static_cast<std::size_t>(c - 0x80)];
  return c;
}

void append_cp1252(std::string& out, std::string_view bytes) {
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80)
      out.push_back(ch);
    else
      append_utf8(out, cp1252_to_unicode(c));
  }
}

bool append_lenient(std::string& out, std::string_view bytes) {
  bool bad = false;
  std::size_t i = 0;
  while (i < bytes.size()) {
    // Copy ASCII runs in one go.
    std::size_t j = i;
    while (j < bytes.size() && static_cast<unsigned char>(bytes[j]) < 0x80) ++j;
    out.append(bytes.substr(i, j - i));
    i = j;
    if (i >= bytes.size()) break;
    std::uint32_t cp = 0;
    std::size_t n = utf8_sequence(bytes, i, cp);
    if (n == 0) {
      bad = true;
      append_utf8(out, cp1252_to_unicode(static_cast<unsigned char>(bytes[i])));
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return bad;
}

}  // namespace detail

namespace {

using detail::append_utf8;

constexpr std::uint32_t kReplacement = 0xFFFD;

struct Alias {
  std::string_view from, to;
};
// Labels seen in mail that iconv does not know or that name a superset better (WHATWG Encoding
// Standard label table, abridged).
constexpr Alias kAliases[] = {
    {"utf8", "utf-8"},
    {"unicode-1-1-utf-8", "utf-8"},
    {"x-unicode20utf8", "utf-8"},
    {"ascii", "us-ascii"},
    {"ansi_x3.4-1968", "us-ascii"},
    {"us", "us-ascii"},
    {"iso646-us", "us-ascii"},
    {"latin1", "iso-8859-1"},
    {"l1", "iso-8859-1"},
    {"iso8859-1", "iso-8859-1"},
    {"iso_8859-1", "iso-8859-1"},
    {"iso-8859-1", "iso-8859-1"},
    {"cp1252", "windows-1252"},
    {"x-cp1252", "windows-1252"},
    {"cp-1252", "windows-1252"},
    {"ks_c_5601-1987", "cp949"},
    {"ks_c_5601", "cp949"},
    {"euc-kr", "cp949"},
    {"gb2312", "gbk"},
    {"x-gbk", "gbk"},
    {"gb_2312-80", "gbk"},
    {"x-sjis", "shift_jis"},
    {"shift-jis", "shift_jis"},
    {"sjis", "shift_jis"},
    {"ms_kanji", "cp932"},
    {"iso-8859-8-i", "iso-8859-8"},
    {"x-mac-roman", "macintosh"},
    {"x-user-defined", "windows-1252"},
    {"unknown-8bit", "windows-1252"},
    {"x-unknown", "windows-1252"},
    {"default", "windows-1252"},
    {"default_charset", "windows-1252"},  // seen in the SpamAssassin corpus (a template left unfilled)
    {"gb2312_charset", "gbk"},
    {"iso-8859-15", "iso-8859-15"},
    {"tis-620", "windows-874"},
    {"big5-hkscs", "big5-hkscs"},
    {"x-euc-tw", "euc-tw"},
};

bool is_label_char(char c) {
  return text::is_alpha(c) || text::is_digit(c) || c == '-' || c == '_' || c == '.' || c == ':';
}

// Per-thread cache of iconv descriptors (to UTF-8) keyed by canonical name; a failed open is
// cached too. Bounded: past kMaxEntries names an arbitrary entry is closed to make room.
class IconvCache {
 public:
  static constexpr std::size_t kMaxEntries = 64;
  ~IconvCache() {
    for (auto& [name, cd] : map_)
      if (cd != invalid()) iconv_close(cd);
  }
  static iconv_t invalid() { return reinterpret_cast<iconv_t>(-1); }  // NOLINT: iconv's error value
  // The descriptor for `name` (invalid() if iconv does not know it); owned by the cache.
  iconv_t get(const std::string& name) {
    auto it = map_.find(name);
    if (it != map_.end()) return it->second;
    iconv_t cd = iconv_open("UTF-8", name.c_str());
    if (map_.size() >= kMaxEntries) {  // full: drop one entry (any) so new names are cached too
      auto victim = map_.begin();
      if (victim->second != invalid()) iconv_close(victim->second);
      map_.erase(victim);
    }
    map_.emplace(name, cd);
    return cd;
  }

 private:
  std::unordered_map<std::string, iconv_t> map_;
};

IconvCache& cache() {
  thread_local IconvCache c;
  return c;
}

// Cuts `out` back to at most max_out bytes at a character boundary.
void clamp(std::string& out, std::size_t max_out) {
  if (out.size() <= max_out) return;
  std::size_t n = max_out;
  while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;
  out.resize(n);
}

// Runs iconv over all of `in`; invalid or incomplete input sequences become U+FFFD.
bool convert(iconv_t cd, std::string_view in, std::string& out, std::size_t max_out) {
  bool bad = false;
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset shift state
  // iconv takes char**: it does not write through the input pointer.
  char* src = const_cast<char*>(in.data());  // NOLINT
  std::size_t src_left = in.size();
  std::array<char, 4096> buf{};
  while (src_left > 0 && out.size() <= max_out) {
    char* dst = buf.data();
    std::size_t dst_left = buf.size();
    std::size_t r = iconv(cd, &src, &src_left, &dst, &dst_left);
    out.append(buf.data(), static_cast<std::size_t>(dst - buf.data()));
    if (r != static_cast<std::size_t>(-1)) continue;
    if (errno == E2BIG) continue;
    // EILSEQ or EINVAL: skip one byte, mark it.
    bad = true;
    append_utf8(out, kReplacement);
    ++src;
    --src_left;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  if (out.size() <= max_out) {  // flush any shift state
    char* dst = buf.data();
    std::size_t dst_left = buf.size();
    iconv(cd, nullptr, nullptr, &dst, &dst_left);
    out.append(buf.data(), static_cast<std::size_t>(dst - buf.data()));
  }
  return bad;
}

}  // namespace

std::string canonical_charset(std::string_view label) {
  std::string_view t = text::trim(label);
  if (t.size() >= 2 && (t.front() == '"' || t.front() == '\'') && t.back() == t.front())
    t = text::trim(t.substr(1, t.size() - 2));
  // "utf-8*en" (RFC 2231 language) or "iso-8859-1//TRANSLIT": only the name counts.
  std::size_t cut = 0;
  while (cut < t.size() && is_label_char(t[cut])) ++cut;
  std::string name = text::to_lower(t.substr(0, std::min<std::size_t>(cut, 40)));
  for (const Alias& a : kAliases)
    if (name == a.from) return std::string(a.to);
  return name;
}

bool repair_utf8(std::string& s) {
  std::size_t i = 0;
  // Fast path: find the first invalid byte.
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    std::uint32_t cp = 0;
    std::size_t n = detail::utf8_sequence(s, i, cp);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return false;
  std::string out(s, 0, i);
  while (i < s.size()) {
    std::uint32_t cp = 0;
    std::size_t n = detail::utf8_sequence(s, i, cp);
    if (n == 0) {
      append_utf8(out, kReplacement);
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  s = std::move(out);
  return true;
}

Utf8Result to_utf8(std::string_view bytes, std::string_view charset, std::size_t max_out) {
  Utf8Result r;
  if (bytes.size() <= max_out) r.text.reserve(bytes.size() + bytes.size() / 8);
  const std::string name = canonical_charset(charset);
  if (name.empty() || name == "us-ascii") {
    // Undeclared or ASCII: 8-bit bytes are common anyway; UTF-8 if valid, else windows-1252.
    detail::append_lenient(r.text, bytes.substr(0, std::min(bytes.size(), max_out)));
  } else if (name == "utf-8") {
    r.text.assign(bytes.substr(0, std::min(bytes.size(), max_out)));
    if (repair_utf8(r.text)) r.status = CharsetStatus::repaired;
  } else if (name == "iso-8859-1" || name == "windows-1252") {
    detail::append_cp1252(r.text, bytes.substr(0, std::min(bytes.size(), max_out)));
  } else {
    iconv_t cd = cache().get(name);
    if (cd == IconvCache::invalid()) {
      r.status = CharsetStatus::unknown;
      detail::append_cp1252(r.text, bytes.substr(0, std::min(bytes.size(), max_out)));
    } else {
      if (convert(cd, bytes, r.text, max_out)) r.status = CharsetStatus::repaired;
      // iconv's output is UTF-8 already; checked anyway so callers can rely on it.
      if (repair_utf8(r.text)) r.status = CharsetStatus::repaired;
    }
  }
  clamp(r.text, max_out);
  return r;
}

}  // namespace mailward::spam
