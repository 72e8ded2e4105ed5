// Tests for to_utf8 / repair_utf8 / canonical_charset.
#include "milters/spam/content/charset.h"

#include <gtest/gtest.h>

namespace mailward::spam {
namespace {

struct Case {
  std::string_view bytes;
  std::string_view charset;
  std::string_view utf8;
  CharsetStatus status;
};

TEST(Charset, ConvertsToUtf8) {
  const Case cases[] = {
      {"plain", "", "plain", CharsetStatus::ok},
      {"caf\xC3\xA9", "utf-8", "caf\xC3\xA9", CharsetStatus::ok},
      {"caf\xC3\xA9", "UTF8", "caf\xC3\xA9", CharsetStatus::ok},
      {"caf\xE9", "iso-8859-1", "caf\xC3\xA9", CharsetStatus::ok},
      {"\x93q\x94 \x80", "windows-1252", "\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x82\xAC", CharsetStatus::ok},
      {"\x93q\x94", "latin1", "\xE2\x80\x9Cq\xE2\x80\x9D", CharsetStatus::ok},  // WHATWG: latin1 = cp1252
      {"caf\xE9", "", "caf\xC3\xA9", CharsetStatus::ok},            // undeclared 8-bit: cp1252
      {"caf\xE9", "us-ascii", "caf\xC3\xA9", CharsetStatus::ok},
      {"caf\xC3\xA9", "", "caf\xC3\xA9", CharsetStatus::ok},        // undeclared but valid UTF-8
      {"a\xFF" "b", "utf-8", "a\xEF\xBF\xBD" "b", CharsetStatus::repaired},
      {"\xED\xA0\x80", "utf-8", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", CharsetStatus::repaired},  // surrogate
      {"\xC0\xAF", "utf-8", "\xEF\xBF\xBD\xEF\xBF\xBD", CharsetStatus::repaired},                // overlong
      {"\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", CharsetStatus::ok},
      {"\xCF\xF0\xE8\xE2\xE5\xF2", "windows-1251", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82", CharsetStatus::ok},
      {"\x1B$B$3$s\x1B(B", "ISO-2022-JP", "\xE3\x81\x93\xE3\x82\x93", CharsetStatus::ok},
      {"\x82\xB1\x82\xF1", "shift_jis", "\xE3\x81\x93\xE3\x82\x93", CharsetStatus::ok},
      {"\xC4\xE3\xBA\xC3", "gb2312", "\xE4\xBD\xA0\xE5\xA5\xBD", CharsetStatus::ok},
      {"caf\xE9", "x-no-such-charset", "caf\xC3\xA9", CharsetStatus::unknown},
      {"caf\xE9", "\"ISO-8859-1\"", "caf\xC3\xA9", CharsetStatus::ok},
      {"ok\x82", "shift_jis", "ok\xEF\xBF\xBD", CharsetStatus::repaired},  // truncated double byte
  };
  for (const Case& c : cases) {
    Utf8Result r = to_utf8(c.bytes, c.charset);
    EXPECT_EQ(r.text, c.utf8) << c.charset << " " << c.bytes;
    EXPECT_EQ(r.status, c.status) << c.charset << " " << c.bytes;
  }
}

TEST(Charset, MaxOutCutsAtCharacterBoundary) {
  // Each é is two bytes in UTF-8; a cut at 5 must not split the third.
  Utf8Result r = to_utf8("\xE9\xE9\xE9\xE9", "iso-8859-1", 5);
  EXPECT_EQ(r.text, "\xC3\xA9\xC3\xA9");
  r = to_utf8("\xC4\xE3\xBA\xC3\xC4\xE3", "gb2312", 4);
  EXPECT_EQ(r.text, "\xE4\xBD\xA0");
}

TEST(Charset, CanonicalNames) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"UTF8", "utf-8"},          {" \"Latin1\" ", "iso-8859-1"}, {"ks_c_5601-1987", "cp949"},
      {"utf-8*en", "utf-8"},      {"iso-8859-1//TRANSLIT", "iso-8859-1"}, {"GB2312", "gbk"},
      {"Windows-1251", "windows-1251"}, {"", ""}};
  for (const auto& [in, out] : cases) EXPECT_EQ(canonical_charset(in), out) << in;
}

TEST(Charset, RepairUtf8) {
  std::string s = "ok \xE2\x82\xAC";
  EXPECT_FALSE(repair_utf8(s));
  EXPECT_EQ(s, "ok \xE2\x82\xAC");
  s = "bad \xE2\x82 end";
  EXPECT_TRUE(repair_utf8(s));
  EXPECT_EQ(s, "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST(Charset, ManyUnknownLabelsStayBounded) {
  // More labels than the descriptor cache holds: still converted, nothing leaks (ASan checks).
  for (int i = 0; i < 200; ++i) {
    std::string label = i % 2 == 0 ? "x-bogus-" + std::to_string(i) : "iso-8859-" + std::to_string(i % 16 + 1);
    Utf8Result r = to_utf8("abc", label);
    EXPECT_EQ(r.text, "abc") << label;
  }
}

}  // namespace
}  // namespace mailward::spam
