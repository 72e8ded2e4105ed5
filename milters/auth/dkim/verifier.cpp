// DKIM verification, RFC 6376 §6 with RFC 8301 and RFC 8463.
//
// set_headers() parses every DKIM-Signature (§6.1.1), checks what needs no key (algorithm,
// times) and computes each header hash (§3.7, §5.4.2). add_body() streams the body through at most
// one canonicaliser per body canonicalisation and one hash per distinct (canonicalisation, hash,
// l=). finish() fetches keys through the KeyCache (§6.1.2) and checks body hash and signature (§6.1.3).
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/util/text.h"
#include "milters/auth/dkim/canon.h"
#include "milters/auth/dkim/crypto.h"
#include "milters/auth/dkim/dkim.h"
#include "milters/auth/dkim/signature.h"

namespace mailward::dkim {

std::string_view to_string(Status s) noexcept {
  switch (s) {
    case Status::none: return "none";
    case Status::pass: return "pass";
    case Status::fail: return "fail";
    case Status::neutral: return "neutral";
    case Status::policy: return "policy";
    case Status::temperror: return "temperror";
    case Status::permerror: return "permerror";
  }
  return "none";
}

namespace {

// Every hash here is SHA-256: rsa-sha1 signatures are refused before any hashing (RFC 8301 §3.1).
using Sha256Value = unsigned char[crypto::Sha256::kSize];

std::string_view view_of(const Sha256Value& v) noexcept {
  return {reinterpret_cast<const char*>(v), crypto::Sha256::kSize};
}

struct BodyHash {
  Canon canon;
  std::optional<std::uint64_t> limit;
  BodyLimiter limiter;
  crypto::Sha256 digest;
  Sha256Value value{};  // filled at finish
  BodyHash(Canon c, std::optional<std::uint64_t> l) : canon(c), limit(l), limiter(l) {}
};

struct Pending {
  // User-provided: emplace_back() then runs the member initialisers only, without first zeroing
  // the whole record (a 570-byte `rep stos` per signature).
  Pending() {}  // NOLINT(modernize-use-equals-default)
  SignatureResult result;
  bool open = false;           // still to be decided by finish()
  Signature sig;
  Sha256Value header_digest{};
  std::size_t body = 0;        // index into bodies
};

// Header field names compared case-insensitively (RFC 5322 §1.2.2), inline: the names are short
// and most pairs differ in length already.
__attribute__((always_inline)) inline bool same_name(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (text::ascii_lower(a[i]) != text::ascii_lower(b[i])) return false;
  return true;
}

// Length and lowercased first byte of a field name in one word; never 0 for a non-empty name
// shorter than 2^24 bytes (0 marks a field already taken, or padding).
std::uint32_t name_key(std::string_view name) noexcept {
  if (name.empty() || name.size() >= (std::size_t{1} << 24)) return 0;
  return static_cast<std::uint32_t>(name.size()) << 8 | static_cast<unsigned char>(text::ascii_lower(name[0]));
}

// The bottom-most field k < n with keys[k] == key whose name is `name` (case-insensitive), or n.
// `keys` holds one name_key per field, padded with zeros to a multiple of 4. The prefilter
// compares 4 keys at a time: few instructions and few data-dependent branches (a scalar scan
// mispredicts on most fields, as the names met bottom-up are as good as random).
std::size_t find_field(const std::uint32_t* keys, std::size_t n, std::uint32_t key,
                       const std::vector<mail::HeaderField>& headers, std::string_view name) noexcept {
  if (key == 0) return n;
  const std::size_t padded = (n + 3) & ~std::size_t{3};
#if defined(__SSE2__)
  const __m128i want = _mm_set1_epi32(static_cast<int>(key));
  for (std::size_t base = padded; base > 0;) {
    base -= 4;
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(keys + base));
    auto m = static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, want))));
    while (m != 0) {
      const unsigned j = 31U - static_cast<unsigned>(__builtin_clz(m));  // the highest: bottom-most
      const std::size_t k = base + j;
      if (same_name(headers[k].name, name)) return k;
      m &= ~(1U << j);
    }
  }
#else
  for (std::size_t k = padded; k-- > 0;)
    if (keys[k] == key && same_name(headers[k].name, name)) return k;
#endif
  return n;
}

}  // namespace

struct Verifier::Impl {
  dns::Resolver& resolver;
  KeyCache& cache;
  VerifyOptions options;
  std::vector<Pending> sigs;
  std::vector<std::unique_ptr<BodyHash>> bodies;
  std::array<std::optional<BodyCanonicalizer>, 2> canonicalizers;
  bool finished = false;

