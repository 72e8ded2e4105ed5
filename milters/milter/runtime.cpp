#include "milters/milter/runtime.h"

#include <ctime>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace mailward::milter {

dns::StubSettings stub_settings(const Settings& settings) {
  dns::StubSettings s;
  for (const std::string& text : settings.dns_servers) {
    auto server = dns::ServerAddress::parse(text);
    if (!server) throw std::runtime_error("bad DNS server address '" + text + "'");
    s.servers.push_back(*server);
  }
  s.timeout = settings.dns_timeout;
  s.attempts = settings.dns_attempts;
  return s;
}

std::vector<dkim::SigningKey> load_signing_keys(const Settings& settings) {
  std::vector<dkim::SigningKey> keys;
  for (const SigningKeySpec& k : settings.signing_keys) {
    try {
      keys.push_back(dkim::SigningKey::load_pem_file(k.domain, k.selector, k.key_file));
    } catch (const std::exception& e) {
      throw std::runtime_error(k.where + ": [dkim-sign] key: " + e.what());
    }
  }
  return keys;
}

dmarc::PublicSuffixList load_psl(const Settings& settings) {
  if (!settings.psl_file.empty() && std::filesystem::exists(settings.psl_file))
    return dmarc::PublicSuffixList::load_file(settings.psl_file);
  return dmarc::PublicSuffixList::system_default();
}

unsigned random_percent() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return std::uniform_int_distribution<unsigned>(0, 99)(generator);
}

Runtime::Runtime(Settings settings) {
  stub_ = std::make_unique<dns::StubResolver>(stub_settings(settings));
  dns::CacheSettings cache;
  cache.max_entries = settings.dns_cache_entries;
  cache_ = std::make_unique<dns::CachingResolver>(*stub_, cache);
  auto keys = load_signing_keys(settings);
  auto psl = load_psl(settings);
  engine_ = std::make_unique<Engine>(
      std::move(settings), *cache_, std::move(psl), std::move(keys),
      [] { return static_cast<std::int64_t>(std::time(nullptr)); }, random_percent);
}

}  // namespace mailward::milter
