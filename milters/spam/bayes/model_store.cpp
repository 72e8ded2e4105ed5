// Opening the store of the Bayes model (model_store.h).
#include "milters/spam/bayes/model_store.h"

namespace mailward::spam::bayes {

std::unique_ptr<store::Store> open_bayes_file(const std::string& path) {
  store::LmdbSettings s;
  s.path = path;
  s.map_size = std::size_t{1} << 30;  // address space only; the file grows as tokens are learned
  s.durable = true;
  return store::open_lmdb_store(s);
}

std::unique_ptr<store::Store> open_bayes_store(const config::Config& config) {
  if (config.get_choice("store", "backend", "embedded", {"embedded", "redis", "memory"}) == "redis")
    return store::open_store(config, "store");
  return open_bayes_file(config.get_string("spam", "bayes_path", kDefaultBayesPath));
}

bool bayes_enabled(const config::Config& config) { return config.get_bool("spam", "bayes_enabled", true); }

}  // namespace mailward::spam::bayes
