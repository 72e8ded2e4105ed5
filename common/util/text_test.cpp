#include "common/util/text.h"

#include <gtest/gtest.h>

using namespace mailward;

TEST(Text, SplitListDropsSeparators) {
  auto items = text::split_list(" a, b\t c,,d ");
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0], "a");
  EXPECT_EQ(items[3], "d");
}

TEST(Text, ParseUintRejectsOverflowAndJunk) {
  unsigned long long v = 0;
  EXPECT_TRUE(text::parse_uint("42", 100, v));
  EXPECT_EQ(v, 42u);
  EXPECT_FALSE(text::parse_uint("101", 100, v));
  EXPECT_FALSE(text::parse_uint("4x", 100, v));
  EXPECT_FALSE(text::parse_uint("", 100, v));
  EXPECT_FALSE(text::parse_uint("99999999999999999999", ~0ULL, v));
}

TEST(Text, NormalizeDomain) {
  EXPECT_EQ(text::normalize_domain("Example.COM."), "example.com");
  EXPECT_TRUE(text::iequals("MiXeD", "mixed"));
  EXPECT_TRUE(text::iends_with("mail.Example.com", ".example.COM"));
}
