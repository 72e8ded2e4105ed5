// dns::StubResolver: asks recursive servers (resolv.conf's, or configured) over UDP and TCP.
//
// One lookup: a random 16-bit id (getrandom(2)), a fresh connected UDP socket per attempt (the kernel
// picks a random source port: RFC 5452 §9.2), EDNS0 advertising 1232 bytes (RFC 6891), the reply
// validated (id, QR, question echoed) with mismatched datagrams ignored; a reply with TC set is asked
// again over TCP (RFC 7766 §5) from the same server, with a timeout of its own. Attempts go s1, s2, ..., s1, s2, ... `attempts`
// rounds, each waiting at most `timeout`. A server that answered SERVFAIL/REFUSED/malformed is not
// asked again in later rounds; ICMP "port unreachable" moves on to the next server at once.
// Outcome: see resolver.h; when no server answered, status timeout with an error naming the servers
// and the name. Thread-safe: the object is immutable after construction, each lookup owns its sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/dns/resolver.h"
#include "common/net/ip_address.h"

namespace mailward::dns {

struct ServerAddress {
  net::IpAddress ip;
  std::uint16_t port = 53;

  // "127.0.0.1", "127.0.0.1:5353", "::1", "[::1]", "[::1]:5353"; port 1..65535.
  static std::optional<ServerAddress> parse(std::string_view text);
  // "127.0.0.1:53", "[::1]:53" (always with the port; parse() reads it back).
  std::string to_string() const;
  friend bool operator==(const ServerAddress&, const ServerAddress&) = default;
};

// The `nameserver` lines of resolv.conf(5), in order (at most 3 are used by glibc; all are returned
// here). Addresses with a zone index (fe80::1%eth0) are skipped. When the file is missing or names
// no server, resolv.conf(5)'s default: the server on the local machine, 127.0.0.1:53.
std::vector<ServerAddress> servers_from_resolv_conf(const std::string& path = "/etc/resolv.conf");

struct StubSettings {
  std::vector<ServerAddress> servers;       // empty: servers_from_resolv_conf()
  std::chrono::milliseconds timeout{2000};  // per attempt
  unsigned attempts = 2;                    // tries per server, servers rotated
};

class StubResolver final : public Resolver {
 public:
  explicit StubResolver(StubSettings settings);
  Answer lookup(std::string_view name, RecordType type) override;
  const StubSettings& settings() const noexcept { return settings_; }

 private:
  StubSettings settings_;
};

}  // namespace mailward::dns
