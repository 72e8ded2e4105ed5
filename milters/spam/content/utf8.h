// Internal UTF-8 helpers shared by the content parsers (not part of the public API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailward::spam::detail {

inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 if invalid there (RFC 3629 §4:
// no overlongs, no surrogates, nothing above U+10FFFF). Decoded code point in `cp`.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t left = s.size() - i;
  unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    if (left < 2 || (b(1) & 0xC0) != 0x80) return 0;
    cp = (static_cast<std::uint32_t>(c & 0x1F) << 6) | (b(1) & 0x3Fu);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || (b(1) & 0xC0) != 0x80 || (b(2) & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    cp = (static_cast<std::uint32_t>(c & 0x0F) << 12) | (static_cast<std::uint32_t>(b(1) & 0x3F) << 6) |
         (b(2) & 0x3Fu);
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || (b(1) & 0xC0) != 0x80 || (b(2) & 0xC0) != 0x80 || (b(3) & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    cp = (static_cast<std::uint32_t>(c & 0x07) << 18) | (static_cast<std::uint32_t>(b(1) & 0x3F) << 12) |
         (static_cast<std::uint32_t>(b(2) & 0x3F) << 6) | (b(3) & 0x3Fu);
    return 4;
  }
  return 0;
}

// windows-1252 byte -> code point (WHATWG Encoding: the five undefined bytes map to C1 controls).
std::uint32_t cp1252_to_unicode(unsigned char c) noexcept;

// Appends `bytes` as windows-1252 (ASCII bytes copied).
void append_cp1252(std::string& out, std::string_view bytes);

// Appends `bytes` to out: valid UTF-8 as is, invalid bytes read as windows-1252. True if some
// byte was invalid.
bool append_lenient(std::string& out, std::string_view bytes);

}  // namespace mailward::spam::detail
