// dns::CachingResolver: a bounded, thread-safe answer cache in front of any Resolver.
//
// Keys are (normalised name, type): "Example.COM." and "example.com" share an entry. What is kept:
//   ok with records   until its TTL, clamped to [1, max_ttl] seconds;
//   ok NODATA and     until the negative TTL (RFC 2308 §5), clamped to [1, max_negative_ttl];
//   nxdomain
//   server_failure,   only when failure_ttl > 0, for failure_ttl seconds (RFC 2308 §7.1 allows
//   timeout           caching them for at most five minutes; the default is not to);
// A hit returns the stored answer with its TTL lowered to the seconds left. The cache holds at most
// max_entries answers, split over 16 shards (one when max_entries < 64, so that small caches evict
// in exact least-recently-used order), each with its own lock and LRU eviction; a shard holds
// max_entries / shards answers at most.
// The upstream lookup runs outside any lock: concurrent misses for one key may both go upstream
// (the later result wins), which is harmless.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/dns/resolver.h"

namespace mailward::dns {

using Clock = std::function<std::int64_t()>;  // seconds; tests pass a fixed clock

// Seconds of a monotonic clock (std::chrono::steady_clock): TTLs must not jump with the wall clock.
std::int64_t monotonic_seconds();

struct CacheSettings {
  std::size_t max_entries = 20000;
  std::uint32_t max_ttl = 86400;
  std::uint32_t max_negative_ttl = 900;
  std::uint32_t failure_ttl = 0;
};

class CachingResolver final : public Resolver {
 public:
  CachingResolver(Resolver& upstream, CacheSettings settings, Clock clock = monotonic_seconds);
  ~CachingResolver() override;

  Answer lookup(std::string_view name, RecordType type) override;

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t entries = 0;
  };
  Stats stats() const;

 private:
  struct Shard;

  Resolver& upstream_;
  CacheSettings settings_;
  Clock clock_;
  std::size_t per_shard_limit_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
};

}  // namespace mailward::dns
