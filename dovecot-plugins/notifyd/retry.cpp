// Retry policy for mailward-notifyd (see retry.h).
#include "dovecot-plugins/notifyd/retry.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "common/util/text.h"

namespace mailward::notifyd {

Outcome classify_status(long s) {
  if (s >= 200 && s < 300) return Outcome::delivered;
  if (s == 0 || s == 408 || s == 425 || s == 429 || s >= 500) return Outcome::retry;
  return Outcome::permanent;
}

std::chrono::milliseconds backoff_delay(unsigned attempt, double random_fraction,
                                        std::chrono::milliseconds base, std::chrono::milliseconds cap) {
  if (attempt == 0) attempt = 1;
  double ceiling = static_cast<double>(base.count());
  for (unsigned i = 1; i < attempt && ceiling < static_cast<double>(cap.count()); ++i) ceiling *= 2;
  ceiling = std::min(ceiling, static_cast<double>(cap.count()));
  double f = std::clamp(random_fraction, 0.0, 1.0);
  auto ms = static_cast<long long>(std::floor(ceiling * f));
  if (ms >= static_cast<long long>(ceiling) && ceiling >= 1) ms = static_cast<long long>(ceiling) - 1;
  return std::chrono::milliseconds(ms);
}

namespace {

int month_index(std::string_view m) {
  static const std::array<std::string_view, 12> names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == m) return static_cast<int>(i);
  return -1;
}

// Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? static_cast<unsigned>(-3) : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool number(std::string_view s, std::size_t digits, unsigned long long max, unsigned long long& out) {
  return s.size() == digits && text::parse_uint(s, max, out);
}

// "HH:MM:SS"
bool clock(std::string_view s, unsigned long long& h, unsigned long long& m, unsigned long long& sec) {
  return s.size() == 8 && s[2] == ':' && s[5] == ':' && number(s.substr(0, 2), 2, 23, h) &&
         number(s.substr(3, 2), 2, 59, m) && number(s.substr(6, 2), 2, 60, sec);
}

std::optional<std::int64_t> http_date(std::string_view v) {
  std::vector<std::string_view> parts;
  for (std::string_view p : text::split(v, ' '))
    if (!p.empty()) parts.push_back(p);
  unsigned long long day = 0, year = 0, h = 0, mi = 0, s = 0;
  int month = -1;
  if (parts.size() == 6 && parts[0].size() == 4 && parts[0][3] == ',' && parts[5] == "GMT") {
    // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    if (!number(parts[1], 2, 31, day) || (month = month_index(parts[2])) < 0 ||
        !number(parts[3], 4, 9999, year) || !clock(parts[4], h, mi, s))
      return std::nullopt;
  } else if (parts.size() == 4 && parts[0].ends_with(",") && parts[3] == "GMT") {
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit year: RFC 9110 §5.6.7 says interpret
    // one more than 50 years in the future as the past century; we take 70-99 as 19xx).
    auto dmy = text::split(parts[1], '-');
    if (dmy.size() != 3 || !number(dmy[0], 2, 31, day) || (month = month_index(dmy[1])) < 0 ||
        !number(dmy[2], 2, 99, year) || !clock(parts[2], h, mi, s))
      return std::nullopt;
    year += year >= 70 ? 1900 : 2000;
  } else if (parts.size() == 5) {
    // asctime: Sun Nov  6 08:49:37 1994
    if ((month = month_index(parts[1])) < 0 || parts[2].empty() || parts[2].size() > 2 ||
        !text::parse_uint(parts[2], 31, day) || !clock(parts[3], h, mi, s) || !number(parts[4], 4, 9999, year))
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (day == 0) return std::nullopt;
  std::int64_t days = days_from_civil(static_cast<std::int64_t>(year), static_cast<unsigned>(month + 1),
                                      static_cast<unsigned>(day));
  return days * 86400 + static_cast<std::int64_t>(h * 3600 + mi * 60 + s);
}

}  // namespace

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::int64_t now_unix) {
  std::string_view v = text::trim(value);
  unsigned long long seconds = 0;
  if (text::parse_uint(v, 1ULL << 40, seconds)) return std::chrono::seconds(static_cast<long long>(seconds));
  std::optional<std::int64_t> at = http_date(v);
  if (!at) return std::nullopt;
  return std::chrono::seconds(std::max<std::int64_t>(0, *at - now_unix));
}

RetryDecision decide_retry(const notify::Target& target, unsigned attempts, std::int64_t event_time_ms,
                           std::int64_t now_ms, std::optional<std::chrono::seconds> retry_after,
                           double random_fraction) {
  RetryDecision d;
  if (attempts >= target.max_attempts) {
    d.dead = true;
    d.reason = "gave up after " + std::to_string(attempts) + " attempts";
    return d;
  }
  std::int64_t delay = backoff_delay(attempts, random_fraction).count();
  if (retry_after) delay = std::max<std::int64_t>(delay, retry_after->count() * 1000);
  d.next_ms = now_ms + delay;
  const std::int64_t deadline = event_time_ms + static_cast<std::int64_t>(target.max_age.count()) * 1000;
  if (d.next_ms > deadline) {
    d.dead = true;
    d.reason = "gave up: next attempt would be past max_age (" + std::to_string(target.max_age.count()) + "s)";
  }
  return d;
}

TokenBucket::TokenBucket(const notify::RateLimit& limit) {
  if (limit.count == 0) return;
  capacity_ = static_cast<double>(limit.count);
  tokens_ = capacity_;
  per_token_ms_ = static_cast<double>(limit.per.count()) * 1000.0 / capacity_;
}

void TokenBucket::refill(std::int64_t now_ms) {
  if (last_ms_ < 0) last_ms_ = now_ms;
  if (now_ms > last_ms_) {
    tokens_ = std::min(capacity_, tokens_ + static_cast<double>(now_ms - last_ms_) / per_token_ms_);
    last_ms_ = now_ms;
  }
}

std::int64_t TokenBucket::ready_at(std::int64_t now_ms) {
  if (capacity_ == 0) return now_ms;
  refill(now_ms);
  if (tokens_ >= 1.0) return now_ms;
  return now_ms + static_cast<std::int64_t>(std::ceil((1.0 - tokens_) * per_token_ms_));
}

std::int64_t TokenBucket::acquire(std::int64_t now_ms) {
  std::int64_t at = ready_at(now_ms);
  if (at == now_ms && capacity_ != 0) tokens_ -= 1.0;
  return at;
}

}  // namespace mailward::notifyd
