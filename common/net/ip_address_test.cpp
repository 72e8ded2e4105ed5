#include "common/net/ip_address.h"

#include <gtest/gtest.h>

using mailward::net::IpAddress;
using mailward::net::Network;

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::parse("192.0.2.10");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->to_string(), "192.0.2.10");
  auto v6 = IpAddress::parse("2001:DB8::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::parse("192.0.2"));
  EXPECT_FALSE(IpAddress::parse("1.2.3.4.5"));
  EXPECT_FALSE(IpAddress::parse("hello"));
  EXPECT_FALSE(IpAddress::parse(""));
}

TEST(IpAddress, MappedV4IsUnmapped) {
  auto a = IpAddress::parse("::ffff:192.0.2.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4_mapped());
  EXPECT_EQ(a->unmapped().to_string(), "192.0.2.1");
  EXPECT_TRUE(Network::parse("192.0.2.0/24")->contains(*a));
}

TEST(IpAddress, ReverseNamesAndNibbles) {
  EXPECT_EQ(IpAddress::parse("192.0.2.1")->reverse_name(), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(IpAddress::parse("2001:db8::cb01")->reverse_name(),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(IpAddress::parse("2001:db8::cb01")->to_dotted_nibbles(),
            "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1");
}

TEST(Network, PrefixMatching) {
  auto n = Network::parse("10.1.0.0/16");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->contains(*IpAddress::parse("10.1.200.3")));
  EXPECT_FALSE(n->contains(*IpAddress::parse("10.2.0.1")));
  EXPECT_TRUE(Network::parse("0.0.0.0/0")->contains(*IpAddress::parse("8.8.8.8")));
  EXPECT_TRUE(Network::parse("2001:db8::/33")->contains(*IpAddress::parse("2001:db8:7fff::1")));
  EXPECT_FALSE(Network::parse("2001:db8::/33")->contains(*IpAddress::parse("2001:db8:8000::1")));
  EXPECT_FALSE(Network::parse("10.0.0.0/33"));
  EXPECT_FALSE(Network::parse("10.0.0.0/"));
}
