// DKIM public-key records (RFC 6376 §3.6.1, RFC 8463 §4 for k=ed25519).
//
// Pure parsing of the TXT text found at selector._domainkey.domain: no DNS and no crypto (the
// p= bytes are decoded here and turned into a key by crypto.h). Errors are values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailward::dkim {

enum class KeyType : std::uint8_t { rsa, ed25519 };
std::string_view to_string(KeyType t) noexcept;

enum class KeyRecordError : std::uint8_t {
  ok,
  syntax,            // tag-list syntax, duplicate tag, missing p=
  bad_version,       // v= present and not "DKIM1"
  unsupported_key_type,
  not_for_email,     // s= lists neither "email" nor "*"
  revoked,           // empty p= (§3.6.1 p=)
  bad_base64,
};
std::string_view to_string(KeyRecordError e) noexcept;

struct KeyRecord {
  KeyType type = KeyType::rsa;       // k=, default rsa
  std::string public_key;            // p= decoded (DER SubjectPublicKeyInfo / RSAPublicKey, or 32 raw ed25519 bytes)
  std::vector<std::string> hashes;   // h=, lowercased; empty = every hash allowed
  bool testing = false;              // t=y
  bool strict = false;               // t=s: i= domain must equal d= exactly
  bool allows_hash(std::string_view hash) const noexcept;  // "sha256"
};

struct KeyRecordParse {
  KeyRecordError error = KeyRecordError::ok;
  std::string detail;
  KeyRecord record;
  bool ok() const noexcept { return error == KeyRecordError::ok; }
};

KeyRecordParse parse_key_record(std::string_view text);

}  // namespace mailward::dkim
