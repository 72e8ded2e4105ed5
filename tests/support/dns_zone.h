// Test helper: a tiny authoritative DNS zone served on 127.0.0.1 by an in-process FakeDnsServer
// (common/dns/test_server.h), for tests that run the real `mailward` binary with --dns-server.
// Records are kept by (name, type); a query for a name with no record of that type is answered
// NOERROR with no answer when the name has other records, NXDOMAIN when it has none.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/dns/resolver.h"
#include "common/dns/test_server.h"

namespace mailward::test_support {

class DnsZone {
 public:
  DnsZone();
  DnsZone(const DnsZone&) = delete;
  DnsZone& operator=(const DnsZone&) = delete;

  // Adds a TXT record whose text is `value`, split into character-strings of at most 255 bytes
  // (RFC 1035 §3.3.14).
  void txt(const std::string& name, const std::string& value);
  // Adds the record of one zone-file line `NAME. IN TYPE VALUE` (MX, A, AAAA, PTR, and TXT with
  // its quoted character-strings kept as they are). False for a line it does not understand.
  bool add_line(const std::string& line);
  // Removes every record of `type` at `name`.
  void remove(const std::string& name, dns::RecordType type);
  // "127.0.0.1:PORT", for --dns-server.
  std::string server() const;

 private:
  void add(const std::string& name, dns::RecordType type, dns::testing::Bytes rdata);
  std::vector<dns::testing::Bytes> answer(const dns::testing::Query& q);

  std::mutex mutex_;
  std::map<std::pair<std::string, std::uint16_t>, std::vector<dns::testing::Bytes>> records_;
  dns::testing::FakeDnsServer server_;  // last: its thread starts after the records exist
};

}  // namespace mailward::test_support
