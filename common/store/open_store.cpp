// open_store: the store chosen and set up by a configuration section (README.md in this directory
// documents the keys). Unknown keys are errors, as everywhere in mailward's configuration.
#include <set>
#include <string>

#include "common/config/config.h"
#include "common/store/store.h"

namespace mailward::store {

StoreChoice read_store_choice(const config::Config& config, std::string_view section) {
  config.require_known_keys(section, {"backend", "path", "map_size_mb", "redis_host", "redis_port",
                                      "redis_database", "redis_password_file", "redis_timeout",
                                      "key_prefix", "fail_mode", "durable"});
  // Validated here so a typo fails at start-up; read by the callers through fail_mode().
  (void)config.get_choice(section, "fail_mode", "allow", {"allow", "refuse"});
  StoreChoice choice;
  const std::string backend =
      config.get_choice(section, "backend", "embedded", {"embedded", "redis", "memory"});
  if (backend == "memory") {
    choice.backend = StoreChoice::Backend::memory;
  } else if (backend == "embedded") {
    choice.backend = StoreChoice::Backend::embedded;
    LmdbSettings& s = choice.lmdb;
    s.path = config.get_string(section, "path", "/var/lib/mailward/state.mdb");
    if (s.path.empty() || s.path[0] != '/') {
      config::Config::fail(*config.find(section, "path"), "must be an absolute path");
    }
    s.map_size = static_cast<std::size_t>(config.get_int(section, "map_size_mb", 256, 1, 1 << 20)) *
                 1024u * 1024u;
    s.durable = config.get_bool(section, "durable", false);
  } else {
    choice.backend = StoreChoice::Backend::redis;
    RedisSettings& s = choice.redis;
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
  }
  return choice;
}

std::string StoreChoice::describe() const {
  switch (backend) {
    case Backend::memory: return "memory";
    case Backend::embedded: return "lmdb:" + lmdb.path;
    case Backend::redis:
      return "redis:" + (redis.host.starts_with('/') ? redis.host
                                                     : redis.host + ":" + std::to_string(redis.port));
  }
  return "?";
}

std::unique_ptr<Store> open_store(const StoreChoice& choice) {
  switch (choice.backend) {
    case StoreChoice::Backend::memory: return open_memory_store();
    case StoreChoice::Backend::embedded: return open_lmdb_store(choice.lmdb);
    case StoreChoice::Backend::redis: return open_redis_store(choice.redis);
  }
  return nullptr;
}

std::unique_ptr<Store> open_store(const config::Config& config, std::string_view section) {
  return open_store(read_store_choice(config, section));
}

FailMode fail_mode(const config::Config& config, std::string_view section) {
  return config.get_choice(section, "fail_mode", "allow", {"allow", "refuse"}) == "refuse"
             ? FailMode::refuse
             : FailMode::allow;
}

}  // namespace mailward::store
