#include "milters/milter/settings.h"

#include <gtest/gtest.h>

using namespace mailward;

namespace {
std::string error_of(std::string_view text) {
  try {
    milter::load_settings(config::Config::parse(text, "mw.conf"));
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(MilterSettings, ReadsEverySection) {
  auto s = milter::load_settings(config::Config::parse(R"(
[log]
destination = stderr
level = debug
[dns]
servers = 127.0.0.1:5353, [::1]:53
timeout = 500ms
attempts = 3
[milter]
socket = /var/spool/postfix/mailward/milter.sock
socket_mode = 0660
socket_group = postfix
authserv_id = mx.example.net
fail_mode = accept
trusted_networks = 192.0.2.0/24 2001:db8::/32
[spf]
reject_fail = yes
[dkim]
min_rsa_bits = 2048
sign_headers = from subject date
[dkim-sign]
key = Example.COM s1 /etc/mailward/keys/example.com.s1.key
key = example.com s2 /etc/mailward/keys/example.com.s2.key
[dmarc]
quarantine = hold
trusted_forwarders = 198.51.100.0/24
)",
                                                         "mw.conf"));
  EXPECT_EQ(s.dns_servers.size(), 2u);
  EXPECT_EQ(s.dns_timeout.count(), 500);
  EXPECT_EQ(s.dns_attempts, 3u);
  EXPECT_EQ(s.socket_mode, 0660u);
  EXPECT_EQ(s.authserv_id, "mx.example.net");
  EXPECT_EQ(s.fail_mode, milter::FailMode::accept);
  ASSERT_EQ(s.trusted_networks.size(), 2u);
  EXPECT_TRUE(s.spf_reject_fail);
  EXPECT_EQ(s.dkim_min_rsa_bits, 2048u);
  ASSERT_EQ(s.signing_keys.size(), 2u);
  EXPECT_EQ(s.signing_keys[0].domain, "example.com");
  EXPECT_EQ(s.signing_keys[0].where, "mw.conf:22");
  EXPECT_EQ(s.dmarc_quarantine, milter::QuarantineAction::hold);
  EXPECT_EQ(s.log.min_level, log::Level::debug);
}

TEST(MilterSettings, DefaultsAreSafe) {
  auto s = milter::load_settings(config::Config::parse("", "empty.conf"));
  EXPECT_EQ(s.fail_mode, milter::FailMode::tempfail);
  EXPECT_TRUE(s.spf_enabled && s.dkim_verify && s.dmarc_enabled && s.dmarc_enforce);
  EXPECT_FALSE(s.authserv_id.empty());
}

TEST(MilterSettings, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(error_of("[milter]\nfail_mode = reject\n"),
            "mw.conf:2: [milter] fail_mode: 'reject' is not one of: tempfail, accept");
  EXPECT_EQ(error_of("[milter]\nsocket_mode = 0666\n"),
            "mw.conf:2: [milter] socket_mode: must not give access to other users (e.g. 0660)");
  EXPECT_EQ(error_of("[milter]\ntrusted_networks = 10.0.0.0/8 banana\n"),
            "mw.conf:2: [milter] trusted_networks: 'banana' is not an address or network");
  EXPECT_EQ(error_of("[dkim-sign]\nkey = example.com s1\n"),
            "mw.conf:2: [dkim-sign] key: expected 'DOMAIN SELECTOR /path/to/private.key'");
  EXPECT_EQ(error_of("[dkim]\nsign_headers = subject date\n"),
            "mw.conf:2: [dkim] sign_headers: must include 'from' (RFC 6376 §5.4: From is always signed)");
  EXPECT_EQ(error_of("[spf]\nenable = no\n"), "mw.conf:2: [spf] enable: unknown key");
  EXPECT_EQ(error_of("[sfp]\n"), "mw.conf:1: unknown section [sfp]");
  EXPECT_EQ(error_of("[log]\nlevel = loud\n"),
            "mw.conf:2: [log] level: 'loud' is not one of: debug, info, warning, error");
}
