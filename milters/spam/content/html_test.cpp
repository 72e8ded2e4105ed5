// Tests for html_to_text and decode_html_entities.
#include "milters/spam/content/html.h"

#include <gtest/gtest.h>

namespace mailward::spam {
namespace {

TEST(Html, ReducesToVisibleText) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"<p>Hello <b>world</b></p><p>second</p>", "Hello world\nsecond"},
      {"<html><head><title>T</title><style>p { color: red }</style></head><body>x</body></html>", "T\nx"},
      {"a<script>document.write('<p>no</p>')</script>b", "ab"},
      {"a<SCRIPT type=x>var s = '</scr' + 'ipt>';</SCRIPT>b", "ab"},
      {"a<!-- hidden <p>comment</p> -->b", "ab"},
      {"a<!DOCTYPE html>b<?xml x?>c", "abc"},
      {"one<br>two<br/>three", "one\ntwo\nthree"},
      {"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
      {"  lots   of\n\n  space ", "lots of space"},
      {"Caf&eacute; &amp; &lt;b&gt; &#233;&#xE9; &euro;&nbsp;5 &copy", "Caf\xC3\xA9 & <b> \xC3\xA9\xC3\xA9 \xE2\x82\xAC 5 &copy"},
      {"fr&shy;ee&#8203;dom", "freedom"},
      {"&#150; &#0; &#x110000;", "\xE2\x80\x93 \xEF\xBF\xBD \xEF\xBF\xBD"},
      {"a < b and c<3 <", "a < b and c<3 <"},
      {"x<d y", "x"},  // "<d" opens a tag (HTML §13.2.5.6), unterminated: the rest is markup
      {"x<div style=\"DISPLAY: none\">secret <b>words</b></div>y", "x\ny"},
      {"<div>a</div><div>b</div>c<br><br><br>d", "a\nb\nc\n\nd"},
      {"x<span style='font-size:0px'>tiny</span>y<p hidden>h</p>z", "xy\nz"},
      {"<a href=\"unterminated>text", ""},
      {"a</b></i></div>b", "a\nb"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(html_to_text(in).text, out) << in;
}

TEST(Html, CollectsUrlsAndCountsHidden) {
  HtmlText h = html_to_text(
      "<a href=\"http://a.example.com/?x=1&amp;y=2\">A</a><img src=//cdn.example.org/i.png>"
      "<form action='https://f.example.net/post'></form><a href=\"#top\">t</a><a href=''>e</a>"
      "<div style=\"display:none\">abc def</div>");
  ASSERT_EQ(h.urls.size(), 3u);
  EXPECT_EQ(h.urls[0], "http://a.example.com/?x=1&y=2");
  EXPECT_EQ(h.urls[1], "//cdn.example.org/i.png");
  EXPECT_EQ(h.urls[2], "https://f.example.net/post");
  EXPECT_EQ(h.hidden_chars, 6u);
  EXPECT_EQ(h.text, "A\nte");
}

TEST(Html, LimitsHold) {
  std::string big(10000, 'a');
  HtmlText h = html_to_text(big, 100);
  EXPECT_TRUE(h.truncated);
  EXPECT_EQ(h.text.size(), 100u);
  std::string links;
  for (int i = 0; i < 50; ++i) links += "<a href=http://h" + std::to_string(i) + ".example/>x</a>";
  EXPECT_EQ(html_to_text(links, 1u << 20, 7).urls.size(), 7u);
  // Deep nesting of hidden elements: the open-element stack is bounded, text after it still shows.
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "<div>";
  deep += "in";
  for (int i = 0; i < 5000; ++i) deep += "</div>";
  deep += "out";
  EXPECT_EQ(html_to_text(deep).text, "in\nout");
}

TEST(Html, DecodeEntities) {
  EXPECT_EQ(decode_html_entities("a&amp;b&quot;&#39;&apos;&unknown;&"), "a&b\"''&unknown;&");
}

}  // namespace
}  // namespace mailward::spam
