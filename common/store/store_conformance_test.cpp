// One conformance suite for every Store backend (memory, LMDB, Redis): counters, expiry, token
// buckets, wrong-type keys, erase. Each backend supplies a fixture that opens a fresh store and can
// move time forward (a fake clock for memory and LMDB; real sleeping for Redis, whose expiry runs on
// the server's clock, so expiry tests use TTLs of one or two seconds).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/store/store.h"
#include "common/store/redis_test_server.h"
#include "common/store/test_backends.h"

namespace mailward::store {
namespace {

using std::chrono::seconds;
using std::chrono::milliseconds;

template <class Backend>
class StoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_.setup();
    if (!backend_.skip_reason.empty()) GTEST_FAIL() << backend_.skip_reason;
    store_ = backend_.open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    backend_.teardown();
  }
  std::vector<std::int64_t> add(std::vector<CounterUpdate> u) {
    auto r = store_->add(u);
    EXPECT_EQ(r.status, Status::ok) << r.detail;
    return r.value;
  }
  std::vector<std::int64_t> get(std::vector<std::string> k) {
    auto r = store_->get(k);
    EXPECT_EQ(r.status, Status::ok) << r.detail;
    return r.value;
  }
  Backend backend_;
  std::unique_ptr<Store> store_;
};

using Backends = ::testing::Types<MemoryBackend, LmdbBackend, RedisBackend>;
TYPED_TEST_SUITE(StoreConformance, Backends);

TYPED_TEST(StoreConformance, MissingCountersReadZero) {
  EXPECT_EQ(this->get({"a", "b"}), (std::vector<std::int64_t>{0, 0}));
  EXPECT_EQ(this->get({}), (std::vector<std::int64_t>{}));
}

TYPED_TEST(StoreConformance, AddReturnsNewValuesInOrder) {
  EXPECT_EQ(this->add({{"a", 1, seconds(0)}, {"b", 5, seconds(0)}}),
            (std::vector<std::int64_t>{1, 5}));
  EXPECT_EQ(this->add({{"b", -7, seconds(0)}, {"a", 2, seconds(0)}}),
            (std::vector<std::int64_t>{-2, 3}));
  EXPECT_EQ(this->get({"a", "b", "c"}), (std::vector<std::int64_t>{3, -2, 0}));
}

TYPED_TEST(StoreConformance, GetAnswersInRequestOrderWhateverTheKeyOrder) {
  // Backends may look keys up in their own order (LMDB sorts them for its cursor); the answers
  // must still come back in the order asked, with missing keys (before, between and after the
  // stored ones) as 0 and a key asked twice answered twice.
  std::vector<CounterUpdate> stored;
  for (int i = 0; i < 200; i += 2) stored.push_back({"k" + std::to_string(1000 + i), i + 1, seconds(0)});
  this->add(stored);
  std::vector<std::string> asked;
  std::vector<std::int64_t> expected;
  for (int j = 0; j < 230; ++j) {
    const int i = (j * 37) % 230 - 15;  // a scrambled walk over -15..214
    asked.push_back("k" + std::to_string(1000 + i));
    expected.push_back(i >= 0 && i < 200 && i % 2 == 0 ? i + 1 : 0);
  }
  asked.push_back("a");  // before every stored key
  expected.push_back(0);
  asked.push_back("z");  // after every stored key
  expected.push_back(0);
  asked.push_back(asked.front());
  expected.push_back(expected.front());
  EXPECT_EQ(this->get(asked), expected);
}

TYPED_TEST(StoreConformance, SameKeyTwiceInOneCall) {
  EXPECT_EQ(this->add({{"a", 1, seconds(0)}, {"a", 10, seconds(0)}}),
            (std::vector<std::int64_t>{1, 11}));
}

TYPED_TEST(StoreConformance, LargeValues) {
  const std::int64_t big = std::int64_t{1} << 52;
  EXPECT_EQ(this->add({{"big", big, seconds(0)}}), (std::vector<std::int64_t>{big}));
  EXPECT_EQ(this->add({{"big", big, seconds(0)}}), (std::vector<std::int64_t>{2 * big}));
}

TYPED_TEST(StoreConformance, BinaryAndLongKeys) {
  std::string odd("k\0e y\xff:\n", 8);
  std::string long_key(400, 'x');
  EXPECT_EQ(this->add({{odd, 4, seconds(0)}, {long_key, 9, seconds(0)}}),
            (std::vector<std::int64_t>{4, 9}));
  EXPECT_EQ(this->get({odd, long_key, "k"}), (std::vector<std::int64_t>{4, 9, 0}));
}

TYPED_TEST(StoreConformance, CounterExpiresAfterTtl) {
  this->add({{"t", 3, seconds(1)}, {"forever", 1, seconds(0)}});
  EXPECT_EQ(this->get({"t"}), (std::vector<std::int64_t>{3}));
  this->backend_.advance(milliseconds(2100));
  EXPECT_EQ(this->get({"t", "forever"}), (std::vector<std::int64_t>{0, 1}));
  // A new counter after expiry starts from 0.
  EXPECT_EQ(this->add({{"t", 1, seconds(1)}}), (std::vector<std::int64_t>{1}));
}

