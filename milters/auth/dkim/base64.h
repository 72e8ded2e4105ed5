// Base64 (RFC 4648 §4) as DKIM uses it: b=, bh= and p= values (RFC 6376 §2.4, §3.5, §3.6.1).
// Pure functions. Decoding skips folding whitespace (RFC 6376 §3.5: FWS may appear inside
// base64string) and accepts values with or without the final '=' padding; anything else — a
// character outside the alphabet, padding in the middle, leftover bits that are not zero — fails.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailward::dkim {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace mailward::dkim
