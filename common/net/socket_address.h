// An IP literal with a port, as daemons' listen settings and DNS server lists write it
// ("192.0.2.1:10030", "[2001:db8::1]:10030"), and its conversion to the socket API's sockaddr.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/net/ip_address.h"

namespace mailward::net {

struct SocketAddress {
  IpAddress ip;
  std::uint16_t port = 0;
};

// "IPv4:PORT" or "[IPv6]:PORT", PORT 0..65535 in decimal. No names: a listen address is never
// resolved. nullopt for anything else (a bare IPv6 without brackets is ambiguous and refused).
std::optional<SocketAddress> parse_socket_address(std::string_view text);

// Fills `storage` (zeroed first) with ip and port in network order; returns the length to pass
// to bind()/connect() (sizeof sockaddr_in or sockaddr_in6).
socklen_t to_sockaddr(const IpAddress& ip, std::uint16_t port, sockaddr_storage& storage) noexcept;

}  // namespace mailward::net
