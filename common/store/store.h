// The state store: counters and token buckets shared by the daemons (rate limits, login failures,
// Bayes token counts), behind one interface with two backends (DESIGN.md, "State"):
//   - embedded (LMDB file; nothing to run; several processes on one host may open it), the default;
//   - Redis (hiredis), so mailward-policyd / mailward-milter on several MX hosts share one state.
// Backend failures are values, never exceptions: Status::unavailable means "the backend cannot be
// reached now" (Redis down); callers apply their configured fail mode and the store reconnects by
// itself on a later call. Only the open_* functions throw (StoreError) for a bad path or setting.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mailward::config {
class Config;
}

namespace mailward::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Status {
  ok,
  unavailable,  // backend unreachable (connection refused, timeout): fail mode applies
  error,        // the backend answered with an error (full disk, wrong type under a key)
};

template <class T>
struct Result {
  Status status = Status::ok;
  T value{};
  std::string detail;  // human-readable reason when status != ok
  bool ok() const { return status == Status::ok; }
};

using Clock = std::chrono::system_clock;

struct CounterUpdate {
  std::string key;
  std::int64_t delta = 0;
  // > 0: the counter expires this long after this update (the expiry is refreshed); 0: no expiry
  // change (a new counter never expires).
  std::chrono::seconds ttl{0};
};

// Token bucket: holds up to `capacity` tokens, refilled continuously at `refill_per_second`.
struct BucketSpec {
  double capacity = 0;
  double refill_per_second = 0;
};

struct BucketOutcome {
  bool allowed = false;                     // the `cost` tokens were taken
  double remaining = 0;                     // tokens left after this call
  std::chrono::milliseconds retry_after{0}; // when not allowed: until `cost` tokens are available
};

// One bucket of a chain (take_chains): `key` must stay valid for the call.
struct BucketTake {
  std::string_view key;
  BucketSpec spec;
  double cost = 0;
};

// What one chain gave: every take allowed, or the first that refused (the takes before it were
// made and are kept; the ones after it were not attempted).
struct ChainOutcome {
  bool allowed = false;
  std::size_t decided_by = 0;  // index of the refusing take; when allowed, the last index
  BucketOutcome outcome;       // that take's outcome
};
using BucketChain = std::span<const BucketTake>;

class Store {
 public:
  virtual ~Store() = default;

  // Adds each delta (a missing counter counts as 0) atomically per key; returns the new values in
  // order. Every key is updated or, on failure, the result says which state is unknown in detail.
  virtual Result<std::vector<std::int64_t>> add(std::span<const CounterUpdate> updates) = 0;
  // Current values in order; a missing or expired counter reads 0.
  virtual Result<std::vector<std::int64_t>> get(std::span<const std::string> keys) = 0;
  // Atomically refills the bucket at `key` to `now` and takes `cost` tokens if available. A new
  // bucket starts full. Idle buckets may be forgotten once full again.
  virtual Result<BucketOutcome> take(std::string_view key, const BucketSpec& spec, double cost,
                                     Clock::time_point now) = 0;
  virtual Result<bool> erase(std::span<const std::string> keys) = 0;
  // Several independent chains at one `now`, each taken in order and stopping at its first
  // refusal, as take() would one by one; one result per chain, in order. The point is the cost:
  // the embedded store runs the whole batch in one write transaction, Redis in one pipelined
  // round trip (one script call per chain), so a daemon answering many connections pays once per
  // batch instead of once per bucket. A failed chain (unavailable / error) says so in its result;
  // its earlier takes may have been made. The default runs take() one by one.
  virtual std::vector<Result<ChainOutcome>> take_chains(std::span<const BucketChain> chains,
                                                        Clock::time_point now);
  // "memory", "lmdb:/var/lib/mailward/state.mdb", "redis:127.0.0.1:6379" — for logs.
  virtual std::string describe() const = 0;
};

// In-process only (unit tests, and a daemon that needs no persistence). `clock` decides expiry.
std::unique_ptr<Store> open_memory_store(std::function<Clock::time_point()> clock = Clock::now);

struct LmdbSettings {
  std::string path;                            // a file, created 0600 if missing
  std::size_t map_size = 256u * 1024 * 1024;   // bytes
  // false (default): fast — writes reach the disk when the kernel flushes them (a process crash
  // loses nothing; a system crash could tear the file, so state written before the last reboot
  // is discarded at open, see README.md). true: every write is synced (slow, survives power loss).
  bool durable = false;
};
std::unique_ptr<Store> open_lmdb_store(const LmdbSettings& settings,
                                       std::function<Clock::time_point()> clock = Clock::now);

struct RedisSettings {
  std::string host = "127.0.0.1";  // or a unix socket path starting with '/'
  int port = 6379;
  int database = 0;
  std::string password_file;       // optional; the password is never in the main config
  std::string key_prefix = "mailward:";
  std::chrono::milliseconds timeout{200};
};
std::unique_ptr<Store> open_redis_store(const RedisSettings& settings);

// The store a configuration section chooses, read and validated without opening anything (so that
// a `--check` run as root creates no file the daemon, running as its own user, could not open).
struct StoreChoice {
  enum class Backend { embedded, redis, memory };
  Backend backend = Backend::embedded;
  LmdbSettings lmdb;
  RedisSettings redis;
  std::string describe() const;  // as the opened store's describe(): "lmdb:PATH", "redis:HOST:PORT", "memory"
};
// Throws config::ConfigError naming the line for a bad value or an unknown key.
StoreChoice read_store_choice(const config::Config& config, std::string_view section);
// Opens (creating an embedded store's file if missing). Throws StoreError if it cannot.
std::unique_ptr<Store> open_store(const StoreChoice& choice);

// From the configuration section `section` (e.g. "store"):
//   backend = embedded | redis | memory   (default embedded)
//   path = /var/lib/mailward/state.mdb    (embedded)
//   redis_host, redis_port, redis_database, redis_password_file, redis_timeout, key_prefix
//   map_size_mb (embedded), fail_mode = allow | refuse (see fail_mode() below)
// Throws config::ConfigError naming the line for a bad value; StoreError if the store cannot open.
// Opening a Redis store does not need Redis to be up (the first calls then say unavailable).
// Same as open_store(read_store_choice(config, section)).
std::unique_ptr<Store> open_store(const config::Config& config, std::string_view section);

// What a caller should decide while the store says Status::unavailable (or error): `allow` (the
// default: let the request through and log a warning) or `refuse` (temporary failure / reject).
enum class FailMode { allow, refuse };
FailMode fail_mode(const config::Config& config, std::string_view section);

}  // namespace mailward::store
