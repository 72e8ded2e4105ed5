// The Redis store (open_redis_store), so several hosts share one set of counters and buckets.
// hiredis 0.14 synchronous API, one connection per Store under a mutex, with a timeout on connect
// and on every command.
//   add:   MULTI / INCRBY / EXPIRE ... / EXEC in one pipeline (exact 64-bit values; a Lua script
//          would pass the values through Lua's doubles). Redis does not roll back a transaction in
//          which one command failed (a key holding a bucket): the detail then names the key and
//          says the other keys were updated.
//   get:   MGET (a key holding a bucket, a hash, reads nil = 0, as in the other backends).
//   take:  EVALSHA of one Lua script (falls back to EVAL on NOSCRIPT), so every host sees one
//          atomic bucket; the same arithmetic as bucket.cpp, with the time passed in.
//   take_chains: the same script over a chain of keys, one call per chain, all the calls of a
//          batch in one pipeline (one round trip).
//   erase: DEL.
// Failures: a connection error or timeout drops the connection and returns Status::unavailable;
// the next call reconnects, but not before a back-off (100 ms doubling to 2 s) has passed, so a
// dead Redis costs one failed connect per back-off period, not a timeout on every call.
#include <hiredis/hiredis.h>
#include <signal.h>
#include <time.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/store/store.h"

namespace mailward::store {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A chain of buckets (take() is a chain of one): KEYS = the buckets, ARGV = now_ms, then capacity,
// refill per second and cost for each key. Every key's type is checked before anything is
// written, then the buckets are taken in order, stopping at the first refusal. Reply:
// {allowed, tokens, retry_ms, index}: the refusing bucket (or the last one) and its 0-based index.
constexpr const char* kTakeScript = R"lua(
for i = 1, #KEYS do
  local t = redis.call('TYPE', KEYS[i]).ok
  if t ~= 'hash' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE key holds a counter, not a token bucket')
  end
end
local now = tonumber(ARGV[1])
local allowed, tokens, retry, idx = 1, 0, 0, 0
for i = 1, #KEYS do
  local cap = tonumber(ARGV[3 * i - 1])
  local rate = tonumber(ARGV[3 * i])
  local cost = tonumber(ARGV[3 * i + 1])
  if cap < 0 then cap = 0 end
  if rate < 0 then rate = 0 end
  if cost == nil or cost ~= cost or cost < 0 then cost = 0 end
  local v = redis.call('HMGET', KEYS[i], 't', 'u')
  tokens = tonumber(v[1])
  local upd = tonumber(v[2])
  if tokens == nil or upd == nil or tokens ~= tokens then
    tokens = cap
    upd = now
  elseif now > upd then
    tokens = math.min(cap, tokens + (now - upd) / 1000.0 * rate)
    upd = now
  end
  if tokens > cap then tokens = cap end
  allowed = 0
  retry = 0
  if tokens >= cost then
    tokens = tokens - cost
    allowed = 1
  elseif cost > cap or rate <= 0 then
    retry = -1
  else
    retry = math.ceil((cost - tokens) / rate * 1000.0)
  end
  local life = 2592000000
  if rate > 0 then life = (math.ceil((cap - tokens) / rate) + 1) * 1000 end
  redis.call('HSET', KEYS[i], 't', string.format('%.17g', tokens), 'u', string.format('%.0f', upd))
  redis.call('PEXPIRE', KEYS[i], string.format('%.0f', life))
  idx = i - 1
  if allowed == 0 then break end
end
return {allowed, string.format('%.17g', tokens), retry, idx}
)lua";

std::string sha1_hex(std::string_view text) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string fmt_double(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// hiredis writes with write(2): a write to a connection Redis has closed raises SIGPIPE, which would
// kill a process that has not ignored it. While a command is sent, SIGPIPE is blocked in this thread,
// and a SIGPIPE raised meanwhile is consumed before unblocking (unless one was already pending).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_{};
  bool was_pending_ = false;
};

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

bool parse_i64(const char* s, std::size_t n, std::int64_t& out) {
  std::string t(s, n);
  if (t.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno != 0 || end != t.c_str() + t.size()) return false;
  out = v;
  return true;
}

