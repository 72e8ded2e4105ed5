// The in-process store (open_memory_store): a hash map under one mutex, for unit tests and daemons
// that need no persistence. Expiry follows the injected clock; expired entries read as missing and
// are dropped when touched or by an occasional sweep.
#include <mutex>
#include <unordered_map>
#include <variant>

#include "common/store/bucket.h"
#include "common/store/store.h"

namespace mailward::store {
namespace {

struct Entry {
  bool is_bucket = false;
  std::int64_t counter = 0;
  detail::BucketState bucket;
  std::int64_t expires_ms = 0;  // 0: never
};

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(std::function<Clock::time_point()> clock) : clock_(std::move(clock)) {}

  Result<std::vector<std::int64_t>> add(std::span<const CounterUpdate> updates) override {
    const std::int64_t now = detail::to_unix_ms(clock_());
    std::lock_guard lock(mutex_);
    maybe_sweep(now);
    Result<std::vector<std::int64_t>> out;
    for (const auto& u : updates) {
      const Entry* e = live(u.key, now);
      if (e && e->is_bucket) {
        out.status = Status::error;
        out.detail = "key holds a token bucket, not a counter: " + u.key;
        return out;  // checked before any change: nothing was updated
      }
    }
    out.value.reserve(updates.size());
    for (const auto& u : updates) {
      Entry* e = live(u.key, now);
      if (!e) e = &map_[u.key];
      e->counter += u.delta;
      if (u.ttl.count() > 0) e->expires_ms = now + u.ttl.count() * 1000;
      out.value.push_back(e->counter);
    }
    return out;
  }

  Result<std::vector<std::int64_t>> get(std::span<const std::string> keys) override {
    const std::int64_t now = detail::to_unix_ms(clock_());
    std::lock_guard lock(mutex_);
    Result<std::vector<std::int64_t>> out;
    out.value.reserve(keys.size());
    for (const auto& k : keys) {
      const Entry* e = live(k, now);
      out.value.push_back(e && !e->is_bucket ? e->counter : 0);
    }
    return out;
  }

  Result<BucketOutcome> take(std::string_view key, const BucketSpec& spec, double cost,
                             Clock::time_point now_tp) override {
    const std::int64_t now = detail::to_unix_ms(now_tp);
    std::lock_guard lock(mutex_);
    maybe_sweep(now);
    Result<BucketOutcome> out;
    std::string k(key);
    Entry* e = live(k, now);
    if (e && !e->is_bucket) {
      out.status = Status::error;
      out.detail = "key holds a counter, not a token bucket: " + k;
      return out;
    }
    const bool is_new = e == nullptr;
    if (!e) {
      e = &map_[k];
      e->is_bucket = true;
    }
    out.value = detail::take_tokens(e->bucket, is_new, spec, cost, now);
    e->expires_ms = now + detail::idle_lifetime(e->bucket, spec).count() * 1000;
    return out;
  }

  Result<bool> erase(std::span<const std::string> keys) override {
    const std::int64_t now = detail::to_unix_ms(clock_());
    std::lock_guard lock(mutex_);
    Result<bool> out;
    for (const auto& k : keys) {
      if (live(k, now)) out.value = true;
      map_.erase(k);
    }
    return out;
  }

  std::string describe() const override { return "memory"; }

 private:
  // The entry at `key` unless missing or expired (an expired one is removed).
  Entry* live(const std::string& key, std::int64_t now) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (it->second.expires_ms != 0 && it->second.expires_ms <= now) {
      map_.erase(it);
      return nullptr;
    }
    return &it->second;
  }

  void maybe_sweep(std::int64_t now) {
    if (++writes_ % 4096 != 0) return;
    for (auto it = map_.begin(); it != map_.end();) {
      if (it->second.expires_ms != 0 && it->second.expires_ms <= now) {
        it = map_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::function<Clock::time_point()> clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> map_;
  std::uint64_t writes_ = 0;
};

}  // namespace

std::unique_ptr<Store> open_memory_store(std::function<Clock::time_point()> clock) {
  return std::make_unique<MemoryStore>(std::move(clock));
}

}  // namespace mailward::store
