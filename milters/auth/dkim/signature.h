// DKIM tag lists (RFC 6376 §3.2) and the DKIM-Signature header field (RFC 6376 §3.5).
//
// Pure parsing: no DNS, no crypto. parse_tag_list() keeps byte offsets into the raw value so the
// verifier can blank b= in the exact bytes it hashes (§3.7). parse_signature() checks every rule
// of §3.5 and §6.1.1 that needs no key and no clock; errors are values (SignatureError + detail).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "milters/auth/dkim/canon.h"

namespace mailward::dkim {

struct Tag {
  std::string_view name;
  std::string_view value;        // trimmed of surrounding FWS; inner FWS kept
  std::size_t value_begin = 0;   // offsets of `value` in the parsed text
  std::size_t value_end = 0;
};

enum class TagListError : std::uint8_t { ok, syntax, duplicate };

struct TagList {
  TagListError error = TagListError::ok;
  std::string detail;
  std::vector<Tag> tags;
  const Tag* find(std::string_view name) const noexcept;  // tag names are case-sensitive (§3.2)
};

// RFC 6376 §3.2. The views in the result point into `text`.
TagList parse_tag_list(std::string_view text);
// The same into `out` (cleared first), reusing its tag vector's storage: parse_signature() keeps
// one per thread, so parsing allocates nothing per message.
void parse_tag_list_into(std::string_view text, TagList& out);

// Removes FWS (space, tab, CR, LF) from a tag value: the form of b=, bh=, h= lists, p=.
std::string strip_fws(std::string_view value);

enum class Algorithm : std::uint8_t { rsa_sha256, ed25519_sha256, rsa_sha1 };
std::string_view to_string(Algorithm a) noexcept;

enum class SignatureError : std::uint8_t {
  ok,
  syntax,              // tag-list syntax, duplicate tag, bad value
  missing_tag,         // a required tag is absent
  bad_version,         // v= is not 1
  unsupported_algorithm,
  unsupported_canonicalization,
  unsupported_query_method,
  bad_domain,          // d= / i= not acceptable
  identity_mismatch,   // i= not d= or a subdomain of it (§3.5 i=)
  from_not_signed,     // h= lacks From (§5.4, §6.1.1)
  bad_base64,
  bad_timestamps,      // x= not greater than t= (§3.5 x=)
};
std::string_view to_string(SignatureError e) noexcept;

struct Signature {
  Algorithm algorithm = Algorithm::rsa_sha256;
  std::string algorithm_text;             // a= as written (lowercased)
  Canon header_canon = Canon::simple;
  Canon body_canon = Canon::simple;
  std::string domain;                     // d=, lowercased, no trailing dot
  std::string selector;                   // s=, lowercased
  std::string identity;                   // i= decoded, or "@" + d
  std::string identity_domain;            // domain part of identity, lowercased
  std::vector<std::string> signed_headers;  // h=, in order, as written
  std::string body_hash;                  // bh= decoded bytes
  std::string signature;                  // b= decoded bytes
  std::optional<std::uint64_t> body_length;  // l=
  std::optional<std::int64_t> timestamp;     // t=
  std::optional<std::int64_t> expiration;    // x=
};

struct SignatureParse {
  SignatureError error = SignatureError::ok;
  std::string detail;
  Signature signature;
  // Best effort even on error, for Authentication-Results (header.d / header.s / header.b).
  std::string domain, selector, algorithm, identity;  // identity: i= as written
  std::string b_prefix;  // the first 8 characters of b= without FWS (header.b, RFC 6008)
  std::size_t b_begin = 0, b_end = 0;  // offsets of the b= value in the parsed text (for §3.7)
  bool ok() const noexcept { return error == SignatureError::ok; }
};

SignatureParse parse_signature(std::string_view value);

// The DKIM-Signature value with the b= tag's value removed (RFC 6376 §3.7): exact bytes otherwise.
// Returns the value unchanged when there is no b= tag.
std::string without_b_value(std::string_view value);

// Renders a tag list value " t1=v1; t2=v2" (used by the signer and by fuzz round trips).
std::string render_tag_list(const std::vector<std::pair<std::string, std::string>>& tags);

}  // namespace mailward::dkim