class RedisStore final : public Store {
 public:
  explicit RedisStore(const RedisSettings& s) : settings_(s), take_sha_(sha1_hex(kTakeScript)) {
    if (settings_.host.empty()) throw StoreError("redis store: empty host");
    if (settings_.host[0] != '/' && (settings_.port <= 0 || settings_.port > 65535)) {
      throw StoreError("redis store: bad port " + std::to_string(settings_.port));
    }
    if (settings_.database < 0) throw StoreError("redis store: bad database number");
    if (settings_.timeout.count() <= 0) settings_.timeout = std::chrono::milliseconds(200);
    if (!settings_.password_file.empty()) {
      std::ifstream in(settings_.password_file);
      if (!in) throw StoreError("redis store: cannot read " + settings_.password_file);
      std::getline(in, password_);
      while (!password_.empty() && (password_.back() == '\r' || password_.back() == ' ')) {
        password_.pop_back();
      }
      if (password_.empty()) throw StoreError("redis store: empty password in " +
                                               settings_.password_file);
    }
    describe_ = settings_.host[0] == '/'
                    ? "redis:" + settings_.host
                    : "redis:" + settings_.host + ":" + std::to_string(settings_.port);
  }
  ~RedisStore() override {
    if (ctx_) redisFree(ctx_);
  }

