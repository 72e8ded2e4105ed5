// Parsing "IP:PORT" / "[IPv6]:PORT" and filling a sockaddr_storage (see socket_address.h).
#include "common/net/socket_address.h"

#include <netinet/in.h>

#include <cstring>

#include "common/util/text.h"

namespace mailward::net {

std::optional<SocketAddress> parse_socket_address(std::string_view text) {
  std::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  auto ip = IpAddress::parse(host);
  unsigned long long port = 0;
  if (!ip || !text::parse_uint(port_text, 65535, port)) return std::nullopt;
  // Without brackets only IPv4: "2001:db8::1:53" would otherwise read as host 2001:db8::1.
  if (!ip->is_v4() && text.front() != '[') return std::nullopt;
  return SocketAddress{*ip, static_cast<std::uint16_t>(port)};
}

socklen_t to_sockaddr(const IpAddress& ip, std::uint16_t port, sockaddr_storage& storage) noexcept {
  std::memset(&storage, 0, sizeof storage);
  if (ip.is_v4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, ip.bytes(), 4);
    std::memcpy(&storage, &sin, sizeof sin);
    return sizeof sin;
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  std::memcpy(&sin6.sin6_addr, ip.bytes(), 16);
  std::memcpy(&storage, &sin6, sizeof sin6);
  return sizeof sin6;
}

}  // namespace mailward::net