TYPED_TEST(StoreConformance, TtlIsRefreshedByEachUpdate) {
  this->add({{"t", 1, seconds(2)}});
  this->backend_.advance(milliseconds(1200));
  this->add({{"t", 1, seconds(2)}});
  this->backend_.advance(milliseconds(1200));
  EXPECT_EQ(this->get({"t"}), (std::vector<std::int64_t>{2}));
}

TYPED_TEST(StoreConformance, ZeroTtlKeepsExistingExpiry) {
  this->add({{"t", 1, seconds(1)}});
  this->add({{"t", 1, seconds(0)}});
  EXPECT_EQ(this->get({"t"}), (std::vector<std::int64_t>{2}));
  this->backend_.advance(milliseconds(2100));
  EXPECT_EQ(this->get({"t"}), (std::vector<std::int64_t>{0}));
}

TYPED_TEST(StoreConformance, EraseRemovesAndReports) {
  this->add({{"a", 1, seconds(0)}, {"b", 1, seconds(0)}});
  std::vector<std::string> keys{"a", "zz"};
  auto r = this->store_->erase(keys);
  ASSERT_EQ(r.status, Status::ok) << r.detail;
  EXPECT_TRUE(r.value);
  EXPECT_EQ(this->get({"a", "b"}), (std::vector<std::int64_t>{0, 1}));
  std::vector<std::string> none{"a", "zz"};
  r = this->store_->erase(none);
  ASSERT_EQ(r.status, Status::ok);
  EXPECT_FALSE(r.value);
}

TYPED_TEST(StoreConformance, BucketStartsFullAndRefills) {
  const BucketSpec spec{3, 1};  // 3 tokens, one per second
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  for (int i = 0; i < 3; ++i) {
    auto r = this->store_->take("bk", spec, 1, t0);
    ASSERT_EQ(r.status, Status::ok) << r.detail;
    EXPECT_TRUE(r.value.allowed) << i;
    EXPECT_DOUBLE_EQ(r.value.remaining, 2.0 - i);
  }
  auto r = this->store_->take("bk", spec, 1, t0);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_FALSE(r.value.allowed);
  EXPECT_EQ(r.value.retry_after, milliseconds(1000));
  // Half a second later half a token is there; 500 ms more are needed.
  r = this->store_->take("bk", spec, 1, t0 + milliseconds(500));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value.allowed);
  EXPECT_DOUBLE_EQ(r.value.remaining, 0.5);
  EXPECT_EQ(r.value.retry_after, milliseconds(500));
  r = this->store_->take("bk", spec, 1, t0 + milliseconds(1000));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value.allowed);
  EXPECT_DOUBLE_EQ(r.value.remaining, 0.0);
  // Long idle: capped at capacity.
  r = this->store_->take("bk", spec, 2, t0 + seconds(100));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value.allowed);
  EXPECT_DOUBLE_EQ(r.value.remaining, 1.0);
}

TYPED_TEST(StoreConformance, BucketCostAboveCapacityNeverAllowed) {
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  auto r = this->store_->take("big", BucketSpec{2, 10}, 3, t0);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_FALSE(r.value.allowed);
  EXPECT_DOUBLE_EQ(r.value.remaining, 2.0);
  EXPECT_GE(r.value.retry_after, std::chrono::hours(24));
}

TYPED_TEST(StoreConformance, BucketFractionalCosts) {
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  const BucketSpec spec{1, 0.5};
  auto r = this->store_->take("f", spec, 0.25, t0);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_DOUBLE_EQ(r.value.remaining, 0.75);
  r = this->store_->take("f", spec, 1, t0 + milliseconds(100));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value.allowed);
  EXPECT_DOUBLE_EQ(r.value.remaining, 0.8);
  EXPECT_EQ(r.value.retry_after, milliseconds(400));
}

TYPED_TEST(StoreConformance, ClockGoingBackwardsGivesNothing) {
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  const BucketSpec spec{2, 1};
  ASSERT_TRUE(this->store_->take("b", spec, 2, t0).ok());
  auto r = this->store_->take("b", spec, 1, t0 - seconds(50));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value.allowed);
  r = this->store_->take("b", spec, 1, t0 + seconds(1));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value.allowed);
}

TYPED_TEST(StoreConformance, WrongTypeIsAnError) {
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  this->add({{"ctr", 1, seconds(0)}});
  auto r = this->store_->take("ctr", BucketSpec{1, 1}, 1, t0);
  EXPECT_EQ(r.status, Status::error);
  EXPECT_FALSE(r.detail.empty());
  ASSERT_TRUE(this->store_->take("bkt", BucketSpec{1, 1}, 1, t0).ok());
  std::vector<CounterUpdate> u{{"bkt", 1, seconds(0)}};
  auto a = this->store_->add(u);
  EXPECT_EQ(a.status, Status::error);
  EXPECT_FALSE(a.detail.empty());
  // A bucket reads as 0 through get().
  EXPECT_EQ(this->get({"bkt", "ctr"}), (std::vector<std::int64_t>{0, 1}));
}