  Impl(dns::Resolver& r, KeyCache& c, VerifyOptions o) : resolver(r), cache(c), options(o) {}

  void feed(std::size_t ci, std::string_view canonical) {
    if (canonical.empty()) return;
    for (auto& b : bodies) {
      if (static_cast<std::size_t>(b->canon) != ci) continue;
      std::string_view part = b->limiter.take(canonical);
      if (!part.empty()) b->digest.update(part);
    }
  }

  // Hands canonical body bytes of one canonicalisation to every body hash that uses it.
  struct FeedSink final : CanonSink {
    Impl& m;
    std::size_t ci;
    FeedSink(Impl& impl, std::size_t index) : m(impl), ci(index) {}
    void write(std::string_view canonical) override { m.feed(ci, canonical); }
  };

  std::size_t body_index(Canon canon, std::optional<std::uint64_t> limit) {
    for (std::size_t i = 0; i < bodies.size(); ++i)
      if (bodies[i]->canon == canon && bodies[i]->limit == limit) return i;
    bodies.push_back(std::make_unique<BodyHash>(canon, limit));
    auto ci = static_cast<std::size_t>(canon);
    if (!canonicalizers[ci]) canonicalizers[ci].emplace(canon);
    return bodies.size() - 1;
  }
};

Verifier::Verifier(dns::Resolver& resolver, KeyCache& cache, VerifyOptions options)
    : impl_(std::make_unique<Impl>(resolver, cache, options)) {}
Verifier::~Verifier() = default;

void Verifier::set_headers(const std::vector<mail::HeaderField>& headers) {
  Impl& m = *impl_;

  unsigned seen = 0;
  for (const mail::HeaderField& field : headers) {
    if (!same_name(field.name, "DKIM-Signature")) continue;
    // Built in place (no move of the whole record); `p` is not used after this iteration.
    Pending& p = m.sigs.emplace_back();
    SignatureResult& r = p.result;
    SignatureParse parsed = parse_signature(field.value);
    r.domain = parsed.domain;
    r.selector = parsed.selector;
    r.algorithm = parsed.algorithm;
    r.b_prefix = parsed.b_prefix;
    r.identity = parsed.ok()                  ? parsed.signature.identity
               : !parsed.identity.empty() ? parsed.identity
               : parsed.domain.empty()    ? ""
                                          : "@" + parsed.domain;
    r.status = Status::permerror;
    if (++seen > m.options.max_signatures) {
      r.reason = "too many signatures (more than " + std::to_string(m.options.max_signatures) + ")";
      continue;
    }
    if (!parsed.ok()) {
      r.reason = parsed.detail;
      continue;
    }
    Signature& s = parsed.signature;
    if (s.algorithm == Algorithm::rsa_sha1) {  // RFC 8301 §3.1: MUST NOT be considered valid
      r.reason = "rsa-sha1 not accepted (RFC 8301)";
      continue;
    }
    if (m.options.now > 0) {
      // §3.5 x=: expired signatures are rejected; t= in the future MAY be (§3.5 t=). Both allow
      // for clock_skew.
      if (s.expiration && m.options.now > *s.expiration + m.options.clock_skew) {
        r.reason = "signature expired";
        continue;
      }
      if (s.timestamp && *s.timestamp > m.options.now + m.options.clock_skew) {
        r.reason = "signature timestamp in the future";
        continue;
      }
    }
    // Header hash (§3.7): the h= fields bottom-up, each with CRLF, then this field with b=
    // emptied and without its CRLF. A name with no instance left contributes nothing (§5.4.2).
    // Per-thread scratch buffers: after the first message no allocation here (hot path). They hold
    // nothing between calls.
    thread_local std::string data;
    thread_local std::vector<std::uint32_t> keys;
    thread_local std::vector<std::size_t> picked;  // indices of the fields hashed, in hash order
    // Instances of a name are taken bottom-up, each once (§5.4.2): a taken field's key becomes 0.
    const std::size_t nfields = headers.size();
    keys.assign((nfields + 3) & ~std::size_t{3}, 0);
    for (std::size_t k = 0; k < nfields; ++k) keys[k] = name_key(headers[k].name);
    picked.clear();
    const std::string_view sig_before_b = std::string_view(field.value).substr(0, parsed.b_begin);  // b= emptied (§3.7)
    const std::string_view sig_after_b = std::string_view(field.value).substr(parsed.b_end);
    std::size_t room = canonical_header_room(field.name, sig_before_b, sig_after_b);
    for (const std::string& h : s.signed_headers) {
      const std::size_t k = find_field(keys.data(), nfields, name_key(h), headers, h);
      if (k == nfields) continue;  // no instance left: contributes nothing (§5.4.2)
      keys[k] = 0;
      picked.push_back(k);
      room += canonical_header_room(headers[k].name, headers[k].value) + 2;
    }
    // One buffer sized once for the whole header block, hashed in one call.
    data.resize(room);
    char* w = data.data();
    for (std::size_t k : picked) {
      w = write_canonical_header(w, s.header_canon, headers[k].name, headers[k].value);
      *w++ = '\r';
      *w++ = '\n';
    }
    w = write_canonical_header(w, s.header_canon, field.name, sig_before_b, sig_after_b);
    crypto::Sha256 header_hash;
    header_hash.update(std::string_view(data.data(), static_cast<std::size_t>(w - data.data())));
    header_hash.final(p.header_digest);
    p.body = m.body_index(s.body_canon, s.body_length);
    p.sig = std::move(s);
    p.open = true;
  }
}

