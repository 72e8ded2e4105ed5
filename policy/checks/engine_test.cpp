// Tests for the policy decisions: each check table-driven, rate limits with the memory store and a
// fixed clock, the store fail modes with a store that is down, and the socketmap routing table.
#include "policy/checks/engine.h"

#include <gtest/gtest.h>

namespace mailward::policy {
namespace {

using namespace std::chrono_literals;

PolicySettings settings_from(const std::string& text) {
  return load_policy_settings(config::Config::parse(text, "t.conf"));
}

SenderMap sender_map() {
  SenderMap m;
  std::string error;
  EXPECT_TRUE(SenderMap::parse("alice@ex.org alice@ex.org\nsales@ex.org alice@ex.org\n"
                               "@ex.org admin@ex.org\n",
                               "senders", m, error))
      << error;
  return m;
}

Request rcpt(std::string client, std::string sasl, std::string sender, std::string recipient,
             std::string instance = "1.1.1") {
  Request r;
  r.request = "smtpd_access_policy";
  r.protocol_state = "RCPT";
  r.client_address = std::move(client);
  r.sasl_username = std::move(sasl);
  r.sender = std::move(sender);
  r.recipient = std::move(recipient);
  r.instance = std::move(instance);
  return r;
}

const store::Clock::time_point kT0 = store::Clock::time_point(1700000000s);

TEST(PolicyEngine, RelayAndSender) {
  PolicyEngine e(settings_from("[policy]\nchecks = relay, sender\n"
                               "local_domains = ex.org, .sub.example\n"
                               "trusted_networks = 192.0.2.0/24\nsender_map = x\n"),
                 nullptr, sender_map());
  struct Case {
    const char* name;
    Request request;
    std::string action;
    std::string check;
  };
  const std::vector<Case> cases = {
      {"local recipient from anyone", rcpt("203.0.113.9", "", "x@else.example", "bob@ex.org"),
       "DUNNO", ""},
      {"local recipient, case and trailing dot",
       rcpt("203.0.113.9", "", "x@else.example", "bob@EX.ORG."), "DUNNO", ""},
      {"subdomain of a .parent entry", rcpt("203.0.113.9", "", "", "bob@a.sub.example"), "DUNNO",
       ""},
      {"the .parent itself is not covered", rcpt("203.0.113.9", "", "", "bob@sub.example"),
       "554 5.7.1 <bob@sub.example>: Relay access denied", "relay"},
      {"bare local part", rcpt("203.0.113.9", "", "", "postmaster"), "DUNNO", ""},
      {"relay attempt", rcpt("203.0.113.9", "", "x@else.example", "v@victim.example"),
       "554 5.7.1 <v@victim.example>: Relay access denied", "relay"},
      {"relay from trusted network", rcpt("192.0.2.77", "", "x@ex.org", "v@victim.example"), "DUNNO",
       ""},
      {"relay by authenticated owner", rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "v@victim.example"),
       "DUNNO", ""},
      {"authenticated, alias", rcpt("203.0.113.9", "alice@ex.org", "sales@ex.org", "v@victim.example"),
       "DUNNO", ""},
      {"authenticated, someone else's address",
       rcpt("203.0.113.9", "alice@ex.org", "bob@ex.org", "v@victim.example"),
       "553 5.7.1 <bob@ex.org>: not owned by user alice@ex.org", "sender"},
      {"authenticated, foreign domain", rcpt("203.0.113.9", "alice@ex.org", "alice@gmail.example", "v@x.example"),
       "553 5.7.1 <alice@gmail.example>: not owned by user alice@ex.org", "sender"},
      {"domain administrator", rcpt("203.0.113.9", "admin@ex.org", "anyone@ex.org", "v@x.example"),
       "DUNNO", ""},
      {"null sender authenticated", rcpt("203.0.113.9", "alice@ex.org", "", "v@x.example"), "DUNNO",
       ""},
      {"hostile bytes shown safely", rcpt("203.0.113.9", "", "", "v\x01@victim.example"),
       "554 5.7.1 <v?@victim.example>: Relay access denied", "relay"},
  };
  for (const Case& c : cases) {
    Decision d = e.evaluate(c.request, kT0);
    EXPECT_EQ(d.action, c.action) << c.name;
    EXPECT_EQ(d.check, c.check) << c.name;
    EXPECT_FALSE(d.reason.empty()) << c.name;
    if (d.dunno()) {
      EXPECT_EQ(d.reason, "passed relay, sender") << c.name;
    }
  }
}

TEST(PolicyEngine, OrderDecides) {
  // Sender before relay: an unowned sender on a relay attempt is reported as the sender problem.
  PolicyEngine e(settings_from("[policy]\nchecks = sender, relay\nlocal_domains = ex.org\n"
                               "sender_map = x\n"),
                 nullptr, sender_map());
  Decision d = e.evaluate(rcpt("203.0.113.9", "alice@ex.org", "bob@ex.org", "v@x.example"), kT0);
  EXPECT_EQ(d.check, "sender");
}

TEST(PolicyEngine, OtherStatesAndRequestTypes) {
  PolicyEngine e(settings_from("[policy]\nchecks = relay\nlocal_domains = ex.org\n"), nullptr, {});
  Request r = rcpt("203.0.113.9", "", "", "v@x.example");
  r.protocol_state = "DATA";
  EXPECT_EQ(e.evaluate(r, kT0).action, "DUNNO");
  r.protocol_state = "RCPT";
  r.request = "something_else";
  Decision d = e.evaluate(r, kT0);
  EXPECT_EQ(d.action, "DEFER_IF_PERMIT 4.3.5 unsupported policy request");
  EXPECT_EQ(d.check, "protocol");
  EXPECT_EQ(malformed_request_decision("x").action,
            "DEFER_IF_PERMIT 4.3.5 malformed policy request");
}

TEST(PolicyEngine, RateLimitMessagesAtRcptOncePerInstance) {
  store::Clock::time_point now = kT0;
  auto st = store::open_memory_store([&] { return now; });
  PolicyEngine e(settings_from("[policy]\nchecks = rate\nlimit = user messages 2/1h\n"),
                 st.get(), {});
  auto msg = [&](const std::string& instance, const std::string& to) {
    return e.evaluate(rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", to, instance), now).action;
  };
  EXPECT_EQ(msg("m1", "a@x.example"), "DUNNO");
  EXPECT_EQ(msg("m1", "b@x.example"), "DUNNO");  // same message, second recipient: not counted
  EXPECT_EQ(msg("m1", "c@x.example"), "DUNNO");
  EXPECT_EQ(msg("m2", "a@x.example"), "DUNNO");
  const std::string over =
      "450 4.7.1 rate limit exceeded for user alice@ex.org (user messages 2/1h), try again later";
  EXPECT_EQ(msg("m3", "a@x.example"), over);
  EXPECT_EQ(msg("m3", "b@x.example"), over);  // refused message not marked counted: still refused
  // Other users have their own bucket; unauthenticated mail is not under a user limit.
  EXPECT_EQ(e.evaluate(rcpt("203.0.113.9", "bob@ex.org", "bob@ex.org", "a@x", "m4"), now).action,
            "DUNNO");
  EXPECT_EQ(e.evaluate(rcpt("203.0.113.9", "", "x@y", "a@ex.org", "m5"), now).action, "DUNNO");
  now += 1799s;  // 2 per hour: one token back after 30 minutes
  EXPECT_EQ(msg("m3", "a@x.example"), over);
  now += 2s;
  EXPECT_EQ(msg("m3", "a@x.example"), "DUNNO");
  EXPECT_EQ(msg("m6", "a@x.example"), over);
}

TEST(PolicyEngine, RateLimitRecipientsSendersClientsExemptions) {
  store::Clock::time_point now = kT0;
  auto st = store::open_memory_store([&] { return now; });
  PolicyEngine e(settings_from("[policy]\nchecks = rate\n"
                               "limit = sender recipients 3/1d\nlimit = client messages 10/1m\n"
                               "rate_exempt_networks = 192.0.2.0/24\n"
                               "rate_exempt_users = boss@ex.org\nrate_action = hold\n"),
                 st.get(), {});
  struct Step {
    Request request;
    std::string action;
  };
  const std::vector<Step> steps = {
      {rcpt("203.0.113.9", "", "News@ex.org", "a@x", "i1"), "DUNNO"},
      {rcpt("203.0.113.9", "", "news@ex.org", "b@x", "i1"), "DUNNO"},
      {rcpt("203.0.113.9", "", "news@ex.org", "c@x", "i2"), "DUNNO"},
      {rcpt("203.0.113.9", "", "news@ex.org", "d@x", "i2"),
       "HOLD rate limit exceeded for sender news@ex.org"},
      {rcpt("192.0.2.5", "", "news@ex.org", "d@x", "i3"), "DUNNO"},           // exempt network
      {rcpt("203.0.113.9", "Boss@ex.org", "news@ex.org", "d@x", "i4"), "DUNNO"},  // exempt user
      {rcpt("203.0.113.9", "", "", "d@x", "i5"), "DUNNO"},  // null sender: no sender limit
  };
  for (std::size_t i = 0; i < steps.size(); ++i)
    EXPECT_EQ(e.evaluate(steps[i].request, now).action, steps[i].action) << "step " << i;
  // client limit: 10 messages a minute from one address (i1, i2, i5 counted so far = 3, and the
  // refused d@x in i2 took a client message token? no: i2 was already counted).
  int accepted = 0;
  for (int i = 0; i < 20; ++i)
    if (e.evaluate(rcpt("198.51.100.1", "", "", "a@x", "c" + std::to_string(i)), now).dunno())
      ++accepted;
  EXPECT_EQ(accepted, 10);
}

TEST(PolicyEngine, RateLimitAtEndOfMessage) {
  store::Clock::time_point now = kT0;
  auto st = store::open_memory_store([&] { return now; });
  PolicyEngine e(settings_from("[policy]\nchecks = rate\nrate_stage = end-of-message\n"
                               "limit = user recipients 10/1h\nlimit = user messages 3/1h\n"),
                 st.get(), {});
  Request r = rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "");
  EXPECT_EQ(e.evaluate(r, now).action, "DUNNO");  // RCPT: not counted at this stage
  r.protocol_state = "END-OF-MESSAGE";
  r.recipient_count = "6";
  EXPECT_EQ(e.evaluate(r, now).action, "DUNNO");
  r.recipient_count = "4";
  EXPECT_EQ(e.evaluate(r, now).action, "DUNNO");
  r.recipient_count = "1";
  EXPECT_EQ(e.evaluate(r, now).check, "rate");  // 11 > 10 recipients
}

class DownStore : public store::Store {
 public:
  store::Result<std::vector<std::int64_t>> add(std::span<const store::CounterUpdate>) override {
    return {store::Status::unavailable, {}, "down"};
  }
  store::Result<std::vector<std::int64_t>> get(std::span<const std::string>) override {
    return {store::Status::unavailable, {}, "down"};
  }
  store::Result<store::BucketOutcome> take(std::string_view, const store::BucketSpec&, double,
                                           store::Clock::time_point) override {
    return {store::Status::unavailable, {}, "connection refused"};
  }
  store::Result<bool> erase(std::span<const std::string>) override {
    return {store::Status::unavailable, {}, "down"};
  }
  std::string describe() const override { return "redis:test"; }
};

TEST(PolicyEngine, StoreFailModes) {
  DownStore down;
  PolicyEngine allow(settings_from("[policy]\nchecks = rate\nlimit = user messages 1/1h\n"), &down,
                     {});
  Request r = rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "a@x");
  EXPECT_EQ(allow.evaluate(r, kT0).action, "DUNNO");
  EXPECT_EQ(allow.store_failures(), 1u);
  PolicyEngine defer(settings_from("[policy]\nchecks = rate\nlimit = user messages 1/1h\n"
                                   "[store]\nfail_mode = refuse\n"),
                     &down, {});
  Decision d = defer.evaluate(r, kT0);
  EXPECT_EQ(d.action, "DEFER_IF_PERMIT 4.3.0 rate limit state unavailable, try again later");
  EXPECT_NE(d.reason.find("connection refused"), std::string::npos);
}