TYPED_TEST(StoreConformance, ConcurrentAddsAreAtomic) {
  constexpr int kThreads = 4, kPer = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < kPer; ++i) {
        std::vector<CounterUpdate> u{{"shared", 1, seconds(60)}};
        auto r = this->store_->add(u);
        ASSERT_TRUE(r.ok()) << r.detail;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(this->get({"shared"}), (std::vector<std::int64_t>{kThreads * kPer}));
}

// take_chains: chains in order, each stopping at its first refusal; the same state as take() one
// by one (the embedded store runs the batch in one transaction, Redis in one pipeline).
TYPED_TEST(StoreConformance, TakeChainsStopAtFirstRefusalInOrder) {
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  const BucketSpec a3{3, 1}, b1{1, 1}, y5{5, 1};
  const std::vector<BucketTake> ab{{"a", a3, 1}, {"b", b1, 1}};
  const std::vector<BucketTake> xy{{"x", BucketSpec{1, 1}, 1}, {"y", y5, 1}};
  // Four chains in one batch: ab, ab, xy, xy.
  const std::vector<BucketChain> chains{ab, ab, xy, xy};
  auto res = this->store_->take_chains(chains, t0);
  ASSERT_EQ(res.size(), 4u);
  for (const auto& r : res) ASSERT_EQ(r.status, Status::ok) << r.detail;
  // 1st ab: a 3->2, b 1->0, allowed; decided_by = last index.
  EXPECT_TRUE(res[0].value.allowed);
  EXPECT_EQ(res[0].value.decided_by, 1u);
  EXPECT_DOUBLE_EQ(res[0].value.outcome.remaining, 0.0);
  // 2nd ab: a 2->1 taken (kept), b refused.
  EXPECT_FALSE(res[1].value.allowed);
  EXPECT_EQ(res[1].value.decided_by, 1u);
  EXPECT_EQ(res[1].value.outcome.retry_after, milliseconds(1000));
  // 1st xy: x 1->0, y 5->4. 2nd xy: x refused, y not attempted.
  EXPECT_TRUE(res[2].value.allowed);
  EXPECT_FALSE(res[3].value.allowed);
  EXPECT_EQ(res[3].value.decided_by, 0u);
  EXPECT_DOUBLE_EQ(res[3].value.outcome.remaining, 0.0);
  // The state one by one would have left: a 1, y 4.
  auto a = this->store_->take("a", a3, 1, t0);
  ASSERT_TRUE(a.ok()) << a.detail;
  EXPECT_DOUBLE_EQ(a.value.remaining, 0.0);
  auto y = this->store_->take("y", y5, 1, t0);
  ASSERT_TRUE(y.ok()) << y.detail;
  EXPECT_DOUBLE_EQ(y.value.remaining, 3.0);
  EXPECT_TRUE(this->store_->take_chains({}, t0).empty());
}

TYPED_TEST(StoreConformance, TakeChainsWrongTypeFailsOnlyItsChain) {
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  this->add({{"ctr", 1, seconds(0)}});
  const std::vector<BucketTake> bad{{"ctr", BucketSpec{1, 1}, 1}};
  const std::vector<BucketTake> good{{"ok", BucketSpec{2, 1}, 1}};
  const std::vector<BucketChain> chains{good, bad, good};
  auto res = this->store_->take_chains(chains, t0);
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0].status, Status::ok) << res[0].detail;
  EXPECT_TRUE(res[0].value.allowed);
  EXPECT_EQ(res[1].status, Status::error);
  EXPECT_FALSE(res[1].detail.empty());
  EXPECT_EQ(res[2].status, Status::ok) << res[2].detail;
  EXPECT_TRUE(res[2].value.allowed);
  EXPECT_DOUBLE_EQ(res[2].value.outcome.remaining, 0.0);
  EXPECT_EQ(this->get({"ctr"}), (std::vector<std::int64_t>{1}));  // untouched
}

// Several threads (one store) taking from one bucket in batches: exactly its capacity allowed.
TYPED_TEST(StoreConformance, ConcurrentTakeChainsNeverOverAllow) {
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  const std::vector<BucketTake> one{{"shared-bucket", BucketSpec{100, 0}, 1}};
  constexpr int kThreads = 4, kBatches = 20, kPerBatch = 5;  // 400 takes for 100 tokens
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      const std::vector<BucketChain> batch(kPerBatch, BucketChain(one));
      for (int b = 0; b < kBatches; ++b) {
        for (const auto& r : this->store_->take_chains(batch, t0)) {
          ASSERT_TRUE(r.ok()) << r.detail;
          if (r.value.allowed) ++allowed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
}

TYPED_TEST(StoreConformance, DescribeNamesBackend) {
  EXPECT_EQ(this->store_->describe().rfind(this->backend_.describe_prefix(), 0), 0u)
      << this->store_->describe();
}

}  // namespace
}  // namespace mailward::store
