// CachingResolver with a fixed clock: expiry, TTL clamps, negative caching, failures, eviction,
// case-insensitive keys, and 8 threads hammering one cache.
#include "common/dns/caching_resolver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "common/util/text.h"

using namespace mailward::dns;
using mailward::net::IpAddress;

namespace {

// Upstream that answers from a table (default: one A record 192.0.2.1, TTL 300) and counts lookups.
class TableResolver final : public Resolver {
 public:
  void set(std::string name, Answer a) {
    std::lock_guard lock(mutex_);
    table_[std::move(name)] = std::move(a);
  }
  Answer lookup(std::string_view name, RecordType) override {
    ++calls;
    std::lock_guard lock(mutex_);
    auto it = table_.find(mailward::text::normalize_domain(name));
    if (it != table_.end()) return it->second;
    Answer a;
    a.addresses.push_back(IpAddress::v4(0xC0000201));
    a.ttl = 300;
    return a;
  }
  std::atomic<int> calls{0};

 private:
  std::mutex mutex_;
  std::map<std::string, Answer> table_;
};

Answer with_ttl(Status status, std::uint32_t ttl, bool records) {
  Answer a;
  a.status = status;
  a.ttl = ttl;
  if (records) a.texts.push_back("v=spf1 -all");
  if (status == Status::server_failure || status == Status::timeout) a.error = "upstream failed";
  return a;
}

}  // namespace

TEST(CachingResolver, ExpiresAtTheTtlAndCountsDown) {
  TableResolver up;
  std::int64_t now = 1000;
  CachingResolver c(up, CacheSettings{}, [&] { return now; });
  EXPECT_EQ(c.lookup("example.com", RecordType::a).ttl, 300u);
  now = 1299;
  Answer hit = c.lookup("EXAMPLE.com.", RecordType::a);
  EXPECT_EQ(hit.ttl, 1u);
  ASSERT_EQ(hit.addresses.size(), 1u);
  EXPECT_EQ(up.calls.load(), 1);
  now = 1300;
  c.lookup("example.com", RecordType::a);
  EXPECT_EQ(up.calls.load(), 2);
  // Another type is another key.
  c.lookup("example.com", RecordType::aaaa);
  EXPECT_EQ(up.calls.load(), 3);
  auto s = c.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.entries, 2u);
}

TEST(CachingResolver, LifetimesByStatus) {
  struct Case {
    const char* what;
    Answer answer;
    CacheSettings settings;
    std::uint32_t kept;  // seconds the answer stays cached; 0: not cached
  } cases[] = {
      {"records", with_ttl(Status::ok, 600, true), {}, 600},
      {"records over max_ttl", with_ttl(Status::ok, 999999, true), {}, 86400},
      {"records with TTL 0", with_ttl(Status::ok, 0, true), {}, 1},
      {"NODATA", with_ttl(Status::ok, 300, false), {}, 300},
      {"NODATA over the negative cap", with_ttl(Status::ok, 3600, false), {}, 900},
      {"nxdomain", with_ttl(Status::nxdomain, 60, false), {}, 60},
      {"nxdomain over the negative cap", with_ttl(Status::nxdomain, 10800, false), {}, 900},
      {"nxdomain without SOA", with_ttl(Status::nxdomain, 0, false), {}, 1},
      {"server failure", with_ttl(Status::server_failure, 0, false), {}, 0},
      {"timeout", with_ttl(Status::timeout, 0, false), {}, 0},
      {"server failure with failure_ttl", with_ttl(Status::server_failure, 0, false), {20000, 86400, 900, 30}, 30},
      {"timeout with failure_ttl", with_ttl(Status::timeout, 0, false), {20000, 86400, 900, 5}, 5},
      {"small max_ttl", with_ttl(Status::ok, 600, true), {20000, 10, 900, 0}, 10},
      {"max_entries 0", with_ttl(Status::ok, 600, true), {0, 86400, 900, 0}, 0},
  };
  for (const Case& c : cases) {
    TableResolver up;
    up.set("x.example", c.answer);
    std::int64_t now = 0;
    CachingResolver cache(up, c.settings, [&] { return now; });
    Answer first = cache.lookup("x.example", RecordType::txt);
    EXPECT_EQ(first.status, c.answer.status) << c.what;
    EXPECT_EQ(first.error, c.answer.error) << c.what;
    if (c.kept > 0) {
      now = c.kept - 1;
      Answer again = cache.lookup("x.example", RecordType::txt);
      EXPECT_EQ(up.calls.load(), 1) << c.what;
      EXPECT_EQ(again.status, c.answer.status) << c.what;
      EXPECT_EQ(again.ttl, 1u) << c.what;
      EXPECT_EQ(again.texts, c.answer.texts) << c.what;
    }
    now = c.kept;
    cache.lookup("x.example", RecordType::txt);
    EXPECT_EQ(up.calls.load(), 2) << c.what;
  }
}

