// Conversion of body and header text to UTF-8 (RFC 2045 §5.1 charset parameter, RFC 2047 §2).
//
// glibc iconv does the work; descriptors are cached per thread and per charset name, so a
// converter is opened once per thread. Unknown or unsupported charsets fall back to windows-1252
// (a superset of ISO-8859-1 for printable text, what mail clients do in practice) and report it.
// Output is always valid UTF-8: invalid input sequences become U+FFFD.
#pragma once

#include <string>
#include <string_view>

namespace mailward::spam {

enum class CharsetStatus {
  ok,         // converted (or already valid UTF-8 / ASCII)
  repaired,   // converted, but some input sequences were invalid and replaced by U+FFFD
  unknown,    // charset not known to iconv: decoded as windows-1252
};

struct Utf8Result {
  std::string text;
  CharsetStatus status = CharsetStatus::ok;
};

// `charset` is the label as written ("ISO-8859-1", "utf8", "x-unknown", ""). Empty means
// us-ascii, which is read leniently as UTF-8 with windows-1252 for invalid bytes.
// At most `max_out` bytes are produced (the rest is dropped at a character boundary).
Utf8Result to_utf8(std::string_view bytes, std::string_view charset,
                   std::size_t max_out = static_cast<std::size_t>(-1));

// Valid UTF-8 stays as is; each invalid byte is replaced by U+FFFD. Returns true if changed.
bool repair_utf8(std::string& text);

// Normalised charset name for comparisons and the iconv cache: lowercase, aliases folded
// ("utf8" -> "utf-8", "latin1" -> "iso-8859-1", "ks_c_5601-1987" -> "cp949", ...).
std::string canonical_charset(std::string_view label);

}  // namespace mailward::spam
