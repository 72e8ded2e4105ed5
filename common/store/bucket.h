// Token-bucket arithmetic shared by the memory and LMDB backends (the Redis backend runs the same
// rules in a Lua script, redis_store.cpp). Pure: state and time in, state and outcome out.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/store/store.h"

namespace mailward::store::detail {

struct BucketState {
  double tokens = 0;
  std::int64_t updated_ms = 0;  // Unix time in milliseconds of the last refill
};

// Refills `state` (nullptr: a new bucket, which starts full) to `now_ms`, takes `cost` tokens when
// available. A clock that went backwards refills nothing (the bucket never gains from it).
// A cost above the capacity, or a zero refill rate with too few tokens, is never satisfied:
// retry_after is then kNever.
inline constexpr std::chrono::milliseconds kNever{std::chrono::hours(24 * 365)};
BucketOutcome take_tokens(BucketState& state, bool is_new, const BucketSpec& spec, double cost,
                          std::int64_t now_ms);

// How long an idle bucket needs to be full again (after which it can be forgotten); at least 1 s.
std::chrono::seconds idle_lifetime(const BucketState& state, const BucketSpec& spec);

std::int64_t to_unix_ms(Clock::time_point t);

}  // namespace mailward::store::detail
