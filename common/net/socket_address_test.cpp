// parse_socket_address and to_sockaddr: the accepted forms, the refused ones, and the bytes the
// socket API gets.
#include "common/net/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include <gtest/gtest.h>

namespace mailward::net {
namespace {

TEST(SocketAddress, ParsesIpv4AndBracketedIpv6) {
  struct Case {
    const char* text;
    const char* ip;
    std::uint16_t port;
  } cases[] = {
      {"127.0.0.1:10030", "127.0.0.1", 10030},
      {"0.0.0.0:0", "0.0.0.0", 0},
      {"[::1]:53", "::1", 53},
      {"[2001:db8::1]:65535", "2001:db8::1", 65535},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto a = parse_socket_address(c.text);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->ip, *IpAddress::parse(c.ip));
    EXPECT_EQ(a->port, c.port);
  }
}

TEST(SocketAddress, RefusesNamesMissingPortsAndAmbiguousIpv6) {
  for (const char* text : {"", "127.0.0.1", "localhost:25", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                           "127.0.0.1:2x", "[::1", "[::1]", "[::1]:", "[127.0.0.1", "2001:db8::1:53", "::1:53",
                           "[]:53", ":53"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_socket_address(text).has_value());
  }
}

TEST(SocketAddress, FillsSockaddrInNetworkOrder) {
  sockaddr_storage ss;
  std::memset(&ss, 0xAB, sizeof ss);
  socklen_t len = to_sockaddr(*IpAddress::parse("192.0.2.7"), 2525, ss);
  ASSERT_EQ(len, sizeof(sockaddr_in));
  sockaddr_in sin;
  std::memcpy(&sin, &ss, sizeof sin);
  EXPECT_EQ(sin.sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin.sin_port), 2525);
  char text[INET6_ADDRSTRLEN];
  ASSERT_NE(inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text), nullptr);
  EXPECT_STREQ(text, "192.0.2.7");

  len = to_sockaddr(*IpAddress::parse("2001:db8::5"), 53, ss);
  ASSERT_EQ(len, sizeof(sockaddr_in6));
  sockaddr_in6 sin6;
  std::memcpy(&sin6, &ss, sizeof sin6);
  EXPECT_EQ(sin6.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sin6.sin6_port), 53);
  EXPECT_EQ(sin6.sin6_flowinfo, 0U);  // zeroed, not the 0xAB left in the storage
  EXPECT_EQ(sin6.sin6_scope_id, 0U);
  ASSERT_NE(inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text), nullptr);
  EXPECT_STREQ(text, "2001:db8::5");
}

}  // namespace
}  // namespace mailward::net