  Result<std::vector<std::int64_t>> add(std::span<const CounterUpdate> updates) override {
    Result<std::vector<std::int64_t>> out;
    if (updates.empty()) return out;
    std::lock_guard lock(mutex_);
    if (!connected(out.status, out.detail)) return out;
    std::vector<std::vector<std::string>> cmds;
    cmds.push_back({"MULTI"});
    for (const auto& u : updates) {
      cmds.push_back({"INCRBY", settings_.key_prefix + u.key, std::to_string(u.delta)});
      if (u.ttl.count() > 0) {
        cmds.push_back({"EXPIRE", settings_.key_prefix + u.key, std::to_string(u.ttl.count())});
      }
    }
    cmds.push_back({"EXEC"});
    std::vector<Reply> replies;
    if (!pipeline(cmds, replies, out.status, out.detail)) return out;
    const redisReply* exec = replies.back().get();
    if (exec->type == REDIS_REPLY_ERROR) {
      out.status = Status::error;
      out.detail = std::string("redis EXEC: ") + exec->str + " (nothing was changed)";
      return out;
    }
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != cmds.size() - 2) {
      return unexpected(out, "EXEC");
    }
    std::size_t i = 0;
    std::string failed;
    for (const auto& u : updates) {
      const redisReply* r = exec->element[i];
      if (r->type == REDIS_REPLY_INTEGER) {
        out.value.push_back(r->integer);
      } else {
        out.value.push_back(0);
        if (!failed.empty()) failed += ", ";
        failed += u.key;
        if (r->type == REDIS_REPLY_ERROR) failed += std::string(" (") + r->str + ")";
      }
      i += u.ttl.count() > 0 ? 2u : 1u;
    }
    if (!failed.empty()) {
      out.status = Status::error;
      out.detail = "redis INCRBY failed for " + failed + "; the other keys were updated";
      out.value.clear();
    }
    return out;
  }

  Result<std::vector<std::int64_t>> get(std::span<const std::string> keys) override {
    Result<std::vector<std::int64_t>> out;
    if (keys.empty()) return out;
    std::lock_guard lock(mutex_);
    if (!connected(out.status, out.detail)) return out;
    std::vector<std::vector<std::string>> cmds(1);
    cmds[0].push_back("MGET");
    for (const auto& k : keys) cmds[0].push_back(settings_.key_prefix + k);
    std::vector<Reply> replies;
    if (!pipeline(cmds, replies, out.status, out.detail)) return out;
    const redisReply* r = replies[0].get();
    if (r->type == REDIS_REPLY_ERROR) return server_error(out, r);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != keys.size()) return unexpected(out, "MGET");
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* e = r->element[i];
      std::int64_t v = 0;
      if (e->type == REDIS_REPLY_STRING && !parse_i64(e->str, e->len, v)) {
        out.status = Status::error;
        out.detail = "redis: not a counter under key " + keys[i];
        out.value.clear();
        return out;
      }
      out.value.push_back(v);
    }
    return out;
  }

  Result<BucketOutcome> take(std::string_view key, const BucketSpec& spec, double cost,
                             Clock::time_point now) override {
    const BucketTake one{key, spec, cost};
    const BucketChain chain(&one, 1);
    Result<ChainOutcome> r = std::move(take_chains(std::span<const BucketChain>(&chain, 1), now)[0]);
    Result<BucketOutcome> out;
    out.status = r.status;
    out.detail = std::move(r.detail);
    out.value = r.value.outcome;
    return out;
  }

  // One EVALSHA per chain, all of them in one pipeline (one write, then the replies in order):
  // one round trip for the whole batch. Chains that met NOSCRIPT (Redis restarted and lost its
  // script cache) are sent again with EVAL in a second round trip.
  std::vector<Result<ChainOutcome>> take_chains(std::span<const BucketChain> chains,
                                                Clock::time_point now) override {
    std::vector<Result<ChainOutcome>> out(chains.size());
    if (chains.empty()) return out;
    std::lock_guard lock(mutex_);
    Status st = Status::ok;
    std::string why;
    if (!connected(st, why)) return fail_all(out, st, why);
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(chains.size());
    for (const BucketChain& chain : chains) {
      std::vector<std::string> args{"EVALSHA", take_sha_, std::to_string(chain.size())};
      for (const BucketTake& t : chain) args.push_back(settings_.key_prefix + std::string(t.key));
      args.push_back(std::to_string(now_ms));
      for (const BucketTake& t : chain) {
        args.push_back(fmt_double(t.spec.capacity));
        args.push_back(fmt_double(t.spec.refill_per_second));
        args.push_back(fmt_double(std::isfinite(t.cost) ? t.cost : 0.0));
      }
      cmds.push_back(std::move(args));
    }
    std::vector<Reply> replies;
    if (!pipeline(cmds, replies, st, why)) return fail_all(out, st, why);
    std::vector<std::size_t> again;
    for (std::size_t c = 0; c < chains.size(); ++c) {
      if (replies[c]->type == REDIS_REPLY_ERROR &&
          std::string_view(replies[c]->str, replies[c]->len).starts_with("NOSCRIPT"))
        again.push_back(c);
    }
    if (!again.empty()) {
      std::vector<std::vector<std::string>> retry;
      for (std::size_t c : again) {
        retry.push_back(cmds[c]);
        retry.back()[0] = "EVAL";
        retry.back()[1] = kTakeScript;
      }
      std::vector<Reply> retried;
      if (!pipeline(retry, retried, st, why)) {
        // The chains answered before are known; the retried ones are not.
        for (std::size_t c : again) {
          out[c].status = st;
          out[c].detail = why;
        }
        again.clear();
      } else {
        for (std::size_t k = 0; k < again.size(); ++k) replies[again[k]] = std::move(retried[k]);
        again.clear();
      }
    }
    for (std::size_t c = 0; c < chains.size(); ++c) {
      if (out[c].status != Status::ok) continue;
      const redisReply* r = replies[c].get();
      if (r->type == REDIS_REPLY_ERROR) {
        server_error(out[c], r);
        continue;
      }
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
          r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING ||
          r->element[2]->type != REDIS_REPLY_INTEGER || r->element[3]->type != REDIS_REPLY_INTEGER ||
          r->element[3]->integer < 0 ||
          static_cast<std::size_t>(r->element[3]->integer) >= std::max<std::size_t>(1, chains[c].size())) {
        unexpected(out[c], "take script");
        continue;
      }
      ChainOutcome& v = out[c].value;
      v.allowed = r->element[0]->integer == 1;
      v.decided_by = static_cast<std::size_t>(r->element[3]->integer);
      v.outcome.allowed = v.allowed;
      v.outcome.remaining =
          std::strtod(std::string(r->element[1]->str, r->element[1]->len).c_str(), nullptr);
      const long long retry = r->element[2]->integer;
      v.outcome.retry_after = retry < 0 ? std::chrono::milliseconds(std::chrono::hours(24 * 365))
                                        : std::chrono::milliseconds(retry);
    }
    return out;
  }

  Result<bool> erase(std::span<const std::string> keys) override {
    Result<bool> out;
    if (keys.empty()) return out;
    std::lock_guard lock(mutex_);
    if (!connected(out.status, out.detail)) return out;
    std::vector<std::vector<std::string>> cmds(1);
    cmds[0].push_back("DEL");
    for (const auto& k : keys) cmds[0].push_back(settings_.key_prefix + k);
    std::vector<Reply> replies;
    if (!pipeline(cmds, replies, out.status, out.detail)) return out;
    const redisReply* r = replies[0].get();
    if (r->type == REDIS_REPLY_ERROR) return server_error(out, r);
    if (r->type != REDIS_REPLY_INTEGER) return unexpected(out, "DEL");
    out.value = r->integer > 0;
    return out;
  }

  std::string describe() const override { return describe_; }

 private:
  static std::vector<Result<ChainOutcome>>& fail_all(std::vector<Result<ChainOutcome>>& out,
                                                     Status st, const std::string& why) {
    for (auto& r : out) {
      r.status = st;
      r.detail = why;
    }
    return out;
  }
  template <class T>
  static Result<T>& server_error(Result<T>& out, const redisReply* r) {
    out.status = Status::error;
    out.detail = std::string("redis: ") + std::string(r->str, r->len);
    out.value = T{};
    return out;
  }
  template <class T>
  Result<T>& unexpected(Result<T>& out, std::string_view what) {
    out.status = Status::error;
    out.detail = "redis: unexpected reply to " + std::string(what);
    out.value = T{};
    return out;
  }

  timeval timeout_tv() const {
    const auto ms = settings_.timeout.count();
    return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  }

  void drop(std::string why) {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
    last_error_ = std::move(why);
    backoff_ = backoff_.count() == 0 ? std::chrono::milliseconds(100)
                                     : std::min(backoff_ * 2, std::chrono::milliseconds(2000));
    next_attempt_ = SteadyClock::now() + backoff_;
  }

  // Ensures a connection; false with Status::unavailable while Redis cannot be reached.
  bool connected(Status& status, std::string& detail) {
    if (ctx_) return true;
    if (SteadyClock::now() < next_attempt_) {
      status = Status::unavailable;
      detail = describe_ + " unreachable (" + last_error_ + "); next attempt after back-off";
      return false;
    }
    const timeval tv = timeout_tv();
    redisContext* c = settings_.host[0] == '/'
                          ? redisConnectUnixWithTimeout(settings_.host.c_str(), tv)
                          : redisConnectWithTimeout(settings_.host.c_str(), settings_.port, tv);
    if (c == nullptr || c->err) {
      std::string why = c ? c->errstr : "cannot allocate a redis context";
      if (c) redisFree(c);
      drop("connect: " + why);
      status = Status::unavailable;
      detail = describe_ + " unreachable (" + last_error_ + ")";
      return false;
    }
    redisSetTimeout(c, tv);
    ctx_ = c;
    std::vector<std::vector<std::string>> setup;
    if (!password_.empty()) setup.push_back({"AUTH", password_});
    if (settings_.database != 0) setup.push_back({"SELECT", std::to_string(settings_.database)});
    if (!setup.empty()) {
      std::vector<Reply> replies;
      if (!pipeline(setup, replies, status, detail)) return false;
      for (const auto& r : replies) {
        if (r->type == REDIS_REPLY_ERROR) {
          std::string why = std::string(r->str, r->len);
          drop("set-up: " + why);
          status = Status::unavailable;
          detail = describe_ + " refused the connection set-up (" + why + ")";
          return false;
        }
      }
    }
    backoff_ = std::chrono::milliseconds(0);
    return true;
  }

  // Sends the commands in one pipeline and reads one reply each. A transport failure (I/O, EOF,
  // timeout) drops the connection and returns false with Status::unavailable.
  bool pipeline(const std::vector<std::vector<std::string>>& cmds, std::vector<Reply>& replies,
                Status& status, std::string& detail) {
    SigpipeGuard no_sigpipe;
    for (const auto& cmd : cmds) {
      std::vector<const char*> argv;
      std::vector<std::size_t> lens;
      for (const auto& a : cmd) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
          REDIS_OK) {
        return transport_failure(status, detail);
      }
    }
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
        if (raw) freeReplyObject(raw);
        return transport_failure(status, detail);
      }
      replies.emplace_back(static_cast<redisReply*>(raw));
    }
    return true;
  }

  bool transport_failure(Status& status, std::string& detail) {
    std::string why = ctx_ && ctx_->errstr[0] ? ctx_->errstr : "connection lost";
    drop(why);
    status = Status::unavailable;
    detail = describe_ + ": " + why + " (the state of this update is unknown)";
    return false;
  }

  RedisSettings settings_;
  std::string take_sha_;
  std::string password_;
  std::string describe_;
  std::mutex mutex_;
  redisContext* ctx_ = nullptr;
  std::string last_error_;
  std::chrono::milliseconds backoff_{0};
  SteadyClock::time_point next_attempt_{};
};

}  // namespace

std::unique_ptr<Store> open_redis_store(const RedisSettings& settings) {
  return std::make_unique<RedisStore>(settings);
}

}  // namespace mailward::store
