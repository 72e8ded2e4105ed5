// mailward::dkim — DKIM verification and signing (RFC 6376), with RFC 8301 (no rsa-sha1, RSA keys
// of at least 1024 bits) and RFC 8463 (ed25519-sha256), on OpenSSL's EVP API.
//
// Verifier: one per message. Call set_headers() once (all header fields, top first), add_body()
// with CRLF body bytes split anywhere, then finish(): one SignatureResult per DKIM-Signature field,
// in header order. Body hashes are computed once per distinct (body canonicalisation, hash, l=).
// Public keys come through dns::Resolver and are kept parsed in a KeyCache shared by all
// verifiers (thread-safe). Verdicts are values; nothing here throws for untrusted input.
//
// Signer: one per message, same call order; finish() returns the DKIM-Signature fields to
// prepend (relaxed/relaxed, one per key: RSA and Ed25519 side by side, RFC 8463 §1).
//
// Status words are RFC 8601 §2.7.1's. Our mapping (an interpretation; RFC 6376 only says
// PERMFAIL/TEMPFAIL): a wrong body hash or signature -> fail; any signature or key-record
// problem, rsa-sha1, RSA < 1024 bits, expired/future signature, missing key -> permerror;
// RSA >= 1024 bits but under VerifyOptions::min_rsa_bits -> policy; DNS failure -> temperror.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/dns/resolver.h"
#include "common/mail/message.h"
#include "milters/auth/dkim/key_record.h"

namespace mailward::dkim {

enum class Status { none, pass, fail, neutral, policy, temperror, permerror };  // RFC 8601 §2.7.1 words
std::string_view to_string(Status) noexcept;

struct SignatureResult {
  Status status = Status::none;
  std::string domain;     // d=   (header.d)
  std::string selector;   // s=   (header.s)
  std::string algorithm;  // a=   (header.a), e.g. "rsa-sha256", "ed25519-sha256"
  std::string identity;   // i= or "@" + d (header.i)
  std::string b_prefix;   // first 8 characters of b= (header.b, RFC 6008)
  std::string reason;     // human-readable, e.g. "body hash mismatch", "RSA key 512 bits < 1024"
  unsigned key_bits = 0;
  bool testing = false;   // key t=y
};

struct VerifyOptions {
  unsigned min_rsa_bits = 1024;   // below 1024 is always refused (RFC 8301 §3.2)
  unsigned max_signatures = 10;   // more are reported permerror without DNS work (bounded cost)
  std::int64_t now = 0;           // unix time, for x= / t= (0: time checks skipped) and cache TTLs
  std::int64_t clock_skew = 300;
};

namespace crypto {
class RsaVerifyPool;
}

// What the cache holds for one key name: a usable key, or why there is none.
struct CachedKey {
  Status status = Status::pass;  // pass: usable; permerror / temperror otherwise
  std::string reason;
  KeyRecord record;              // public_key bytes dropped after parsing
  std::shared_ptr<EVP_PKEY> pkey;
  unsigned bits = 0;
  std::shared_ptr<crypto::RsaVerifyPool> rsa_pool;  // reusable verification contexts (RSA)
};

class KeyCache {  // parsed public keys keyed by "selector._domainkey.domain", TTL-bound, thread-safe
 public:
  explicit KeyCache(std::size_t max_entries = 10000, std::uint32_t min_ttl = 60, std::uint32_t max_ttl = 86400);
  // Looks `name` up (DNS on a miss or after expiry). Temporary failures are never cached.
  std::shared_ptr<const CachedKey> get(dns::Resolver& resolver, const std::string& name, std::int64_t now);
  std::size_t size() const;
  std::uint64_t hits() const;
  std::uint64_t misses() const;  // each miss is one DNS lookup and at most one key parse

 private:
  struct Entry {
    std::shared_ptr<const CachedKey> key;
    std::int64_t expires = 0;
  };
  std::size_t max_entries_;
  std::uint32_t min_ttl_, max_ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t hits_ = 0, misses_ = 0;
};

// Streaming verifier for one message: headers first, then body chunks in any split, then finish().
class Verifier {
 public:
  Verifier(dns::Resolver&, KeyCache&, VerifyOptions);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;
  void set_headers(const std::vector<mail::HeaderField>& headers);  // all headers, top first
  void add_body(std::string_view crlf_chunk);
  std::vector<SignatureResult> finish();  // one result per DKIM-Signature field, in header order

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
std::vector<SignatureResult> verify_message(dns::Resolver&, KeyCache&, const mail::Message&, VerifyOptions);

struct SigningKey {
  std::string domain, selector;
  KeyType type = KeyType::rsa;
  std::shared_ptr<EVP_PKEY> key;
  static SigningKey load_pem_file(std::string domain, std::string selector, const std::string& path);  // throws std::runtime_error naming the file
  static SigningKey load_pem(std::string domain, std::string selector, std::string_view pem);  // throws std::runtime_error
  // A raw 32-byte Ed25519 private key (RFC 8032 seed), as RFC 8463 and dkimpy publish theirs.
  static SigningKey from_ed25519_seed(std::string domain, std::string selector, std::string_view seed);  // throws
};

struct SignOptions {  // an aggregate: SignOptions{.now = t} works
  // Signed when present, each instance once (RFC 6376 §5.4).
  std::vector<std::string> signed_headers = {"from",       "reply-to",     "subject",      "date",
                                             "to",         "cc",           "message-id",   "in-reply-to",
                                             "references", "mime-version", "content-type", "content-transfer-encoding",
                                             "list-id",    "list-unsubscribe"};
  // Listed once more than present, so no instance can be added (RFC 6376 §8.15).
  std::vector<std::string> oversigned_headers = {"from", "subject", "to", "cc", "reply-to", "date", "content-type"};
  std::int64_t now = 0;                        // t= (omitted when 0)
  std::int64_t expire_after = 0;               // x= = now + this when > 0
};

// Streaming signer: one DKIM-Signature per key (RSA and Ed25519 side by side), relaxed/relaxed.
class Signer {
 public:
  Signer(std::vector<SigningKey> keys, SignOptions);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;
  void set_headers(const std::vector<mail::HeaderField>& headers);
  void add_body(std::string_view crlf_chunk);
  std::vector<mail::HeaderField> finish();  // DKIM-Signature fields ready to prepend (folded, CRLF)
  // Why finish() returned fewer fields than keys (no From field, a key that cannot sign); empty if none.
  const std::string& error() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct GeneratedKey { std::string private_pem; std::string dns_txt; };  // dns_txt: "v=DKIM1; k=rsa; p=..."
GeneratedKey generate_key(KeyType, unsigned rsa_bits = 2048);  // throws std::runtime_error on failure

}  // namespace mailward::dkim