TEST(PolicyEngine, SocketmapRouting) {
  PolicyEngine e(settings_from("[policy]\nchecks = route\nsocketmap_socket = /tmp/x\n"
                               "route_sender_domain = ex.org [smtp.relay.example]:587\n"
                               "route_recipient_domain = Gmail.Example [gw.example]:25\n"
                               "route_fallback = [fallback.example]:2525\n"),
                 nullptr, {});
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"relayhost", "alice@ex.org", "OK [smtp.relay.example]:587"},  // what Postfix asks
      {"relayhost", "alice@other.example", "OK [fallback.example]:2525"},
      {"relayhost", "@ex.org", "OK [smtp.relay.example]:587"},
      {"relayhost", "@EX.ORG", "OK [smtp.relay.example]:587"},
      {"relayhost", "@other.example", "OK [fallback.example]:2525"},
      {"relayhost", "<>", "OK [fallback.example]:2525"},
      {"transport", "gmail.example", "OK smtp:[gw.example]:25"},
      {"transport", "bob@gmail.example", "OK smtp:[gw.example]:25"},  // what Postfix asks
      {"transport", "bob@sub.gmail.example", "NOTFOUND "},
      {"transport", ".example", "NOTFOUND "},
      {"transport", "ex.org", "NOTFOUND "},
      {"transport", "bob@ex.org", "NOTFOUND "},
      {"transport", "*", "NOTFOUND "},
      {"aliases", "x", "PERM unknown map aliases"},
  };
  for (const auto& [map, key, reply] : cases)
    EXPECT_EQ(e.socketmap_reply({map, key}), reply) << map << " " << key;
  // Route switched off: the table answers nothing.
  PolicyEngine off(settings_from("[policy]\nchecks = relay\nlocal_domains = ex.org\n"
                                 "route_fallback = [f]:25\n"),
                   nullptr, {});
  EXPECT_EQ(off.socketmap_reply({"relayhost", "<>"}), "NOTFOUND ");
}