TEST(CachingResolver, EvictsLeastRecentlyUsed) {
  TableResolver up;
  std::int64_t now = 0;
  CachingResolver c(up, CacheSettings{3, 86400, 900, 0}, [&] { return now; });
  c.lookup("a.example", RecordType::a);
  c.lookup("b.example", RecordType::a);
  c.lookup("c.example", RecordType::a);
  c.lookup("a.example", RecordType::a);  // a is now the most recent
  EXPECT_EQ(up.calls.load(), 3);
  c.lookup("d.example", RecordType::a);  // evicts b
  EXPECT_EQ(c.stats().entries, 3u);
  c.lookup("a.example", RecordType::a);
  c.lookup("c.example", RecordType::a);
  c.lookup("d.example", RecordType::a);
  EXPECT_EQ(up.calls.load(), 4);
  c.lookup("b.example", RecordType::a);
  EXPECT_EQ(up.calls.load(), 5);
}

TEST(CachingResolver, StaysWithinMaxEntriesWhenSharded) {
  TableResolver up;
  std::int64_t now = 0;
  CachingResolver c(up, CacheSettings{1000, 86400, 900, 0}, [&] { return now; });
  for (int i = 0; i < 5000; ++i) c.lookup("n" + std::to_string(i) + ".example", RecordType::a);
  auto s = c.stats();
  EXPECT_LE(s.entries, 1000u);
  EXPECT_GE(s.entries, 900u);  // shards fill roughly evenly
  EXPECT_EQ(s.misses, 5000u);
}

TEST(CachingResolver, EightThreadsHammering) {
  TableResolver up;
  for (int i = 0; i < 50; i += 5) up.set("n" + std::to_string(i) + ".example", with_ttl(Status::nxdomain, 3, false));
  std::atomic<std::int64_t> now{0};
  CachingResolver c(up, CacheSettings{200, 86400, 900, 0}, [&] { return now.load(); });
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    while (!stop) {
      now.fetch_add(1);
      std::this_thread::yield();
    }
  });
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  constexpr int kPerThread = 20000;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int n = (i * 31 + t * 17) % 300;  // more names than fit: constant eviction
        Answer a = c.lookup("N" + std::to_string(n) + ".Example", i % 2 ? RecordType::a : RecordType::txt);
        bool negative = n < 50 && n % 5 == 0;
        if (negative ? a.status != Status::nxdomain
                     : (a.status != Status::ok || a.addresses.size() != 1 || a.ttl == 0 || a.ttl > 300))
          ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  stop = true;
  ticker.join();
  EXPECT_EQ(wrong.load(), 0);
  auto s = c.stats();
  EXPECT_EQ(s.hits + s.misses, 8u * kPerThread);
  EXPECT_EQ(s.misses, static_cast<std::uint64_t>(up.calls.load()));
  EXPECT_LE(s.entries, 200u);
}
