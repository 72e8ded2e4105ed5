// SPF macro expansion (RFC 7208 §7): checks and expands macro-strings such as
// "%{ir}.%{v}._spf.%{d2}" for domain-specs and explanation strings. Pure: the values of the letters
// are handed in (the "p" letter through a callback, since it needs DNS). Output is bounded: a
// domain-spec expansion is truncated to 253 characters by dropping left-hand labels (§7.3), an
// explanation to kMaxExplanation bytes, and no expansion produces more than kMaxExpansion bytes of
// intermediate output (a hostile record is answered with an error, not with memory growth).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/net/ip_address.h"

namespace mailward::spf {

enum class MacroMode : std::uint8_t {
  domain_spec,  // letters s l o d i p h v; no spaces (§7.2: c, r, t only in "exp" text)
  explanation,  // explain-string: every letter, and spaces (§6.2, §12)
};

enum class MacroError : std::uint8_t {
  none,
  bad_syntax,          // "%" not followed by "{", "%", "_" or "-"; unterminated "{"; bad character
  letter_not_allowed,  // unknown letter, or c/r/t outside explanation text
  bad_transformer,     // a zero digit count (§7.3: "MUST be nonzero")
  too_long,            // intermediate output beyond kMaxExpansion
};
std::string_view to_string(MacroError) noexcept;

inline constexpr std::size_t kMaxExpansion = 16 * 1024;
inline constexpr std::size_t kMaxExplanation = 1024;
inline constexpr std::size_t kMaxDomainName = 253;

struct MacroContext {
  std::string_view sender;         // s: "local@domain"
  std::string_view local_part;     // l
  std::string_view sender_domain;  // o
  std::string_view domain;         // d: the current domain
  net::IpAddress ip;               // i, c, v (pass the unmapped address)
  std::string_view helo;           // h
  std::string_view receiver = "unknown";  // r
  std::int64_t now = 0;            // t
  // p: the validated domain name of `ip` (§5.5); called at most once per expansion. Without a
  // callback, "unknown".
  std::function<std::string()> validated_name;
};

struct MacroResult {
  std::string text;
  MacroError error = MacroError::none;
  std::string detail;
  bool ok() const noexcept { return error == MacroError::none; }
};

// Syntax check only (no expansion).
MacroError check_macro_string(std::string_view input, MacroMode mode, std::string* detail = nullptr);

// Expands `input`. In domain_spec mode the result is truncated to 253 characters (§7.3) and a
// trailing dot removed; in explanation mode it is cut at kMaxExplanation bytes.
MacroResult expand(std::string_view input, const MacroContext& context, MacroMode mode);

// RFC 7208 §7.3: drops left-hand labels until the name is at most 253 characters.
std::string truncate_domain(std::string_view name);

}  // namespace mailward::spf
