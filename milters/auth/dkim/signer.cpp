// DKIM signing, RFC 6376 §5 (relaxed/relaxed, rsa-sha256 and RFC 8463 ed25519-sha256), and key
// generation for the `mailward` tool. One streamed body hash serves every key.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/util/text.h"
#include "milters/auth/dkim/base64.h"
#include "milters/auth/dkim/canon.h"
#include "milters/auth/dkim/crypto.h"
#include "milters/auth/dkim/dkim.h"
#include "milters/auth/dkim/signature.h"

namespace mailward::dkim {
namespace {

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};

KeyType type_of(EVP_PKEY* key, const std::string& what) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: return KeyType::rsa;
    case EVP_PKEY_ED25519: return KeyType::ed25519;
    default: throw std::runtime_error(what + ": key is neither RSA nor Ed25519");
  }
}

// Folds `value` (no spaces inside) into lines of at most `width` characters: "\r\n\t " between.
std::string fold_b64(std::string_view value, std::size_t first, std::size_t width) {
  std::string out;
  std::size_t take = std::min(first, value.size());
  out.append(value.substr(0, take));
  for (std::size_t i = take; i < value.size(); i += width) {
    out.append("\r\n\t ");
    out.append(value.substr(i, width));
  }
  return out;
}

}  // namespace

SigningKey SigningKey::load_pem(std::string domain, std::string selector, std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!k) throw std::runtime_error("not a PEM private key");
  SigningKey out;
  out.key = crypto::adopt(k);
  out.type = type_of(k, "PEM private key");
  out.domain = text::normalize_domain(domain);
  out.selector = std::move(selector);
  return out;
}

SigningKey SigningKey::load_pem_file(std::string domain, std::string selector, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read DKIM key file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return load_pem(std::move(domain), std::move(selector), ss.str());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("DKIM key file " + path + ": " + e.what());
  }
}

SigningKey SigningKey::from_ed25519_seed(std::string domain, std::string selector, std::string_view seed) {
  if (seed.size() != 32) throw std::runtime_error("ed25519 seed must be 32 bytes");
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                             reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (!k) throw std::runtime_error("invalid ed25519 seed");
  SigningKey out;
  out.key = crypto::adopt(k);
  out.type = KeyType::ed25519;
  out.domain = text::normalize_domain(domain);
  out.selector = std::move(selector);
  return out;
}

struct Signer::Impl {
  std::vector<SigningKey> keys;
  SignOptions options;
  std::string header_data;  // canonical signed fields, each with CRLF
  std::string h_value;      // h= list
  bool has_from = false;
  bool headers_set = false;
  bool finished = false;
  BodyCanonicalizer canon{Canon::relaxed};
  crypto::Digest body{crypto::Hash::sha256};
  std::string error;
};

Signer::Signer(std::vector<SigningKey> keys, SignOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->keys = std::move(keys);
  impl_->options = std::move(options);
}
Signer::~Signer() = default;

const std::string& Signer::error() const noexcept { return impl_->error; }

void Signer::set_headers(const std::vector<mail::HeaderField>& headers) {
  Impl& m = *impl_;
  m.headers_set = true;
  m.header_data.clear();
  m.h_value.clear();
  std::vector<std::string> names;  // lowercase, in signing order, with repetitions
  auto count = [&headers](std::string_view n) {
    std::size_t c = 0;
    for (const auto& h : headers) if (text::iequals(h.name, n)) ++c;
    return c;
  };
  auto listed = [](const std::vector<std::string>& v, const std::string& n) {
    return std::any_of(v.begin(), v.end(), [&n](const std::string& x) { return text::iequals(x, n); });
  };
  std::vector<std::string> order;
  for (const auto& n : m.options.signed_headers)
    if (!listed(order, n)) order.push_back(text::to_lower(n));
  for (const auto& n : m.options.oversigned_headers)
    if (!listed(order, n)) order.push_back(text::to_lower(n));
  for (const std::string& n : order) {
    // RFC 6376 §5.4.2: fields are signed bottom-up; §8.15: one extra (absent) instance of an
    // over-signed name stops anyone from adding another.
    std::size_t times = count(n) + (listed(m.options.oversigned_headers, n) ? 1 : 0);
    for (std::size_t i = 0; i < times; ++i) names.push_back(n);
  }
  m.has_from = count("from") > 0;
  std::unordered_map<std::string, std::size_t> used;
  for (const std::string& n : names) {
    std::size_t& u = used[n];
    std::size_t seen = 0;
    for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
      if (!text::iequals(it->name, n)) continue;
      if (seen++ == u) {
        append_canonical_header(m.header_data, Canon::relaxed, it->name, it->value);
        m.header_data.append("\r\n");
        break;
      }
    }
    ++u;
  }
  // h=, folded after a colon whenever a line would pass ~70 characters.
  std::size_t line = 8;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      m.h_value.push_back(':');
      ++line;
      if (line + names[i].size() > 70) {
        m.h_value.append("\r\n\t ");
        line = 2;
      }
    }
    m.h_value.append(names[i]);
    line += names[i].size();
  }
}

