// Where a user-supplied URL (webhook :url) may point: https only, a host on the target's
// allowlist, and every resolved address public. The address rule is pure (table-tested); the URL
// check resolves through an injected function so tests need no DNS, and returns the addresses it
// approved so the sender pins exactly those (CURLOPT_RESOLVE) and cannot be re-pointed between
// check and connect (DNS rebinding).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/ip_address.h"
#include "common/notify/targets.h"

namespace mailward::notifyd {

enum class AddressClass {
  public_address,
  unspecified,  // 0.0.0.0/8, ::
  loopback,     // 127/8, ::1
  private_net,  // RFC 1918 10/8, 172.16/12, 192.168/16; RFC 4193 fc00::/7
  link_local,   // 169.254/16, fe80::/10
  cgnat,        // RFC 6598 100.64/10
  multicast,    // 224/4, ff00::/8
  reserved,     // 240/4 incl. broadcast, 192.0.0.0/24, 198.18/15 benchmarking
  metadata,     // 169.254.169.254, fd00:ec2::254 (cloud instance metadata)
};
std::string_view to_string(AddressClass c);

// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
AddressClass classify_address(const net::IpAddress& address);

struct UrlCheck {
  bool ok = false;
  std::string host;                        // lowercase
  unsigned port = 0;
  std::vector<net::IpAddress> addresses;   // approved; pin these
  std::string error;                       // why not, for the log and the dead letter
};

// Returns every A/AAAA address for a host name (empty: does not resolve). An IP literal is not
// passed to it.
using HostResolver = std::function<std::vector<net::IpAddress>(const std::string& host)>;

// https only, host on target.url_hosts (an IP literal never is, it has no name to allow), and every
// resolved address public: one bad address refuses the URL (we interpret "the resolved address
// must not be ..." as all of them, since curl could pick any).
UrlCheck check_user_url(std::string_view url, const notify::Target& target, const HostResolver& resolve);

// getaddrinfo (honours /etc/hosts, so a network namespace's hosts file applies).
std::vector<net::IpAddress> system_resolve(const std::string& host);

}  // namespace mailward::notifyd
