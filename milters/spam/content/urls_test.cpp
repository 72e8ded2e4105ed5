// Tests for find_urls and url_host.
#include "milters/spam/content/urls.h"

#include <gtest/gtest.h>

namespace mailward::spam {
namespace {

TEST(Urls, FindsUrlsInText) {
  std::vector<std::string_view> u = find_urls(
      "See http://example.com/a?b=c, then (https://x.example.org/path). Or www.foo.example! "
      "Not: xhttp://no.example or mail.www.example; ftp://files.example/f.txt\n<http://angle.example/>");
  std::vector<std::string_view> want = {"http://example.com/a?b=c", "https://x.example.org/path",
                                        "www.foo.example", "ftp://files.example/f.txt",
                                        "http://angle.example/"};
  EXPECT_EQ(u, want);
  EXPECT_EQ(find_urls("http://en.wikipedia.org/wiki/Foo_(bar) end").at(0), "http://en.wikipedia.org/wiki/Foo_(bar)");
  EXPECT_TRUE(find_urls("http:// nothing").empty());
  EXPECT_EQ(find_urls("http://a http://b http://c", 2).size(), 2u);
}

TEST(Urls, Host) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"http://Example.COM/path", "example.com"},
      {"https://user:pw@www.example.org:8080/x", "www.example.org"},
      {"http://192.0.2.1/", "192.0.2.1"},
      {"http://[2001:db8::1]:80/", "2001:db8::1"},
      {"//cdn.example.net/i.png", "cdn.example.net"},
      {"www.foo.example", "www.foo.example"},
      {"http://example.com./", "example.com"},
      {"http://evil.example\\@good.example/", "evil.example"},
      {"mailto:a@b.example", ""},
      {"/relative/path", ""},
      {"javascript:alert(1)", ""},
      {"http://bad host/", ""},
      {"http:///nohost", ""},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(url_host(in), out) << in;
}

}  // namespace
}  // namespace mailward::spam