// A store that counts take_chains calls (the batch must reach the store in one call).
class CountingStore : public store::Store {
 public:
  explicit CountingStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}
  store::Result<std::vector<std::int64_t>> add(std::span<const store::CounterUpdate> u) override {
    return inner_->add(u);
  }
  store::Result<std::vector<std::int64_t>> get(std::span<const std::string> k) override {
    return inner_->get(k);
  }
  store::Result<store::BucketOutcome> take(std::string_view key, const store::BucketSpec& spec,
                                           double cost, store::Clock::time_point now) override {
    return inner_->take(key, spec, cost, now);
  }
  std::vector<store::Result<store::ChainOutcome>> take_chains(
      std::span<const store::BucketChain> chains, store::Clock::time_point now) override {
    ++calls;
    chain_sizes.push_back(chains.size());
    return inner_->take_chains(chains, now);
  }
  store::Result<bool> erase(std::span<const std::string> k) override { return inner_->erase(k); }
  std::string describe() const override { return "counting"; }
  int calls = 0;
  std::vector<std::size_t> chain_sizes;

 private:
  std::unique_ptr<store::Store> inner_;
};

// evaluate_batch decides exactly as evaluate() one by one, with one store call per batch (split
// only where a message's second recipient must see the first counted).
TEST(PolicyEngine, BatchDecidesAsOneByOne) {
  const std::string conf =
      "[policy]\nchecks = relay, sender, rate\nlocal_domains = ex.org\nsender_map = x\n"
      "limit = user messages 2/1h\nlimit = client recipients 5/1h\n";
  std::vector<Request> reqs = {
      rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "a@x.example", "m1"),
      rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "b@x.example", "m1"),  // same message
      rcpt("203.0.113.9", "", "x@y.example", "v@victim.example", "m2"),          // relay refused
      rcpt("203.0.113.9", "alice@ex.org", "bob@ex.org", "a@x.example", "m3"),    // sender refused
      rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "a@x.example", "m4"),
      rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "a@x.example", "m5"),  // user over
      rcpt("203.0.113.9", "admin@ex.org", "admin@ex.org", "a@x.example", "m6"),
      rcpt("203.0.113.9", "admin@ex.org", "admin@ex.org", "b@x.example", "m6"),
      rcpt("203.0.113.9", "admin@ex.org", "admin@ex.org", "c@x.example", "m6"),  // client over
      rcpt("203.0.113.9", "", "x@y.example", "bob@ex.org", "m7"),  // no user: client limit only
  };
  SenderMap map;
  std::string error;
  ASSERT_TRUE(SenderMap::parse("alice@ex.org alice@ex.org\n@ex.org admin@ex.org\n", "s", map,
                               error));
  auto one_store = store::open_memory_store([] { return kT0; });
  PolicyEngine one(settings_from(conf), one_store.get(), map);
  std::vector<Decision> expected;
  for (const Request& r : reqs) expected.push_back(one.evaluate(r, kT0));

  CountingStore batch_store(store::open_memory_store([] { return kT0; }));
  PolicyEngine batch(settings_from(conf), &batch_store, map);
  std::vector<const Request*> ptrs;
  for (const Request& r : reqs) ptrs.push_back(&r);
  std::vector<Decision> got = batch.evaluate_batch(ptrs, kT0);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].action, expected[i].action) << i;
    EXPECT_EQ(got[i].check, expected[i].check) << i;
    EXPECT_EQ(got[i].reason, expected[i].reason) << i;
  }
  EXPECT_EQ(expected[5].action,
            "450 4.7.1 rate limit exceeded for user alice@ex.org (user messages 2/1h), try again "
            "later");
  EXPECT_EQ(expected[8].action,
            "450 4.7.1 rate limit exceeded for client 203.0.113.9 (client recipients 5/1h), try "
            "again later");
  // m1's and m6's second recipients split the batch: [m1] [m1 m4 m5 m6] [m6] [m6 m7].
  EXPECT_EQ(batch_store.calls, 4);
  EXPECT_EQ(batch_store.chain_sizes, (std::vector<std::size_t>{1, 4, 1, 2}));
}

