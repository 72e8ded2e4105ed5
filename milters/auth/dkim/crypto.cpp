// OpenSSL EVP glue for DKIM: digests, key loading, RSA PKCS#1 v1.5 (RFC 6376 §3.3) and
// Ed25519 (RFC 8463 §3) over a precomputed SHA-256 digest.
#include "milters/auth/dkim/crypto.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <new>

namespace mailward::dkim::crypto {
namespace {

// Fetched once: implicit fetching on every EVP_DigestInit is a measurable cost in OpenSSL 3.
const EVP_MD* md_for(Hash h) {
  static EVP_MD* sha256_md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* sha1_md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return h == Hash::sha256 ? sha256_md : sha1_md;
}

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

bool verify_digest_unchecked(KeyType type, EVP_PKEY* pkey, RsaVerifyPool* rsa_pool, std::string_view digest,
                             std::string_view signature);

void Digest::Free::operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }

Digest::Digest(Hash hash) : ctx_(EVP_MD_CTX_new()) {
  if (ctx_) EVP_DigestInit_ex2(ctx_.get(), md_for(hash), nullptr);
}

void Digest::update(std::string_view data) {
  if (ctx_ && !data.empty()) EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
}

std::string Digest::final() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!ctx_ || EVP_DigestFinal_ex(ctx_.get(), out, &n) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string sha256(std::string_view data) {
  // One context per thread, re-initialised per call: no EVP_MD_CTX allocation per digest.
  thread_local const MdCtx ctx(EVP_MD_CTX_new());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md_for(Hash::sha256), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), out, &n) != 1)
    return {};
  return std::string(reinterpret_cast<const char*>(out), n);
}

static_assert(sizeof(SHA256_CTX) <= sizeof(unsigned char[112]) && alignof(SHA256_CTX) <= 8);

// The low-level SHA256_* functions are deprecated in OpenSSL 3.0 (see crypto.h for why they are
// used): their warnings are silenced for these three calls only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
Sha256::Sha256() noexcept { SHA256_Init(new (ctx_) SHA256_CTX); }

void Sha256::update(std::string_view data) noexcept {
  if (!data.empty()) SHA256_Update(std::launder(reinterpret_cast<SHA256_CTX*>(ctx_)), data.data(), data.size());
}

void Sha256::final(unsigned char (&out)[kSize]) noexcept {
  SHA256_Final(out, std::launder(reinterpret_cast<SHA256_CTX*>(ctx_)));
}
#pragma GCC diagnostic pop

std::shared_ptr<EVP_PKEY> adopt(EVP_PKEY* key) { return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free); }

std::optional<PublicKey> load_public_key(KeyType type, std::string_view bytes, std::string& error) {
  PublicKey out;
  out.type = type;
  if (type == KeyType::ed25519) {
    if (bytes.size() != 32) {
      error = "ed25519 public key is " + std::to_string(bytes.size()) + " bytes, not 32 (RFC 8463 §4)";
      return std::nullopt;
    }
    EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes_of(bytes), bytes.size());
    if (!k) {
      ERR_clear_error();
      error = "invalid ed25519 public key";
      return std::nullopt;
    }
    out.pkey = adopt(k);
    out.bits = 256;
    return out;
  }
  const unsigned char* p = bytes_of(bytes);
  auto len = static_cast<long>(bytes.size());
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, len);
  if (k && p != bytes_of(bytes) + bytes.size()) {  // trailing garbage
    EVP_PKEY_free(k);
    k = nullptr;
  }
  if (!k) {
    p = bytes_of(bytes);
    k = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len);
    if (k && p != bytes_of(bytes) + bytes.size()) {
      EVP_PKEY_free(k);
      k = nullptr;
    }
  }
  if (!k) {
    ERR_clear_error();
    error = "public key is not valid DER";
    return std::nullopt;
  }
  out.pkey = adopt(k);
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
    error = "public key in k=rsa record is not RSA";
    return std::nullopt;
  }
  int bits = EVP_PKEY_get_bits(k);
  out.bits = bits > 0 ? static_cast<unsigned>(bits) : 0;
  out.rsa_pool = std::make_shared<RsaVerifyPool>(out.pkey);
  return out;
}

RsaVerifyPool::~RsaVerifyPool() {
  for (EVP_PKEY_CTX* c : idle_) EVP_PKEY_CTX_free(c);
}

EVP_PKEY_CTX* RsaVerifyPool::take() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      EVP_PKEY_CTX* c = idle_.back();
      idle_.pop_back();
      return c;
    }
  }
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return nullptr;
  if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) return nullptr;
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md_for(Hash::sha256)) != 1) return nullptr;
  return ctx.release();
}

void RsaVerifyPool::give(EVP_PKEY_CTX* ctx) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < 64) {  // bounded: at most as many as threads verifying at once
      idle_.push_back(ctx);
      return;
    }
  }
  EVP_PKEY_CTX_free(ctx);
}

bool RsaVerifyPool::verify(std::string_view digest, std::string_view signature) {
  EVP_PKEY_CTX* ctx = take();
  if (!ctx) return false;
  bool ok = EVP_PKEY_verify(ctx, bytes_of(signature), signature.size(), bytes_of(digest), digest.size()) == 1;
  if (!ok) ERR_clear_error();  // a bad signature from the network is not an error of ours
  give(ctx);  // the context stays initialised for verification whatever the outcome
  return ok;
}

bool verify_digest(const PublicKey& key, std::string_view digest, std::string_view signature) {
  return verify_digest(key.type, key.pkey.get(), key.rsa_pool.get(), digest, signature);
}

bool verify_digest(KeyType type, EVP_PKEY* pkey, RsaVerifyPool* rsa_pool, std::string_view digest,
                   std::string_view signature) {
  bool ok = verify_digest_unchecked(type, pkey, rsa_pool, digest, signature);
  if (!ok) ERR_clear_error();  // keep the thread's OpenSSL error queue clean for other users
  return ok;
}

bool verify_digest_unchecked(KeyType type, EVP_PKEY* pkey, RsaVerifyPool* rsa_pool, std::string_view digest,
                             std::string_view signature) {
  if (!pkey) return false;
  if (type == KeyType::ed25519) {
    MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, pkey, nullptr) != 1)
      return false;
    return EVP_DigestVerify(ctx.get(), bytes_of(signature), signature.size(), bytes_of(digest), digest.size()) == 1;
  }
  if (rsa_pool) return rsa_pool->verify(digest, signature);
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return false;
  if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) return false;
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md_for(Hash::sha256)) != 1) return false;
  return EVP_PKEY_verify(ctx.get(), bytes_of(signature), signature.size(), bytes_of(digest), digest.size()) == 1;
}

std::string sign_digest(EVP_PKEY* key, KeyType type, std::string_view digest) {
  if (!key) return {};
  if (type == KeyType::ed25519) {
    MdCtx ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key, nullptr) != 1) return {};
    std::size_t n = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &n, bytes_of(digest), digest.size()) != 1) return {};
    std::string sig(n, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, bytes_of(digest), digest.size()) != 1)
      return {};
    sig.resize(n);
    return sig;
  }
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) return {};
  if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) return {};
  if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md_for(Hash::sha256)) != 1) return {};
  std::size_t n = 0;
  if (EVP_PKEY_sign(ctx.get(), nullptr, &n, bytes_of(digest), digest.size()) != 1) return {};
  std::string sig(n, '\0');
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n, bytes_of(digest), digest.size()) != 1)
    return {};
  sig.resize(n);
  return sig;
}

}  // namespace mailward::dkim::crypto
