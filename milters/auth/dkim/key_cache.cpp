// KeyCache: DKIM public keys looked up in DNS (RFC 6376 §3.6.2), parsed once and kept for the
// record's TTL (clamped to [min_ttl, max_ttl]), so a busy verifier never re-parses a key per message.
#include <algorithm>

#include "milters/auth/dkim/crypto.h"
#include "milters/auth/dkim/dkim.h"

namespace mailward::dkim {
namespace {

std::shared_ptr<CachedKey> failure(Status s, std::string reason) {
  auto k = std::make_shared<CachedKey>();
  k->status = s;
  k->reason = std::move(reason);
  return k;
}

// Turns one TXT answer into a usable key or the reason there is none.
std::shared_ptr<CachedKey> build(const dns::Answer& answer) {
  if (answer.is_temporary_failure())
    return failure(Status::temperror,
                   answer.status == dns::Status::timeout ? "DNS timeout" : "DNS server failure");
  // RFC 6376 §6.1.2: no key record -> PERMFAIL (no key for signature).
  if (answer.is_void() || answer.texts.empty()) return failure(Status::permerror, "key record not found");
  // Several TXT records: use the first that parses (§6.1.2 leaves the choice to the verifier).
  std::shared_ptr<CachedKey> first_error;
  for (const std::string& txt : answer.texts) {
    KeyRecordParse p = parse_key_record(txt);
    if (!p.ok()) {
      if (!first_error) first_error = failure(Status::permerror, p.detail);
      continue;
    }
    std::string error;
    auto key = crypto::load_public_key(p.record.type, p.record.public_key, error);
    if (!key) {
      if (!first_error) first_error = failure(Status::permerror, error);
      continue;
    }
    auto k = std::make_shared<CachedKey>();
    k->status = Status::pass;
    k->record = std::move(p.record);
    k->record.public_key.clear();
    k->record.public_key.shrink_to_fit();
    k->pkey = std::move(key->pkey);
    k->bits = key->bits;
    k->rsa_pool = std::move(key->rsa_pool);
    return k;
  }
  return first_error;
}

}  // namespace

KeyCache::KeyCache(std::size_t max_entries, std::uint32_t min_ttl, std::uint32_t max_ttl)
    : max_entries_(std::max<std::size_t>(max_entries, 1)), min_ttl_(min_ttl), max_ttl_(std::max(min_ttl, max_ttl)) {}

std::shared_ptr<const CachedKey> KeyCache::get(dns::Resolver& resolver, const std::string& name, std::int64_t now) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(name);
    if (it != entries_.end() && it->second.expires > now) {
      ++hits_;
      return it->second.key;
    }
    ++misses_;
  }
  // DNS and parsing happen outside the lock; two threads may race to fill one name: harmless.
  dns::Answer answer = resolver.lookup(name, dns::RecordType::txt);
  std::shared_ptr<const CachedKey> key = build(answer);
  if (key->status == Status::temperror) return key;
  std::uint32_t ttl = std::clamp(answer.ttl, min_ttl_, max_ttl_);
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.size() >= max_entries_ && entries_.find(name) == entries_.end()) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.expires <= now) it = entries_.erase(it);
      else ++it;
    }
    if (entries_.size() >= max_entries_) entries_.erase(entries_.begin());  // arbitrary victim: bounded memory
  }
  entries_[name] = Entry{key, now + static_cast<std::int64_t>(ttl)};
  return key;
}

std::size_t KeyCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}
std::uint64_t KeyCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}
std::uint64_t KeyCache::misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}

}  // namespace mailward::dkim