void Signer::add_body(std::string_view chunk) {
  Impl& m = *impl_;
  if (!m.finished) m.body.update(m.canon.update(chunk));
}

std::vector<mail::HeaderField> Signer::finish() {
  Impl& m = *impl_;
  std::vector<mail::HeaderField> out;
  if (m.finished) return out;
  m.finished = true;
  m.body.update(m.canon.finish());
  std::string bh = base64_encode(m.body.final());
  if (!m.headers_set || !m.has_from) {  // RFC 6376 §5.4: From MUST be signed
    m.error = "message has no From field; not signed";
    return out;
  }
  for (const SigningKey& key : m.keys) {
    std::string v = " v=1; a=";
    v.append(key.type == KeyType::rsa ? "rsa-sha256" : "ed25519-sha256");
    v.append("; c=relaxed/relaxed; d=" + key.domain + "; s=" + key.selector + ";");
    std::string times;
    if (m.options.now > 0) {
      times = " t=" + std::to_string(m.options.now) + ";";
      if (m.options.expire_after > 0) times += " x=" + std::to_string(m.options.now + m.options.expire_after) + ";";
    }
    if (!times.empty()) v.append("\r\n\t" + times.substr(1));
    v.append("\r\n\th=" + m.h_value + ";");
    v.append("\r\n\tbh=" + bh + ";");
    v.append("\r\n\tb=");
    std::string data = m.header_data;
    append_canonical_header(data, Canon::relaxed, "DKIM-Signature", v);  // §3.7: b= empty, no CRLF
    std::string sig = crypto::sign_digest(key.key.get(), key.type, crypto::sha256(data));
    if (sig.empty()) {
      m.error = "signing with " + key.selector + "._domainkey." + key.domain + " failed";
      continue;
    }
    v.append(fold_b64(base64_encode(sig), 64, 72));
    out.push_back(mail::HeaderField{"DKIM-Signature", std::move(v)});
  }
  return out;
}

GeneratedKey generate_key(KeyType type, unsigned rsa_bits) {
  EVP_PKEY* raw = type == KeyType::rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits))
                                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!raw) throw std::runtime_error("key generation failed");
  auto key = crypto::adopt(raw);
  GeneratedKey out;
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), raw, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    throw std::runtime_error("cannot write private key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  out.private_pem.assign(data, static_cast<std::size_t>(n));
  std::string pub;
  if (type == KeyType::rsa) {
    int len = i2d_PUBKEY(raw, nullptr);
    if (len <= 0) throw std::runtime_error("cannot encode public key");
    pub.resize(static_cast<std::size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(pub.data());
    i2d_PUBKEY(raw, &p);
  } else {
    std::size_t len = 32;
    pub.resize(len);
    if (EVP_PKEY_get_raw_public_key(raw, reinterpret_cast<unsigned char*>(pub.data()), &len) != 1)
      throw std::runtime_error("cannot encode public key");
    pub.resize(len);
  }
  out.dns_txt = std::string("v=DKIM1; k=") + (type == KeyType::rsa ? "rsa" : "ed25519") + "; p=" + base64_encode(pub);
  return out;
}

}  // namespace mailward::dkim
