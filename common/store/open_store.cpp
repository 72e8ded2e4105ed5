// open_store: the store chosen and set up by a configuration section (README.md in this directory
// documents the keys). Unknown keys are errors, as everywhere in mailward's configuration.
#include <set>

#include "common/config/config.h"
#include "common/store/store.h"

namespace mailward::store {

std::unique_ptr<Store> open_store(const config::Config& config, std::string_view section) {
  config.require_known_keys(section, {"backend", "path", "map_size_mb", "redis_host", "redis_port",
                                      "redis_database", "redis_password_file", "redis_timeout",
                                      "key_prefix", "fail_mode", "durable"});
  // Validated here so a typo fails at start-up; read by the callers through fail_mode().
  (void)config.get_choice(section, "fail_mode", "allow", {"allow", "refuse"});
  const std::string backend =
      config.get_choice(section, "backend", "embedded", {"embedded", "redis", "memory"});
  if (backend == "memory") return open_memory_store();
  if (backend == "embedded") {
    LmdbSettings s;
    s.path = config.get_string(section, "path", "/var/lib/mailward/state.mdb");
    if (s.path.empty() || s.path[0] != '/') {
      config::Config::fail(*config.find(section, "path"), "must be an absolute path");
    }
    s.map_size = static_cast<std::size_t>(config.get_int(section, "map_size_mb", 256, 1, 1 << 20)) *
                 1024u * 1024u;
    s.durable = config.get_bool(section, "durable", false);
    return open_lmdb_store(s);
  }
  RedisSettings s;
  s.host = config.get_string(section, "redis_host", s.host);
  if (s.host.empty()) config::Config::fail(*config.find(section, "redis_host"), "empty host");
  s.port = static_cast<int>(config.get_int(section, "redis_port", s.port, 1, 65535));
  s.database = static_cast<int>(config.get_int(section, "redis_database", 0, 0, 1 << 20));
  s.password_file = config.get_string(section, "redis_password_file", "");
  s.key_prefix = config.get_string(section, "key_prefix", s.key_prefix);
  s.timeout = config.get_duration(section, "redis_timeout", s.timeout);
  if (s.timeout.count() <= 0 || s.timeout > std::chrono::seconds(10)) {
    config::Config::fail(*config.find(section, "redis_timeout"), "must be between 1ms and 10s");
  }
  return open_redis_store(s);
}

FailMode fail_mode(const config::Config& config, std::string_view section) {
  return config.get_choice(section, "fail_mode", "allow", {"allow", "refuse"}) == "refuse"
             ? FailMode::refuse
             : FailMode::allow;
}

}  // namespace mailward::store
