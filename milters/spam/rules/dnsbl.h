// DNS blocklists (RFC 5782): the client address and the hosts of URLs in the message, looked up under
// configured zones through dns::Resolver.
//
// A client address is listed in ZONE when <reversed address>.ZONE has an A record (RFC 5782 §2.1:
// IPv4 octets reversed; §2.4: IPv6 as 32 reversed nibbles). A URL host is looked up as
// <registrable domain>.ZONE (RFC 5782 §2.3 "domain name" lists, the SURBL/URIBL convention), or
// as a reversed address for an IP literal. Answers outside 127.0.0.0/8 are not listings (a
// hijacked/wildcarded resolver), nor are 127.255.255.0/24 (the "query refused" codes lists such as
// Spamhaus return to public resolvers); both are reported as problems. Timeouts and server failures
// are never hits: they are reported as problems for the log.
//
// Zone list syntax (config `client_zones`, `uri_zones`): comma/space separated entries
//   ZONE[=CODE[/CODE...]][:SCORE]      e.g.  zen.example:3.0, bl.example=127.0.0.2/127.0.0.3:4.5
// Without CODEs any 127.0.0.0/8 answer lists; with CODEs only those. SCORE defaults to 2.0.
// Rule names: RCVD_IN_<ZONE> and URIBL_<ZONE> (letters uppercased, other characters '_'), with
// "_<last octet>" appended for entries limited to one code.
//
// Private, loopback and link-local client addresses are not looked up unless `check_loopback` is on
// (a test setting: the integration stack's clients are 127.0.0.x). All lookups of one message are
// issued concurrently and joined, so the total time is bounded by one resolver timeout.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/dns/resolver.h"
#include "common/net/ip_address.h"
#include "milters/spam/rules/rules.h"

namespace mailward::spam {

struct DnsblZone {
  std::string zone;                  // normalised, no trailing dot
  std::vector<net::IpAddress> codes; // empty: any 127.0.0.0/8 answer
  double score = 2.0;
  std::string rule_name;
};

struct DnsblSettings {
  std::vector<DnsblZone> client_zones;
  std::vector<DnsblZone> uri_zones;
  bool check_loopback = false;       // test setting: also look up loopback/private client addresses
  std::size_t max_uri_hosts = 10;    // distinct domains looked up per message
};

// Parses a zone list; false and `problem` on a bad entry. `prefix` is "RCVD_IN_" or "URIBL_".
bool parse_zone_list(std::string_view value, std::string_view prefix, std::vector<DnsblZone>& out,
                     std::string& problem);

// The name looked up for an address under a zone (RFC 5782 §2.1, §2.4), e.g. "2.0.0.127.zen.example".
std::string dnsbl_query_name(const net::IpAddress& address, std::string_view zone);

// True for loopback, RFC 1918, CGNAT, link-local, ULA and unspecified addresses.
bool is_private_address(const net::IpAddress& address);

struct DnsblOutcome {
  std::vector<RuleHit> hits;
  std::vector<std::string> problems;  // timeouts, refused queries, odd answers: for the log
  std::size_t lookups = 0;
};

// Maps a host name to the domain to look up (registrable domain); identity when not given.
using DomainMapper = std::function<std::string(std::string_view host)>;

DnsblOutcome check_dnsbl(dns::Resolver& resolver, const DnsblSettings& settings,
                         const std::optional<net::IpAddress>& client,
                         const std::vector<std::string>& url_hosts, const DomainMapper& mapper = {});

}  // namespace mailward::spam
