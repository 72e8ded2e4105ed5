// dns::CachingResolver: sharded LRU cache of DNS answers with TTL expiry (rules in caching_resolver.h).
#include "common/dns/caching_resolver.h"

#include <algorithm>
#include <chrono>

#include "common/util/text.h"

namespace mailward::dns {

std::int64_t monotonic_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct CachingResolver::Shard {
  struct Entry {
    std::string key;
    Answer answer;
    std::int64_t expires = 0;  // clock value from which the entry is stale
  };
  std::mutex mutex;
  std::list<Entry> lru;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index;
};

namespace {

std::string cache_key(std::string_view name, RecordType type) {
  std::string key = text::normalize_domain(name);
  key.push_back('\0');  // a DNS name in text form never holds NUL after normalisation of the key
  auto t = static_cast<std::uint16_t>(type);
  key.push_back(static_cast<char>(t >> 8));
  key.push_back(static_cast<char>(t & 0xff));
  return key;
}

// How long an answer may be kept, in seconds; 0 when it must not be cached.
std::uint32_t lifetime(const Answer& a, const CacheSettings& s) {
  auto clamp = [](std::uint32_t ttl, std::uint32_t cap) {
    return std::max<std::uint32_t>(1, std::min(ttl, std::max<std::uint32_t>(cap, 1)));
  };
  switch (a.status) {
    case Status::ok:
      return a.has_records() ? clamp(a.ttl, s.max_ttl) : clamp(a.ttl, s.max_negative_ttl);
    case Status::nxdomain: return clamp(a.ttl, s.max_negative_ttl);
    case Status::server_failure:
    case Status::timeout: return s.failure_ttl;
  }
  return 0;
}

}  // namespace

CachingResolver::CachingResolver(Resolver& upstream, CacheSettings settings, Clock clock)
    : upstream_(upstream),
      settings_(settings),
      clock_(clock ? std::move(clock) : Clock(monotonic_seconds)),
      per_shard_limit_(0) {
  const std::size_t shards = settings.max_entries < 64 ? 1 : 16;
  per_shard_limit_ = settings.max_entries / shards;  // shards * limit <= max_entries
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

CachingResolver::~CachingResolver() = default;

Answer CachingResolver::lookup(std::string_view name, RecordType type) {
  std::string key = cache_key(name, type);
  Shard& shard = *shards_[std::hash<std::string>{}(key) % shards_.size()];
  {
    std::lock_guard lock(shard.mutex);
    if (auto it = shard.index.find(key); it != shard.index.end()) {
      const std::int64_t now = clock_();
      auto entry = it->second;
      if (now < entry->expires) {
        shard.lru.splice(shard.lru.begin(), shard.lru, entry);
        Answer a = entry->answer;
        a.ttl = static_cast<std::uint32_t>(std::min<std::int64_t>(entry->expires - now, UINT32_MAX));
        hits_.fetch_add(1, std::memory_order_relaxed);
        return a;
      }
      shard.index.erase(it);
      shard.lru.erase(entry);
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);

  Answer answer = upstream_.lookup(name, type);
  const std::uint32_t keep = lifetime(answer, settings_);
  if (keep == 0 || per_shard_limit_ == 0) return answer;
  const std::int64_t expires = clock_() + keep;

  std::lock_guard lock(shard.mutex);
  if (auto it = shard.index.find(key); it != shard.index.end()) {  // a concurrent miss got here first
    it->second->answer = answer;
    it->second->expires = expires;
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    return answer;
  }
  while (shard.lru.size() >= per_shard_limit_) {
    shard.index.erase(shard.lru.back().key);
    shard.lru.pop_back();
  }
  shard.lru.push_front({key, answer, expires});
  shard.index.emplace(std::move(key), shard.lru.begin());
  return answer;
}

CachingResolver::Stats CachingResolver::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    s.entries += shard->lru.size();
  }
  return s;
}

}  // namespace mailward::dns
