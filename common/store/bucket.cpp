// Token-bucket arithmetic (see bucket.h).
#include "common/store/bucket.h"

#include <algorithm>
#include <cmath>

namespace mailward::store::detail {

std::int64_t to_unix_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

BucketOutcome take_tokens(BucketState& state, bool is_new, const BucketSpec& spec, double cost,
                          std::int64_t now_ms) {
  const double capacity = std::max(0.0, spec.capacity);
  const double rate = std::max(0.0, spec.refill_per_second);
  if (is_new || !std::isfinite(state.tokens)) {
    state.tokens = capacity;
    state.updated_ms = now_ms;
  } else if (now_ms > state.updated_ms) {
    const double elapsed = static_cast<double>(now_ms - state.updated_ms) / 1000.0;
    state.tokens = std::min(capacity, state.tokens + elapsed * rate);
    state.updated_ms = now_ms;
  }
  state.tokens = std::min(state.tokens, capacity);
  BucketOutcome out;
  if (!(cost >= 0)) cost = 0;  // NaN or negative: costs nothing
  if (state.tokens >= cost) {
    state.tokens -= cost;
    out.allowed = true;
    out.remaining = state.tokens;
    return out;
  }
  out.allowed = false;
  out.remaining = state.tokens;
  if (cost > capacity || rate <= 0) {
    out.retry_after = kNever;
  } else {
    const double ms = std::ceil((cost - state.tokens) / rate * 1000.0);
    out.retry_after = std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, 3.0e10)));
  }
  return out;
}

std::chrono::seconds idle_lifetime(const BucketState& state, const BucketSpec& spec) {
  const double rate = spec.refill_per_second;
  if (rate <= 0) return std::chrono::hours(24 * 30);  // never refills: keep a month
  const double missing = std::max(0.0, spec.capacity - state.tokens);
  const double s = std::ceil(missing / rate) + 1.0;
  return std::chrono::seconds(static_cast<std::int64_t>(std::min(s, 3.0e7)));
}

}  // namespace mailward::store::detail

namespace mailward::store {

// The default take_chains (store.h): take() one by one, each chain stopping at its first refusal.
std::vector<Result<ChainOutcome>> Store::take_chains(std::span<const BucketChain> chains,
                                                     Clock::time_point now) {
  std::vector<Result<ChainOutcome>> out(chains.size());
  for (std::size_t c = 0; c < chains.size(); ++c) {
    Result<ChainOutcome>& r = out[c];
    r.value.allowed = true;
    for (std::size_t i = 0; i < chains[c].size(); ++i) {
      const BucketTake& t = chains[c][i];
      Result<BucketOutcome> one = take(t.key, t.spec, t.cost, now);
      if (!one.ok()) {
        r.status = one.status;
        r.detail = std::move(one.detail);
        r.value = ChainOutcome{false, i, {}};
        break;
      }
      r.value.decided_by = i;
      r.value.outcome = one.value;
      if (!one.value.allowed) {
        r.value.allowed = false;
        break;
      }
    }
  }
  return out;
}

}  // namespace mailward::store
