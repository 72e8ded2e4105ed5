// The auth-policy decision over the memory store with a fake clock: the growing delay, the block
// and its end, success resetting the ip+login count, per-login counts across addresses, IPv6 /64
// counting, allowlisted networks, our own refusals not counted, the window, the fail mode.
#include "policy/auth/auth_policy.h"

#include <gtest/gtest.h>

#include <atomic>

#include "common/config/config.h"

namespace mailward::auth_policy {
namespace {

using std::chrono::seconds;

struct Fixture {
  std::shared_ptr<std::atomic<std::int64_t>> now_ms =
      std::make_shared<std::atomic<std::int64_t>>(1'800'000'000'000);
  std::unique_ptr<store::Store> store = store::open_memory_store([p = now_ms] {
    return store::Clock::time_point(std::chrono::milliseconds(p->load()));
  });
  AuthPolicy policy;
  explicit Fixture(Settings s = {}) : policy(*store, std::move(s)) {}
  void advance(seconds s) { *now_ms += s.count() * 1000; }
  int check(const std::string& login, const std::string& remote) {
    Attempt a;
    a.command = Command::allow;
    a.login = login;
    a.remote = remote;
    a.protocol = "imap";
    return policy.decide(a).status;
  }
  Verdict report(const std::string& login, const std::string& remote, bool success,
                 bool policy_reject = false) {
    Attempt a;
    a.command = Command::report;
    a.login = login;
    a.remote = remote;
    a.protocol = "imap";
    a.success = success;
    a.policy_reject = policy_reject;
    return policy.decide(a);
  }
};

TEST(AuthPolicy, DelayGrowsThenBlocks) {
  Fixture f;
  // Expected answer to `allow` after N failures of alice from one address (defaults: ip+login
  // delays from 3, address delays from 5, block at 10, delays capped at 8 s).
  const int expected[] = {0, 0, 0, 1, 2, 4, 8, 8, 8, 8, -1};
  for (int n = 0; n <= 10; ++n) {
    EXPECT_EQ(f.check("alice", "192.0.2.7"), expected[n]) << "after " << n << " failures";
    if (n < 10) {
      auto v = f.report("alice", "192.0.2.7", false);
      EXPECT_EQ(v.status, 0);
      if (n == 9) {
        EXPECT_NE(v.reason.find("blocked for 900s"), std::string::npos) << v.reason;
      }
    }
  }
  Attempt a;
  a.login = "alice";
  a.remote = "192.0.2.7";
  auto v = f.policy.decide(a);
  EXPECT_EQ(v.status, -1);
  EXPECT_FALSE(v.message.empty());
  EXPECT_NE(v.reason.find("blocked"), std::string::npos);
  // Another login from the blocked address is refused too; the same login elsewhere is only
  // delayed (its own 10 failures reach user_delay_after: level 0, 1 s).
  EXPECT_EQ(f.check("bob", "192.0.2.7"), -1);
  EXPECT_EQ(f.check("alice", "198.51.100.1"), 1);
  EXPECT_EQ(f.check("bob", "198.51.100.1"), 0);
}

TEST(AuthPolicy, BlockEndsThenOneMoreFailureBlocksAgain) {
  Fixture f;
  for (int i = 0; i < 10; ++i) f.report("alice", "192.0.2.7", false);
  EXPECT_EQ(f.check("alice", "192.0.2.7"), -1);
  f.advance(seconds(899));
  EXPECT_EQ(f.check("alice", "192.0.2.7"), -1);
  f.advance(seconds(2));
  EXPECT_EQ(f.check("alice", "192.0.2.7"), 8);  // counts still high: the longest delay
  f.report("alice", "192.0.2.7", false);
  EXPECT_EQ(f.check("alice", "192.0.2.7"), -1);
}

TEST(AuthPolicy, SuccessResetsLoginFromAddressOnly) {
  Fixture f;
  for (int i = 0; i < 4; ++i) f.report("alice", "192.0.2.7", false);
  EXPECT_EQ(f.check("alice", "192.0.2.7"), 2);
  f.report("alice", "192.0.2.7", true);
  EXPECT_EQ(f.check("alice", "192.0.2.7"), 0);
  // The address count (4) stayed: two more failures of another login start address delays.
  f.report("carol", "192.0.2.7", false);
  EXPECT_EQ(f.check("dave", "192.0.2.7"), 1);  // address 5 -> level 0
}

TEST(AuthPolicy, LoginCountedAcrossAddressesOnlyDelays) {
  Fixture f;
  for (int i = 0; i < 30; ++i) f.report("alice", "203.0.113." + std::to_string(i + 1), false);
  // 30 failures for alice from 30 addresses: alice is delayed everywhere (30 - 10 -> capped),
  // never blocked; other logins from a fresh address are untouched.
  EXPECT_EQ(f.check("alice", "198.51.100.9"), 8);
  EXPECT_EQ(f.check("bob", "198.51.100.9"), 0);
  Fixture g;
  for (int i = 0; i < 11; ++i) g.report("alice", "203.0.113." + std::to_string(i + 1), false);
  EXPECT_EQ(g.check("alice", "198.51.100.9"), 2);  // 11 - 10 = level 1
}

TEST(AuthPolicy, LoginCaseDoesNotGiveFreshCounters) {
  Fixture f;
  f.report("Alice", "192.0.2.7", false);
  f.report("ALICE", "192.0.2.7", false);
  f.report("alice", "192.0.2.7", false);
  EXPECT_EQ(f.check("aLiCe", "192.0.2.7"), 1);
}

TEST(AuthPolicy, Ipv6CountedPerPrefix) {
  Fixture f;
  for (int i = 0; i < 10; ++i) {
    f.report("u" + std::to_string(i), "2001:db8:1:2::" + std::to_string(i + 1), false);
  }
  EXPECT_EQ(f.check("x", "2001:db8:1:2:ffff::1"), -1);  // same /64
  EXPECT_EQ(f.check("x", "2001:db8:1:3::1"), 0);        // next /64
  EXPECT_EQ(counted_address(*net::IpAddress::parse("2001:db8:1:2:3:4:5:6"), 64),
            "2001:db8:1:2::/64");
  EXPECT_EQ(counted_address(*net::IpAddress::parse("::ffff:192.0.2.1"), 64), "192.0.2.1");
  EXPECT_EQ(counted_address(*net::IpAddress::parse("2001:db8::1"), 128), "2001:db8::1");
}

TEST(AuthPolicy, AllowlistedNetworksAreNeverCounted) {
  Settings s;
  s.allow_networks.push_back(*net::Network::parse("10.0.0.0/8"));
  Fixture f(s);
  for (int i = 0; i < 20; ++i) {
    auto v = f.report("alice", "10.1.2.3", false);
    EXPECT_NE(v.reason.find("allowlisted"), std::string::npos);
  }
  EXPECT_EQ(f.check("alice", "10.1.2.3"), 0);
  EXPECT_EQ(f.check("alice", "192.0.2.1"), 0);  // the login was not counted either
}

TEST(AuthPolicy, OwnRefusalsAreNotCountedAgain) {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.report("alice", "192.0.2.7", false);
  for (int i = 0; i < 20; ++i) f.report("alice", "192.0.2.7", false, true);
  EXPECT_EQ(f.check("alice", "192.0.2.7"), 1);
}

TEST(AuthPolicy, CountsExpireAfterTheWindow) {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.report("alice", "192.0.2.7", false);
  EXPECT_EQ(f.check("alice", "192.0.2.7"), 4);
  f.advance(seconds(3599));
  EXPECT_EQ(f.check("alice", "192.0.2.7"), 4);
  f.advance(seconds(2));
  EXPECT_EQ(f.check("alice", "192.0.2.7"), 0);
}

TEST(AuthPolicy, MissingOrBadRemoteCountsTheLoginOnly) {
  Fixture f;
  for (int i = 0; i < 12; ++i) f.report("alice", "", false);
  EXPECT_EQ(f.check("alice", "not-an-ip"), 4);  // login 12 -> level 2
  EXPECT_EQ(f.check("", ""), 0);
}

class BrokenStore final : public store::Store {
 public:
  template <class T>
  static store::Result<T> down() {
    store::Result<T> r;
    r.status = store::Status::unavailable;
    r.detail = "redis:10.0.0.5:6379 unreachable";
    return r;
  }
  store::Result<std::vector<std::int64_t>> add(std::span<const store::CounterUpdate>) override {
    return down<std::vector<std::int64_t>>();
  }
  store::Result<std::vector<std::int64_t>> get(std::span<const std::string>) override {
    return down<std::vector<std::int64_t>>();
  }
  store::Result<store::BucketOutcome> take(std::string_view, const store::BucketSpec&, double,
                                           store::Clock::time_point) override {
    return down<store::BucketOutcome>();
  }
  store::Result<bool> erase(std::span<const std::string>) override { return down<bool>(); }
  std::string describe() const override { return "broken"; }
};

TEST(AuthPolicy, StoreDownAppliesFailMode) {
  BrokenStore broken;
  for (auto mode : {store::FailMode::allow, store::FailMode::refuse}) {
    Settings s;
    s.fail_mode = mode;
    AuthPolicy p(broken, s);
    Attempt a;
    a.login = "alice";
    a.remote = "192.0.2.7";
    auto v = p.decide(a);
    EXPECT_TRUE(v.store_failed);
    EXPECT_EQ(v.status, mode == store::FailMode::allow ? 0 : -1);
    EXPECT_NE(v.reason.find("unreachable"), std::string::npos) << v.reason;
    a.command = Command::report;
    v = p.decide(a);
    EXPECT_TRUE(v.store_failed);
  }
}

TEST(AuthPolicy, ReadSettings) {
  auto c = config::Config::parse(
      "[auth-policy]\nallow_networks = 10.0.0.0/8, 2001:db8::/32\nmax_delay = 4s\n"
      "block_after = 6\nblock_time = 10m\nfailure_window = 30m\nfail_mode = refuse\n",
      "t.conf");
  Settings s = read_settings(c, "auth-policy");
  ASSERT_EQ(s.allow_networks.size(), 2u);
  EXPECT_EQ(s.allow_networks[1].to_string(), "2001:db8::/32");
  EXPECT_EQ(s.max_delay, seconds(4));
  EXPECT_EQ(s.block_after, 6);
  EXPECT_EQ(s.block_time, seconds(600));
  EXPECT_EQ(s.failure_window, seconds(1800));
  EXPECT_EQ(s.fail_mode, store::FailMode::refuse);
  struct Bad {
    const char* text;
    const char* where;
  } bad[] = {
      {"[auth-policy]\nallow_networks = 10.0.0.0/33\n", "t.conf:2: [auth-policy] allow_networks"},
      {"[auth-policy]\nmax_delay = 0s\n", "t.conf:2: [auth-policy] max_delay"},
      {"[auth-policy]\nmax_delay = 2m\n", "t.conf:2: [auth-policy] max_delay"},
      {"[auth-policy]\nblock_after = 0\n", "t.conf:2: [auth-policy] block_after"},
      {"[auth-policy]\nfail_mode = open\n", "t.conf:2: [auth-policy] fail_mode"},
  };
  for (const auto& b : bad) {
    try {
      read_settings(config::Config::parse(b.text, "t.conf"), "auth-policy");
      ADD_FAILURE() << b.text;
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(b.where), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace mailward::auth_policy
