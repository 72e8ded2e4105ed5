// Tests for the user-URL address rules and the URL check with a fake resolver.
#include "dovecot-plugins/notifyd/address_check.h"

#include <gtest/gtest.h>

#include <map>

namespace mailward::notifyd {
namespace {

TEST(NotifydAddress, Classes) {
  const std::vector<std::pair<std::string, AddressClass>> cases = {
      {"93.184.216.34", AddressClass::public_address},
      {"2606:2800:220:1::1", AddressClass::public_address},
      {"127.0.0.1", AddressClass::loopback},
      {"127.255.0.9", AddressClass::loopback},
      {"::1", AddressClass::loopback},
      {"::ffff:127.0.0.1", AddressClass::loopback},
      {"0.0.0.0", AddressClass::unspecified},
      {"::", AddressClass::unspecified},
      {"10.0.0.1", AddressClass::private_net},
      {"10.255.255.255", AddressClass::private_net},
      {"172.16.0.1", AddressClass::private_net},
      {"172.31.255.1", AddressClass::private_net},
      {"172.32.0.1", AddressClass::public_address},
      {"192.168.1.1", AddressClass::private_net},
      {"::ffff:10.1.2.3", AddressClass::private_net},
      {"fc00::1", AddressClass::private_net},
      {"fdff::1", AddressClass::private_net},
      {"169.254.1.1", AddressClass::link_local},
      {"fe80::1", AddressClass::link_local},
      {"100.64.0.1", AddressClass::cgnat},
      {"100.127.255.255", AddressClass::cgnat},
      {"100.128.0.1", AddressClass::public_address},
      {"224.0.0.1", AddressClass::multicast},
      {"ff02::1", AddressClass::multicast},
      {"255.255.255.255", AddressClass::reserved},
      {"169.254.169.254", AddressClass::metadata},
      {"fd00:ec2::254", AddressClass::metadata},
      {"64:ff9b::a00:1", AddressClass::reserved},
  };
  for (const auto& [text, cls] : cases) {
    auto a = net::IpAddress::parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(classify_address(*a), cls) << text << " got " << to_string(classify_address(*a));
  }
}

TEST(NotifydAddress, UserUrls) {
  notify::Target t;
  t.allow_user_url = true;
  t.url_hosts = {"hooks.example.net", "*.ntfy.example"};
  std::map<std::string, std::vector<std::string>> dns = {
      {"hooks.example.net", {"93.184.216.34"}},
      {"a.ntfy.example", {"93.184.216.35", "2606:2800:220:1::1"}},
      {"evil.ntfy.example", {"93.184.216.35", "10.0.0.5"}},
      {"local.ntfy.example", {"127.0.0.1"}},
      {"meta.ntfy.example", {"169.254.169.254"}},
  };
  HostResolver resolve = [&](const std::string& host) {
    std::vector<net::IpAddress> out;
    for (const auto& s : dns[host]) out.push_back(*net::IpAddress::parse(s));
    return out;
  };
  struct Case {
    std::string url;
    bool ok;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"https://hooks.example.net/x", true, ""},
      {"https://a.ntfy.example:8443/t", true, ""},
      {"http://hooks.example.net/x", false, "user URL is not https"},
      {"https://other.example/x", false, "user URL host other.example is not on the target's url_hosts"},
      {"https://127.0.0.1/x", false, "user URL host 127.0.0.1 is an address, not an allowed name"},
      {"https://[::1]/x", false, "user URL host ::1 is an address, not an allowed name"},
      {"https://evil.ntfy.example/", false, "user URL host evil.ntfy.example resolves to private address 10.0.0.5"},
      {"https://local.ntfy.example/", false, "user URL host local.ntfy.example resolves to loopback address 127.0.0.1"},
      {"https://meta.ntfy.example/", false, "user URL host meta.ntfy.example resolves to metadata address 169.254.169.254"},
      {"https://none.ntfy.example/", false, "user URL host none.ntfy.example does not resolve"},
      {"gopher://x", false, "user URL is not a valid URL"},
  };
  for (const Case& c : cases) {
    UrlCheck r = check_user_url(c.url, t, resolve);
    EXPECT_EQ(r.ok, c.ok) << c.url;
    EXPECT_EQ(r.error, c.error) << c.url;
  }
  UrlCheck ok = check_user_url("https://a.ntfy.example:8443/t", t, resolve);
  EXPECT_EQ(ok.host, "a.ntfy.example");
  EXPECT_EQ(ok.port, 8443u);
  ASSERT_EQ(ok.addresses.size(), 2u);
  EXPECT_EQ(ok.addresses[1].to_string(), "2606:2800:220:1::1");
}

}  // namespace
}  // namespace mailward::notifyd
