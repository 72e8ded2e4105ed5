// Tests for [policy] settings: limits syntax, defaults, cross-checks, unknown keys.
#include "policy/checks/settings.h"

#include <gtest/gtest.h>

namespace mailward::policy {
namespace {

TEST(PolicySettings, RateLimitSyntax) {
  struct Case {
    const char* text;
    bool ok;
    Subject subject;
    Unit unit;
    unsigned long long count;
    long long seconds;
  };
  const std::vector<Case> cases = {
      {"user messages 100/1h", true, Subject::user, Unit::messages, 100, 3600},
      {"sender recipients 500/d", true, Subject::sender, Unit::recipients, 500, 86400},
      {"client messages 3/10s", true, Subject::client, Unit::messages, 3, 10},
      {"user  messages   20/15m", true, Subject::user, Unit::messages, 20, 900},
      {"user messages 0/1h", false, Subject::user, Unit::messages, 0, 0},
      {"user messages 10/1w", false, Subject::user, Unit::messages, 0, 0},
      {"user messages 10", false, Subject::user, Unit::messages, 0, 0},
      {"users messages 10/1h", false, Subject::user, Unit::messages, 0, 0},
      {"user bytes 10/1h", false, Subject::user, Unit::messages, 0, 0},
      {"user messages 10/0h", false, Subject::user, Unit::messages, 0, 0},
      {"user messages 10/", false, Subject::user, Unit::messages, 0, 0},
      {"user messages", false, Subject::user, Unit::messages, 0, 0},
  };
  for (const Case& c : cases) {
    RateLimit r;
    std::string error;
    ASSERT_EQ(parse_rate_limit(c.text, r, error), c.ok) << c.text << ": " << error;
    if (!c.ok) {
      EXPECT_FALSE(error.empty());
      continue;
    }
    EXPECT_EQ(r.subject, c.subject) << c.text;
    EXPECT_EQ(r.unit, c.unit) << c.text;
    EXPECT_EQ(r.count, c.count) << c.text;
    EXPECT_EQ(r.window.count(), c.seconds) << c.text;
  }
}

TEST(PolicySettings, FullSection) {
  auto c = config::Config::parse(
      "[policy]\n"
      "socket = /tmp/p.sock\n"
      "socket_mode = 0666\n"
      "checks = sender, relay, rate\n"
      "local_domains = Example.ORG, .example.net\n"
      "trusted_networks = 192.0.2.0/24\n"
      "sender_map = /etc/mailward/senders\n"
      "recipient_delimiter = +\n"
      "limit = user messages 100/1h\n"
      "limit = client recipients 1000/1d\n"
      "rate_action = hold\n"
      "rate_stage = end-of-message\n"
      "rate_exempt_users = Boss@Example.org\n"
      "[store]\nfail_mode = refuse\n",
      "t.conf");
  PolicySettings s = load_policy_settings(c);
  EXPECT_EQ(s.socket_path, "/tmp/p.sock");
  EXPECT_EQ(s.socket_mode, 0666u);
  ASSERT_EQ(s.checks.size(), 3u);
  EXPECT_EQ(s.checks[0], CheckKind::sender);
  EXPECT_EQ(s.checks[2], CheckKind::rate);
  EXPECT_EQ(s.local_domains, (std::vector<std::string>{"example.org", ".example.net"}));
  EXPECT_EQ(s.trusted_networks.size(), 1u);
  EXPECT_EQ(s.recipient_delimiter, '+');
  ASSERT_EQ(s.limits.size(), 2u);
  EXPECT_EQ(s.limits[1].text, "client recipients 1000/1d");
  EXPECT_EQ(s.rate_action, RateAction::hold);
  EXPECT_EQ(s.rate_stage, RateStage::end_of_message);
  EXPECT_EQ(s.rate_exempt_users, (std::vector<std::string>{"boss@example.org"}));
  EXPECT_EQ(s.store_fail_mode, StoreFailMode::defer);
}

TEST(PolicySettings, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[policy]\nchecks = relay\nlocal_domains = a.example\nbogus = 1\n", "bogus"},
      {"[policy]\nchecks = relay, spam\nlocal_domains = a.example\n", "unknown check 'spam'"},
      {"[policy]\nchecks = relay, relay\nlocal_domains = a.example\n", "listed twice"},
      {"[policy]\nchecks = relay\n", "relay needs local_domains"},
      {"[policy]\nchecks = sender\n", "sender needs sender_map"},
      {"[policy]\nchecks = rate\n", "rate needs at least one limit"},
      {"[policy]\nchecks = rate\nlimit = user messages 5\n", "t.conf:3"},
      {"[policy]\nchecks = route\nroute_fallback = [r]:587\n", "route needs socketmap_socket"},
      {"[policy]\nchecks = route\nsocketmap_socket = /tmp/s\n", "route needs route_sender_domain"},
      {"[policy]\nchecks = route\nsocketmap_socket = /tmp/s\nroute_sender_domain = a.example\n",
       "DOMAIN NEXTHOP"},
      {"[policy]\nchecks = relay\nlocal_domains = a.example\ntrusted_networks = 300.1.1.1\n",
       "not an address"},
      {"[policy]\nchecks = relay\nlocal_domains = a.example\nsocket_mode = 0999\n", "octal"},
      {"[policy]\nchecks = relay\nlocal_domains = a.example\nrate_action = reject\n", "rate_action"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      load_policy_settings(config::Config::parse(text, "t.conf"));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
          << e.what() << " (expected " << expected << ")";
    }
  }
}

}  // namespace
}  // namespace mailward::policy
