// Builds what a process needs to check mail from Settings: the DNS resolver (stub + cache), the
// Public Suffix List, the signing keys and the Engine. Shared by mailward-milter and the `mailward`
// command so that `mailward verify` takes exactly the milter's code path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/dns/caching_resolver.h"
#include "common/dns/stub_resolver.h"
#include "milters/milter/engine.h"
#include "milters/milter/settings.h"

namespace mailward::milter {

class Runtime {
 public:
  // Loads keys and the PSL; throws std::runtime_error (naming the file) when one cannot be used.
  explicit Runtime(Settings settings);
  Engine& engine() noexcept { return *engine_; }
  dns::Resolver& resolver() noexcept { return *cache_; }

 private:
  std::unique_ptr<dns::StubResolver> stub_;
  std::unique_ptr<dns::CachingResolver> cache_;
  std::unique_ptr<Engine> engine_;
};

// Settings for DNS servers given on a command line ("HOST[:PORT]"); throws on a bad address.
dns::StubSettings stub_settings(const Settings& settings);
std::vector<dkim::SigningKey> load_signing_keys(const Settings& settings);
dmarc::PublicSuffixList load_psl(const Settings& settings);
// A uniform draw in [0, 100) for DMARC pct sampling.
unsigned random_percent();

}  // namespace mailward::milter