void Verifier::add_body(std::string_view chunk) {
  Impl& m = *impl_;
  if (m.finished) return;
  for (std::size_t ci = 0; ci < m.canonicalizers.size(); ++ci) {
    if (!m.canonicalizers[ci]) continue;
    Impl::FeedSink sink(m, ci);
    m.canonicalizers[ci]->update(chunk, sink);
  }
}

std::vector<SignatureResult> Verifier::finish() {
  Impl& m = *impl_;
  std::vector<SignatureResult> out;
  if (m.finished) return out;
  m.finished = true;
  for (std::size_t ci = 0; ci < m.canonicalizers.size(); ++ci) {
    if (!m.canonicalizers[ci]) continue;
    Impl::FeedSink sink(m, ci);
    m.canonicalizers[ci]->finish(sink);
  }
  for (auto& b : m.bodies) b->digest.final(b->value);

  out.reserve(m.sigs.size());
  thread_local std::string key_name;  // "selector._domainkey.domain" (§3.6.2.1), built without allocating
  for (Pending& p : m.sigs) {
    SignatureResult& r = p.result;
    if (p.open) {
      const Signature& s = p.sig;
      const BodyHash& body = *m.bodies[p.body];
      key_name.assign(s.selector).append("._domainkey.").append(s.domain);
      std::shared_ptr<const CachedKey> key = m.cache.get(m.resolver, key_name, m.options.now);
      auto decide = [&r](Status st, std::string reason) {
        r.status = st;
        r.reason = std::move(reason);
      };
      if (key->status != Status::pass) {
        decide(key->status, key->reason);
      } else {
        const KeyRecord& rec = key->record;
        r.testing = rec.testing;
        r.key_bits = key->bits;
        KeyType want = s.algorithm == Algorithm::ed25519_sha256 ? KeyType::ed25519 : KeyType::rsa;
        if (rec.type != want) {
          decide(Status::permerror, "key type " + std::string(to_string(rec.type)) + " does not match a=" + s.algorithm_text);
        } else if (!rec.allows_hash("sha256")) {
          decide(Status::permerror, "key record h= does not allow sha256");  // §3.6.1 h=
        } else if (rec.strict && s.identity_domain != s.domain) {
          decide(Status::permerror, "key t=s requires i= domain equal to d=");  // §3.6.1 t=s
        } else if (rec.type == KeyType::rsa && key->bits < 1024) {
          decide(Status::permerror, "RSA key " + std::to_string(key->bits) + " bits < 1024 (RFC 8301)");
        } else if (rec.type == KeyType::rsa && key->bits < m.options.min_rsa_bits) {
          decide(Status::policy, "RSA key " + std::to_string(key->bits) + " bits < " + std::to_string(m.options.min_rsa_bits));
        } else if (s.body_length && *s.body_length > body.limiter.seen()) {
          // §3.5 l=: we interpret an l= longer than the canonical body as a body that was
          // truncated after signing: the body hash cannot match what was signed.
          decide(Status::fail, "l= exceeds body length");
        } else if (view_of(body.value) != s.body_hash) {
          decide(Status::fail, "body hash mismatch");
        } else if (!crypto::verify_digest(rec.type, key->pkey.get(), key->rsa_pool.get(), view_of(p.header_digest), s.signature)) {
          decide(Status::fail, "signature verification failed");
        } else {
          decide(Status::pass, "");
        }
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<SignatureResult> verify_message(dns::Resolver& resolver, KeyCache& cache, const mail::Message& message,
                                            VerifyOptions options) {
  Verifier v(resolver, cache, options);
  v.set_headers(message.headers);
  v.add_body(message.body);
  return v.finish();
}

}  // namespace mailward::dkim
