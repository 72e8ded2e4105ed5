// dns::StaticResolver: an in-memory Resolver for tests and tools, built from plain maps.
// Follows CNAME records like a recursive server would (at most 8 links; a loop is a server failure).
// Thread-safe for lookups once populated; counts the lookups it answered, for limit tests.
#pragma once

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "common/dns/resolver.h"

namespace mailward::dns {

class StaticResolver final : public Resolver {
 public:
  void add_txt(std::string_view name, std::string text);
  void add_address(std::string_view name, const net::IpAddress& address);  // A or AAAA by family
  void add_mx(std::string_view name, std::uint16_t preference, std::string_view exchange);
  void add_ptr(std::string_view name, std::string_view target);
  void add_cname(std::string_view name, std::string_view target);
  // Makes `name` exist (so other types answer NODATA, not NXDOMAIN) without giving it records.
  void add_empty(std::string_view name);
  // Every lookup of `name` (any type) fails this way.
  void add_failure(std::string_view name, Status status);
  void add_failure(std::string_view name, RecordType type, Status status);

  Answer lookup(std::string_view name, RecordType type) override;
  std::size_t lookup_count() const noexcept { return lookups_.load(); }

 private:
  using Key = std::pair<std::string, RecordType>;
  Answer& entry(std::string_view name, RecordType type);

  std::map<Key, Answer> records_;
  std::set<std::string> existing_names_;
  std::map<std::string, Status> name_failures_;
  std::map<Key, Status> type_failures_;
  std::atomic<std::size_t> lookups_{0};
};

}  // namespace mailward::dns
