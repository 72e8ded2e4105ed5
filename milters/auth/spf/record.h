// SPF record parser (RFC 7208 §4.5, §4.6, §5, §6 and the ABNF of §12): turns the text of one
// "v=spf1" TXT record into typed terms, or a typed parse error. Pure: no DNS, no allocation beyond
// the result. Macro strings (domain-specs, modifier values) are checked for syntax here and kept
// unexpanded; macro.h expands them at evaluation time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/ip_address.h"

namespace mailward::spf {

// RFC 7208 §4.6.2: "+" (default), "-", "~", "?".
enum class Qualifier : std::uint8_t { pass, fail, softfail, neutral };
char qualifier_char(Qualifier) noexcept;

enum class MechanismKind : std::uint8_t { all, include, a, mx, ptr, ip4, ip6, exists };
std::string_view to_string(MechanismKind) noexcept;

struct Mechanism {
  Qualifier qualifier = Qualifier::pass;
  MechanismKind kind = MechanismKind::all;
  std::string domain_spec;   // unexpanded macro-string; empty: the current domain (a, mx, ptr)
  net::IpAddress network;    // ip4 / ip6 only
  unsigned cidr4 = 32;       // a, mx: ip4-cidr-length; ip4: prefix length
  unsigned cidr6 = 128;      // a, mx: ip6-cidr-length; ip6: prefix length
  std::string text;          // the term exactly as written (for logs and Verdict::mechanism)
  // RFC 7208 §4.6.4: include, a, mx, ptr and exists count against the DNS-term limit.
  bool queries_dns() const noexcept;
};

struct Modifier {
  std::string name;   // lowercase
  std::string value;  // unexpanded macro-string
};

struct Record {
  std::vector<Mechanism> mechanisms;   // in record order
  std::optional<Modifier> redirect;    // RFC 7208 §6.1
  std::optional<Modifier> exp;         // RFC 7208 §6.2
  std::vector<Modifier> unknown;       // RFC 7208 §6: ignored, but must be syntactically valid
};

enum class ParseError : std::uint8_t {
  none,
  not_spf,               // does not start with "v=spf1" followed by a space or the end (§4.5)
  invalid_character,     // a byte outside printable ASCII / SP (NUL, control, non-ASCII; §3.1, §4.6.1)
  unknown_mechanism,     // §5: unknown mechanism name
  bad_argument,          // a mechanism given an argument it does not take, or missing one it needs
  bad_domain_spec,       // macro-string syntax or domain-end (§7.1, §12)
  bad_macro,             // malformed macro-expand or a letter not allowed there (§7.1, §7.2)
  bad_cidr,              // cidr-length out of range or with a leading zero (§5.6)
  bad_ip,                // ip4-network / ip6-network not an address of that family (§5.6)
  duplicate_modifier,    // redirect or exp given more than once (§6)
  bad_modifier,          // modifier name or value syntax (§6, §12)
};
std::string_view to_string(ParseError) noexcept;

struct ParseResult {
  std::optional<Record> record;
  ParseError error = ParseError::none;
  std::string detail;  // human-readable: which term and why
  bool ok() const noexcept { return error == ParseError::none; }
};

// RFC 7208 §4.5: a TXT record is an SPF record when it begins with "v=spf1" (any case)
// followed by a space or the end of the record.
bool is_spf_record(std::string_view txt) noexcept;

// Parses a whole record (the version included). Never throws.
ParseResult parse_record(std::string_view txt);

// Prints a parsed record back in canonical form ("v=spf1 term term ..."): mechanisms in order with
// explicit non-default qualifiers, then redirect, exp and unknown modifiers. Parsing the output gives
// an equal record (the fuzz target checks this).
std::string to_string(const Record& record);

// True when `spec` is a valid domain-spec of RFC 7208 §12 (macro-string domain-end), with only the
// macro letters allowed outside "exp" text (§7.2).
bool valid_domain_spec(std::string_view spec, std::string* detail = nullptr);

// For logs and problem texts: `text` cut to `max` bytes with "..." appended when longer, so a
// hostile record is never repeated whole.
std::string abbreviate(std::string_view text, std::size_t max = 80);

}  // namespace mailward::spf
