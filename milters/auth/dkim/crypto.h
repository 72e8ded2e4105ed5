// The OpenSSL (EVP API) side of DKIM: digests, public-key loading, signature checks and signing.
//
// RFC 6376 §3.3 (rsa-sha256: RSASSA-PKCS1-v1_5 over the SHA-256 of the header data) and
// RFC 8463 §3 (ed25519-sha256: PureEd25519 over the 32-byte SHA-256 of the header data).
// Both algorithms sign a digest we computed ourselves, so hashing stays streaming and is done
// once. EVP_PKEY objects are immutable after loading and shared between threads.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "milters/auth/dkim/key_record.h"

namespace mailward::dkim::crypto {

enum class Hash : std::uint8_t { sha256, sha1 };

// Incremental digest; movable, not copyable.
class Digest {
 public:
  explicit Digest(Hash hash = Hash::sha256);
  void update(std::string_view data);
  std::string final();  // raw digest bytes; the object is spent afterwards
 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const noexcept;
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::string sha256(std::string_view data);

// SHA-256 without the EVP layer, for the verifier's two hashes per message (header block, body):
// the context lives inline, so a message costs no EVP_MD_CTX allocation, provider context set-up
// or teardown (together ~1k instructions per hash, more than hashing 1 KB with SHA-NI). OpenSSL's
// SHA256_Init/Update/Final are deprecated in 3.0 but present, and run the same block code
// (SHA-NI / AVX2, chosen at run time) as EVP's SHA-256.
class Sha256 {
 public:
  static constexpr std::size_t kSize = 32;
  Sha256() noexcept;
  void update(std::string_view data) noexcept;
  void final(unsigned char (&out)[kSize]) noexcept;  // the object is spent afterwards

 private:
  alignas(8) unsigned char ctx_[112];  // a SHA256_CTX (size checked in crypto.cpp)
};

// Ready-to-use RSA verification contexts for one key. Setting a context up (EVP_PKEY_CTX_new,
// verify_init, padding, digest: provider fetches under locks in OpenSSL 3) costs about a quarter
// of an RSA-2048 verification, so contexts are kept and reused. A context is used by one thread
// at a time (taken from the pool under a mutex, given back after use); thread-safe.
class RsaVerifyPool {
 public:
  explicit RsaVerifyPool(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  ~RsaVerifyPool();
  RsaVerifyPool(const RsaVerifyPool&) = delete;
  RsaVerifyPool& operator=(const RsaVerifyPool&) = delete;
  bool verify(std::string_view digest, std::string_view signature);

 private:
  EVP_PKEY_CTX* take();
  void give(EVP_PKEY_CTX* ctx);
  std::shared_ptr<EVP_PKEY> key_;
  std::mutex mutex_;
  std::vector<EVP_PKEY_CTX*> idle_;
};

struct PublicKey {
  KeyType type = KeyType::rsa;
  std::shared_ptr<EVP_PKEY> pkey;
  unsigned bits = 0;
  std::shared_ptr<RsaVerifyPool> rsa_pool;  // set for RSA keys by load_public_key
};

// RSA: DER SubjectPublicKeyInfo, or PKCS#1 RSAPublicKey (RFC 6376 §3.6.1 names the latter; the
// former is what everybody publishes). Ed25519: exactly 32 raw bytes (RFC 8463 §4).
std::optional<PublicKey> load_public_key(KeyType type, std::string_view bytes, std::string& error);

// Checks `signature` over `digest` (SHA-256, 32 bytes).
bool verify_digest(const PublicKey& key, std::string_view digest, std::string_view signature);
// The same with the key's parts borrowed (no shared_ptr copies: the verifier's hot path); `rsa_pool`
// may be null.
bool verify_digest(KeyType type, EVP_PKEY* pkey, RsaVerifyPool* rsa_pool, std::string_view digest,
                   std::string_view signature);

// Signs a SHA-256 digest; empty on failure.
std::string sign_digest(EVP_PKEY* key, KeyType type, std::string_view digest);

std::shared_ptr<EVP_PKEY> adopt(EVP_PKEY* key);  // takes ownership

}  // namespace mailward::dkim::crypto