// A store that is down fails every chain of the batch: fail_mode applies to each request.
TEST(PolicyEngine, BatchWithStoreDown) {
  class UnreachableStore : public CountingStore {
   public:
    UnreachableStore() : CountingStore(store::open_memory_store()) {}
    std::vector<store::Result<store::ChainOutcome>> take_chains(
        std::span<const store::BucketChain> chains, store::Clock::time_point) override {
      std::vector<store::Result<store::ChainOutcome>> out(chains.size());
      for (auto& r : out) {
        r.status = store::Status::unavailable;
        r.detail = "down";
      }
      return out;
    }
  } down;
  PolicyEngine e(settings_from("[policy]\nchecks = rate\nlimit = user messages 1/1h\n"
                               "[store]\nfail_mode = refuse\n"),
                 &down, {});
  const Request a = rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "a@x", "m1");
  const Request b = rcpt("203.0.113.9", "bob@ex.org", "bob@ex.org", "a@x", "m2");
  const Request* ptrs[] = {&a, &b};
  auto got = e.evaluate_batch(ptrs, kT0);
  ASSERT_EQ(got.size(), 2u);
  for (const Decision& d : got)
    EXPECT_EQ(d.action, "DEFER_IF_PERMIT 4.3.0 rate limit state unavailable, try again later");
  EXPECT_EQ(e.store_failures(), 2u);
}

