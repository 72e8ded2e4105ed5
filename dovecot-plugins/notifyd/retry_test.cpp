// Tests for the retry policy: status classes, back-off with a fixed random source, Retry-After,
// the retry/dead decision with a fixed clock, and token buckets.
#include "dovecot-plugins/notifyd/retry.h"

#include <gtest/gtest.h>

namespace mailward::notifyd {
namespace {

TEST(NotifydRetry, ClassifiesStatus) {
  const std::vector<std::pair<long, Outcome>> cases = {
      {200, Outcome::delivered}, {204, Outcome::delivered}, {299, Outcome::delivered},
      {0, Outcome::retry},       {408, Outcome::retry},     {425, Outcome::retry},
      {429, Outcome::retry},     {500, Outcome::retry},     {503, Outcome::retry},
      {400, Outcome::permanent}, {401, Outcome::permanent}, {404, Outcome::permanent},
      {410, Outcome::permanent}, {301, Outcome::permanent}, {100, Outcome::permanent},
  };
  for (const auto& [status, outcome] : cases) EXPECT_EQ(classify_status(status), outcome) << status;
}

TEST(NotifydRetry, BackoffSchedule) {
  using std::chrono::milliseconds;
  // Upper bounds 1 s, 2 s, 4 s ... capped at 1 h; the random fraction picks within.
  EXPECT_EQ(backoff_delay(1, 0.5).count(), 500);
  EXPECT_EQ(backoff_delay(2, 0.5).count(), 1000);
  EXPECT_EQ(backoff_delay(3, 0.5).count(), 2000);
  EXPECT_EQ(backoff_delay(10, 0.5).count(), 256000);
  EXPECT_EQ(backoff_delay(13, 0.5).count(), 1800000);  // 2^12 s > 1 h: capped
  EXPECT_EQ(backoff_delay(200, 0.5).count(), 1800000);
  EXPECT_EQ(backoff_delay(1, 0.0).count(), 0);
  EXPECT_EQ(backoff_delay(1, 0.999999).count(), 999);
  EXPECT_EQ(backoff_delay(1, 1.0).count(), 999);  // never the bound itself
  EXPECT_EQ(backoff_delay(3, 0.25, milliseconds(100), milliseconds(300)).count(), 75);
}

TEST(NotifydRetry, RetryAfter) {
  const std::int64_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  struct Case {
    std::string value;
    std::optional<long long> seconds;
  };
  const std::vector<Case> cases = {
      {"120", 120},
      {" 0 ", 0},
      {"Sun, 06 Nov 1994 08:49:37 GMT", 0},
      {"Sun, 06 Nov 1994 08:51:37 GMT", 120},
      {"Sun, 06 Nov 1994 08:48:37 GMT", 0},  // past: now
      {"Sunday, 06-Nov-94 08:50:37 GMT", 60},
      {"Sun Nov  6 08:49:47 1994", 10},
      {"Mon, 07 Nov 1994 08:49:37 GMT", 86400},
      {"-5", std::nullopt},
      {"1.5", std::nullopt},
      {"soon", std::nullopt},
      {"Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},
      {"Sun, 6 Nov 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Foo 1994 08:49:37 GMT", std::nullopt},
      {"Sun, 06 Nov 1994 25:49:37 GMT", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) {
    auto r = parse_retry_after(c.value, now);
    ASSERT_EQ(r.has_value(), c.seconds.has_value()) << c.value;
    if (r) {
      EXPECT_EQ(r->count(), *c.seconds) << c.value;
    }
  }
}

TEST(NotifydRetry, Decisions) {
  notify::Target t;
  t.max_attempts = 3;
  t.max_age = std::chrono::seconds(100);
  const std::int64_t created = 1'000'000;
  RetryDecision d = decide_retry(t, 1, created, created + 10, std::nullopt, 0.5);
  EXPECT_FALSE(d.dead);
  EXPECT_EQ(d.next_ms, created + 10 + 500);
  d = decide_retry(t, 2, created, created + 1000, std::chrono::seconds(30), 0.5);
  EXPECT_FALSE(d.dead);
  EXPECT_EQ(d.next_ms, created + 1000 + 30000);  // Retry-After beats the 1 s back-off
  d = decide_retry(t, 2, created, created + 1000, std::chrono::seconds(200), 0.5);
  EXPECT_TRUE(d.dead);
  EXPECT_EQ(d.reason, "gave up: next attempt would be past max_age (100s)");
  d = decide_retry(t, 3, created, created + 1000, std::nullopt, 0.5);
  EXPECT_TRUE(d.dead);
  EXPECT_EQ(d.reason, "gave up after 3 attempts");
}

TEST(NotifydRetry, TokenBucket) {
  TokenBucket unlimited(notify::RateLimit{0, std::chrono::seconds(60)});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(unlimited.acquire(5), 5);

  TokenBucket b(notify::RateLimit{2, std::chrono::seconds(10)});  // one token per 5 s
  EXPECT_EQ(b.acquire(0), 0);
  EXPECT_EQ(b.acquire(0), 0);
  EXPECT_EQ(b.ready_at(0), 5000);
  EXPECT_EQ(b.acquire(1000), 5000);  // not taken
  EXPECT_EQ(b.acquire(5000), 5000);  // taken
  EXPECT_EQ(b.acquire(5000), 10000);
  EXPECT_EQ(b.acquire(100000), 100000);  // refilled to capacity 2, not more
  EXPECT_EQ(b.acquire(100000), 100000);
  EXPECT_EQ(b.acquire(100000), 105000);
}

}  // namespace
}  // namespace mailward::notifyd
