// Where the Bayes model lives, decided once for the milter and for `mailward spam`: Redis when the
// [store] backend is redis (several MX hosts share one model), otherwise an embedded LMDB file of
// its own at [spam] bayes_path, opened durable (every commit synced). The model is never kept in
// the rate-limit store, whose fast mode may discard the file after a crash (common/store/README.md).
#pragma once

#include <memory>
#include <string>

#include "common/config/config.h"
#include "common/store/store.h"

namespace mailward::spam::bayes {

inline constexpr const char* kDefaultBayesPath = "/var/lib/mailward/bayes.mdb";

// An embedded, durable store for the model at `path` (created 0600 if missing). Throws StoreError.
std::unique_ptr<store::Store> open_bayes_file(const std::string& path);

// As configured (see above). Throws config::ConfigError for a bad value, store::StoreError when the
// store cannot be opened.
std::unique_ptr<store::Store> open_bayes_store(const config::Config& config);

// [spam] bayes_enabled (default yes): whether the milter consults the classifier at all.
bool bayes_enabled(const config::Config& config);

}  // namespace mailward::spam::bayes