// Counted instances are remembered for at least 32768 later messages and forgotten after 65536.
TEST(PolicyEngine, CountedInstancesAreBounded) {
  auto st = store::open_memory_store([] { return kT0; });
  PolicyEngine e(settings_from("[policy]\nchecks = rate\nlimit = user messages 1000000/1d\n"),
                 st.get(), {});
  const std::string key = "policy:rate:user:messages:1000000/86400:alice@ex.org";
  auto tokens = [&] {
    auto r = st->take(key, store::BucketSpec{1000000, 1000000.0 / 86400}, 0, kT0);
    EXPECT_TRUE(r.ok()) << r.detail;
    return r.value.remaining;
  };
  auto send = [&](const std::string& instance) {
    return e.evaluate(rcpt("203.0.113.9", "alice@ex.org", "alice@ex.org", "a@x", instance), kT0)
        .action;
  };
  ASSERT_EQ(send("first"), "DUNNO");
  for (int i = 0; i < 40000; ++i) ASSERT_EQ(send("m" + std::to_string(i)), "DUNNO");
  const double before = tokens();
  EXPECT_EQ(before, 1000000.0 - 40001);
  EXPECT_EQ(send("first"), "DUNNO");  // 40000 messages later: still known, not counted again
  EXPECT_EQ(tokens(), before);
  for (int i = 40000; i < 70000; ++i) ASSERT_EQ(send("m" + std::to_string(i)), "DUNNO");
  const double later = tokens();
  EXPECT_EQ(send("first"), "DUNNO");  // 70000 messages later: forgotten, counted as new
  EXPECT_EQ(tokens(), later - 1);
}

}  // namespace
}  // namespace mailward::policy
