// Retry policy for mailward-notifyd, all pure: what an HTTP outcome means, the back-off delay
// (exponential with full jitter; the random fraction is an input), Retry-After parsing (the clock
// is an input), and token-bucket rate limits that delay a request, never drop it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/notify/targets.h"

namespace mailward::notifyd {

enum class Outcome { delivered, retry, permanent };

// 2xx delivered; 408, 425, 429 and every 5xx retry; other 4xx (and 1xx/3xx, which curl does not
// follow for us) are permanent. A transport failure (status 0: timeout, refused, TLS) retries.
Outcome classify_status(long http_status);

// Full jitter ("Exponential Backoff And Jitter", AWS architecture blog): a delay uniformly drawn
// from [0, min(cap, base * 2^(attempt-1))). `random_fraction` in [0, 1). attempt >= 1.
std::chrono::milliseconds backoff_delay(unsigned attempt, double random_fraction,
                                        std::chrono::milliseconds base = std::chrono::seconds(1),
                                        std::chrono::milliseconds cap = std::chrono::hours(1));

// RFC 9110 §10.2.3: delay-seconds or an HTTP-date. We accept IMF-fixdate (§5.6.7, the form
// senders must generate) and the two obsolete forms recipients must accept (RFC 850 and asctime).
// Returns the delay from `now_unix` (0 when the date has passed); nullopt when unparseable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_unix);

struct RetryDecision {
  bool dead = false;
  std::int64_t next_ms = 0;  // when to try again (unix ms), if !dead
  std::string reason;        // for the dead letter when dead
};

// After failed attempt number `attempts` (1-based) at `now_ms` for an event created at
// `event_time_ms`: retry at now + max(back-off, Retry-After) unless that passes max_attempts or
// max_age, then dead.
RetryDecision decide_retry(const notify::Target& target, unsigned attempts, std::int64_t event_time_ms,
                           std::int64_t now_ms, std::optional<std::chrono::seconds> retry_after,
                           double random_fraction);

// A token bucket holding at most `count` tokens, refilled at count per `per`. count 0: unlimited.
class TokenBucket {
 public:
  TokenBucket() = default;
  explicit TokenBucket(const notify::RateLimit& limit);
  // Takes a token if one is available at now_ms and returns now_ms; otherwise takes nothing and
  // returns the time the next token will be there.
  std::int64_t acquire(std::int64_t now_ms);
  // When a token will be available (now_ms if one is); takes nothing.
  std::int64_t ready_at(std::int64_t now_ms);

 private:
  void refill(std::int64_t now_ms);
  double capacity_ = 0;
  double tokens_ = 0;
  double per_token_ms_ = 0;
  std::int64_t last_ms_ = -1;
};

}  // namespace mailward::notifyd
