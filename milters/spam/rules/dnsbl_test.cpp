// Tests for DNS blocklist lookups (dnsbl.h) against a StaticResolver.
#include "milters/spam/rules/dnsbl.h"

#include <gtest/gtest.h>

#include "common/dns/static_resolver.h"

namespace mailward::spam {
namespace {

net::IpAddress ip(const char* s) { return *net::IpAddress::parse(s); }

TEST(Dnsbl, QueryNames) {
  EXPECT_EQ(dnsbl_query_name(ip("192.0.2.99"), "zen.example"), "99.2.0.192.zen.example");
  EXPECT_EQ(dnsbl_query_name(ip("::ffff:192.0.2.99"), "zen.example"), "99.2.0.192.zen.example");
  EXPECT_EQ(dnsbl_query_name(ip("2001:db8::1"), "bl.example"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example");
}

TEST(Dnsbl, ZoneListParsing) {
  std::vector<DnsblZone> z;
  std::string problem;
  ASSERT_TRUE(parse_zone_list("zen.example:3.0, bl.example=127.0.0.2/127.0.0.3:4.5 plain.example.", "RCVD_IN_", z,
                              problem))
      << problem;
  ASSERT_EQ(z.size(), 3u);
  EXPECT_EQ(z[0].zone, "zen.example");
  EXPECT_EQ(z[0].rule_name, "RCVD_IN_ZEN_EXAMPLE");
  EXPECT_DOUBLE_EQ(z[0].score, 3.0);
  EXPECT_EQ(z[1].codes.size(), 2u);
  EXPECT_EQ(z[1].rule_name, "RCVD_IN_BL_EXAMPLE");
  EXPECT_DOUBLE_EQ(z[1].score, 4.5);
  EXPECT_EQ(z[2].zone, "plain.example");
  EXPECT_DOUBLE_EQ(z[2].score, 2.0);
  z.clear();
  ASSERT_TRUE(parse_zone_list("sbl.example=127.0.0.2:1", "RCVD_IN_", z, problem));
  EXPECT_EQ(z[0].rule_name, "RCVD_IN_SBL_EXAMPLE_2");

  const std::pair<const char*, const char*> bad[] = {
      {"zen.example:x", "'zen.example:x': 'x' is not a score"},
      {"zen.example=10.0.0.1", "'zen.example=10.0.0.1': '10.0.0.1' is not a 127.x.y.z code"},
      {"bad..zone", "'bad..zone': 'bad..zone' is not a DNS zone name"},
      {"zen.example:", "'zen.example:': '' is not a score"},
  };
  for (const auto& [value, message] : bad) {
    std::vector<DnsblZone> out;
    EXPECT_FALSE(parse_zone_list(value, "RCVD_IN_", out, problem)) << value;
    EXPECT_EQ(problem, message);
  }
}

TEST(Dnsbl, PrivateAddresses) {
  for (const char* a : {"127.0.0.30", "10.1.2.3", "192.168.1.1", "172.16.0.1", "::1", "fd00::1", "::ffff:10.0.0.1"})
    EXPECT_TRUE(is_private_address(ip(a))) << a;
  for (const char* a : {"192.0.2.1", "8.8.8.8", "2001:db8::1", "172.32.0.1"})
    EXPECT_FALSE(is_private_address(ip(a))) << a;
}

struct LookupCase {
  const char* what;
  const char* client;
  std::vector<std::string> hosts;
  bool check_loopback;
  std::vector<std::string> expected_hits;
  std::size_t expected_problems;
};

TEST(Dnsbl, Lookups) {
  dns::StaticResolver r;
  r.add_address("99.2.0.192.zen.example", ip("127.0.0.2"));
  r.add_address("99.2.0.192.codes.example", ip("127.0.0.4"));
  r.add_address("30.0.0.127.zen.example", ip("127.0.0.10"));
  r.add_address("98.2.0.192.zen.example", ip("127.255.255.254"));  // refused: not a listing
  r.add_address("97.2.0.192.zen.example", ip("192.0.2.1"));        // hijacked answer
  r.add_failure("96.2.0.192.zen.example", dns::Status::timeout);
  r.add_address("spam.example.uribl.example", ip("127.0.0.2"));
  r.add_address("1.113.51.198.uribl.example", ip("127.0.0.2"));
  DnsblSettings s;
  std::string problem;
  ASSERT_TRUE(parse_zone_list("zen.example:3, codes.example=127.0.0.3:1 codes.example=127.0.0.4:2", "RCVD_IN_",
                              s.client_zones, problem));
  ASSERT_TRUE(parse_zone_list("uribl.example:2.5", "URIBL_", s.uri_zones, problem));
  const LookupCase cases[] = {
      {"listed, code filter picks the 127.0.0.4 entry", "192.0.2.99", {}, false,
       {"RCVD_IN_ZEN_EXAMPLE", "RCVD_IN_CODES_EXAMPLE_4"}, 0},
      {"not listed", "192.0.2.1", {}, false, {}, 0},
      {"loopback skipped", "127.0.0.30", {}, false, {}, 0},
      {"loopback with check_loopback", "127.0.0.30", {}, true, {"RCVD_IN_ZEN_EXAMPLE"}, 0},
      {"refusal code", "192.0.2.98", {}, false, {}, 1},
      {"answer outside 127/8", "192.0.2.97", {}, false, {}, 1},
      {"timeout is not a hit", "192.0.2.96", {}, false, {}, 1},
      {"uri hosts: listed domain (via mapper), IP literal, unlisted, dedup", nullptr,
       {"www.spam.example", "spam.example", "[198.51.113.1]", "good.example"}, false, {"URIBL_URIBL_EXAMPLE"}, 0},
  };
  DomainMapper mapper = [](std::string_view h) {
    std::string host(h);
    std::size_t dot = host.rfind('.', host.rfind('.') - 1);
    return dot == std::string::npos ? host : host.substr(dot + 1);
  };
  for (const LookupCase& c : cases) {
    DnsblSettings cs = s;
    cs.check_loopback = c.check_loopback;
    std::optional<net::IpAddress> client;
    if (c.client) client = ip(c.client);
    DnsblOutcome out = check_dnsbl(r, cs, client, c.hosts, mapper);
    std::vector<std::string> names;
    for (const RuleHit& h : out.hits) names.push_back(h.name);
    EXPECT_EQ(names, c.expected_hits) << c.what;
    EXPECT_EQ(out.problems.size(), c.expected_problems) << c.what;
  }
  DnsblOutcome listed = check_dnsbl(r, s, ip("192.0.2.99"), {}, mapper);
  ASSERT_FALSE(listed.hits.empty());
  EXPECT_EQ(listed.hits[0].description, "client 192.0.2.99 listed in zen.example (127.0.0.2)");
  EXPECT_DOUBLE_EQ(listed.hits[0].score, 3.0);
  EXPECT_EQ(listed.lookups, 2u);  // zen + codes (two codes entries share one lookup)
  DnsblOutcome uris = check_dnsbl(r, s, std::nullopt, {"www.spam.example", "[198.51.113.1]"}, mapper);
  EXPECT_EQ(uris.hits.size(), 1u);  // one rule per zone, however many hosts are listed
  EXPECT_EQ(uris.lookups, 2u);
}

}  // namespace
}  // namespace mailward::spam
