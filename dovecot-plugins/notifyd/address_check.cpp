// User URL checks for mailward-notifyd: address classes (RFC 6890 special-purpose registries,
// RFC 1918, RFC 6598, RFC 4193, RFC 4291) and the allowlist + resolution check.
#include "dovecot-plugins/notifyd/address_check.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace mailward::notifyd {

namespace {

struct Block {
  const char* network;
  AddressClass cls;
};

// Most specific first: metadata before link-local, ULA metadata before fc00::/7.
const std::array<Block, 19> kBlocks = {{
    {"169.254.169.254/32", AddressClass::metadata},
    {"fd00:ec2::254/128", AddressClass::metadata},
    {"0.0.0.0/8", AddressClass::unspecified},
    {"::/128", AddressClass::unspecified},
    {"127.0.0.0/8", AddressClass::loopback},
    {"::1/128", AddressClass::loopback},
    {"10.0.0.0/8", AddressClass::private_net},
    {"172.16.0.0/12", AddressClass::private_net},
    {"192.168.0.0/16", AddressClass::private_net},
    {"fc00::/7", AddressClass::private_net},
    {"169.254.0.0/16", AddressClass::link_local},
    {"fe80::/10", AddressClass::link_local},
    {"100.64.0.0/10", AddressClass::cgnat},
    {"224.0.0.0/4", AddressClass::multicast},
    {"ff00::/8", AddressClass::multicast},
    {"240.0.0.0/4", AddressClass::reserved},
    {"192.0.0.0/24", AddressClass::reserved},
    {"198.18.0.0/15", AddressClass::reserved},
    {"64:ff9b::/96", AddressClass::reserved},  // NAT64 could reach any IPv4 address, private ones too
}};

const std::vector<std::pair<net::Network, AddressClass>>& blocks() {
  static const std::vector<std::pair<net::Network, AddressClass>> parsed = [] {
    std::vector<std::pair<net::Network, AddressClass>> out;
    for (const Block& b : kBlocks) out.emplace_back(*net::Network::parse(b.network), b.cls);
    return out;
  }();
  return parsed;
}

}  // namespace

std::string_view to_string(AddressClass c) {
  switch (c) {
    case AddressClass::public_address: return "public";
    case AddressClass::unspecified: return "unspecified";
    case AddressClass::loopback: return "loopback";
    case AddressClass::private_net: return "private";
    case AddressClass::link_local: return "link-local";
    case AddressClass::cgnat: return "CGNAT";
    case AddressClass::multicast: return "multicast";
    case AddressClass::reserved: return "reserved";
    case AddressClass::metadata: return "metadata";
  }
  return "reserved";
}

AddressClass classify_address(const net::IpAddress& address) {
  net::IpAddress a = address.unmapped();
  for (const auto& [network, cls] : blocks()) {
    if (network.base.family() == a.family() && a.in_prefix(network.base, network.prefix_bits)) return cls;
  }
  return AddressClass::public_address;
}

UrlCheck check_user_url(std::string_view url, const notify::Target& target, const HostResolver& resolve) {
  UrlCheck check;
  notify::UrlParts parts;
  if (!notify::parse_url(url, parts)) {
    check.error = "user URL is not a valid URL";
    return check;
  }
  check.host = parts.host;
  check.port = parts.port;
  if (parts.scheme != "https") {
    check.error = "user URL is not https";
    return check;
  }
  if (net::IpAddress::parse(parts.host)) {
    check.error = "user URL host " + parts.host + " is an address, not an allowed name";
    return check;
  }
  if (!notify::host_allowed(parts.host, target.url_hosts)) {
    check.error = "user URL host " + parts.host + " is not on the target's url_hosts";
    return check;
  }
  std::vector<net::IpAddress> addresses = resolve(parts.host);
  if (addresses.empty()) {
    check.error = "user URL host " + parts.host + " does not resolve";
    return check;
  }
  for (const net::IpAddress& a : addresses) {
    AddressClass c = classify_address(a);
    if (c != AddressClass::public_address) {
      check.error = "user URL host " + parts.host + " resolves to " + std::string(to_string(c)) +
                    " address " + a.to_string();
      return check;
    }
  }
  check.ok = true;
  check.addresses = std::move(addresses);
  return check;
}

std::vector<net::IpAddress> system_resolve(const std::string& host) {
  std::vector<net::IpAddress> out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0) return out;
  for (addrinfo* ai = result; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      sockaddr_in sin{};
      std::memcpy(&sin, ai->ai_addr, sizeof sin);
      out.push_back(net::IpAddress::v4(ntohl(sin.sin_addr.s_addr)));
    } else if (ai->ai_family == AF_INET6) {
      sockaddr_in6 sin6{};
      std::memcpy(&sin6, ai->ai_addr, sizeof sin6);
      std::array<std::uint8_t, 16> bytes{};
      std::memcpy(bytes.data(), &sin6.sin6_addr, 16);
      out.push_back(net::IpAddress::v6(bytes));
    }
  }
  ::freeaddrinfo(result);
  std::vector<net::IpAddress> unique;
  for (const auto& a : out) {
    bool seen = false;
    for (const auto& u : unique) seen = seen || u == a;
    if (!seen) unique.push_back(a);
  }
  return unique;
}

}  // namespace mailward::notifyd
