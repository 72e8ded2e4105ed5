// Tests for the socketmap netstring codec (Postfix socketmap_table(5)).
#include "policy/protocol/socketmap.h"

#include <gtest/gtest.h>

namespace mailward::policy {
namespace {

TEST(Socketmap, ParsesAtEverySplit) {
  const std::string input = "22:relayhost @example.org,21:transport example.com,";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    SocketmapParser p;
    std::vector<SocketmapQuery> out;
    ASSERT_TRUE(p.feed(std::string_view(input).substr(0, cut), out));
    ASSERT_TRUE(p.feed(std::string_view(input).substr(cut), out));
    ASSERT_EQ(out.size(), 2u) << cut;
    EXPECT_EQ(out[0].name, "relayhost");
    EXPECT_EQ(out[0].key, "@example.org");
    EXPECT_EQ(out[1].name, "transport");
    EXPECT_EQ(out[1].key, "example.com");
  }
}

TEST(Socketmap, KeyMayContainSpaces) {
  SocketmapParser p;
  std::vector<SocketmapQuery> out;
  ASSERT_TRUE(p.feed("7:m a b c,", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, "a b c");
}

TEST(Socketmap, Errors) {
  const std::vector<std::string> bad = {
      "x:abc,",          // not a number
      "3:abcd",          // no comma where expected
      "01:a b,",         // leading zero
      ":a b,",           // empty length
      "5:ab c ;",        // wrong terminator
      "3:abc,",          // no space: not "name key"
      "4: abc,",         // empty name
      "4:abc ,",         // empty key
      "12345678901:",    // length too long
      "20000:",          // over the limit
  };
  for (const std::string& b : bad) {
    SocketmapParser p;
    std::vector<SocketmapQuery> out;
    EXPECT_FALSE(p.feed(b, out)) << b;
    EXPECT_TRUE(p.failed()) << b;
    EXPECT_TRUE(out.empty()) << b;
    EXPECT_FALSE(p.feed("5:a b c,", out));
  }
}

TEST(Socketmap, Netstring) {
  EXPECT_EQ(netstring("OK [relay.example]:587"), "22:OK [relay.example]:587,");
  EXPECT_EQ(netstring("NOTFOUND "), "9:NOTFOUND ,");
  EXPECT_EQ(netstring(""), "0:,");
}

}  // namespace
}  // namespace mailward::policy
