// mailward-policyd's decisions: the four checks (relay, sender ownership, rate limits, routing) run
// in the configured order on one parsed policy request. Pure: state goes through store::Store, the
// time is passed in, nothing here reads a socket or a file.
//
//   evaluate(request, now)  -> Decision: the first check that answers something other than DUNNO
//                              decides; when none does, DUNNO (Postfix goes on with its own
//                              restrictions: a policy service is defence in depth, never a permit).
//   socketmap_reply(query)  -> the routing table Postfix queries through socketmap_table(5).
//
// Only END-OF-MESSAGE, RCPT and MAIL requests are looked at; other protocol states get DUNNO.
// The engine is used from one thread (the daemon's event loop); it is not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "common/store/store.h"
#include "policy/checks/sender_map.h"
#include "policy/checks/settings.h"
#include "policy/protocol/request.h"
#include "policy/protocol/socketmap.h"

namespace mailward::policy {

struct Decision {
  std::string action;  // what follows "action=": "DUNNO", "554 5.7.1 ...", "HOLD ...", ...
  std::string check;   // the check that decided ("relay", "sender", "rate", "protocol"); "" none
  std::string reason;  // for the log, never sent to the client
  bool dunno() const noexcept { return action == "DUNNO"; }
};

// The answer to a malformed or oversized request (temporary failure, never a permit).
Decision malformed_request_decision(std::string_view detail);

// One log line for a decision: "check=relay action=\"554 ...\" reason=... client=... sasl=...".
std::string describe(const Request& request, const Decision& decision);

class PolicyEngine {
 public:
  // `store` may be null only when the rate check is off.
  PolicyEngine(PolicySettings settings, store::Store* store, SenderMap sender_map);

  Decision evaluate(const Request& request, store::Clock::time_point now);
  // Several requests (from several connections) at one `now`: the same decisions as evaluate()
  // one by one in this order, but the rate check's store work for the whole batch is one
  // store::Store::take_chains call (one LMDB write transaction, one pipelined Redis round trip).
  // Two requests of one message (same instance) in a batch are split into two store calls, so
  // the message is counted once, as one by one.
  std::vector<Decision> evaluate_batch(std::span<const Request* const> requests,
                                       store::Clock::time_point now);
  // "OK nexthop" or "NOTFOUND " for socketmap maps "relayhost" (sender_dependent_relayhost_maps:
  // keys `user@domain`, `@domain`, `<>`; the fallback relay for any sender without a domain
  // route) and "transport" (transport_maps: keys `user@domain` or `domain`); anything else
  // "PERM unknown map NAME".
  std::string socketmap_reply(const SocketmapQuery& query) const;

  void replace_sender_map(SenderMap map) { sender_map_ = std::move(map); }
  // The daemon opens the store only after dropping privileges, after the engine exists; it sets it
  // here before serving the first request.
  void set_store(store::Store* store) noexcept { store_ = store; }
  const PolicySettings& settings() const noexcept { return settings_; }

  // Store failures seen (each answered with the fail mode), for the log and tests.
  unsigned long long store_failures() const noexcept { return store_failures_; }

 private:
  Decision relay(const Request& r) const;
  Decision sender(const Request& r) const;
  // The rate check in two halves: plan_rate chooses the buckets (none: the check answers DUNNO
  // at once), finish_rate turns the store's answer into the decision.
  struct RatePlan {
    bool at_rcpt = true;
    bool has_message_limit = false;   // a `messages` bucket is in the chain
    std::vector<std::size_t> limits;  // index into settings_.limits, per take
    std::vector<std::string> values;  // the subject value, per take (for the reply)
    std::vector<std::string> keys;    // store keys, per take
    std::vector<double> costs;
  };
  bool plan_rate(const Request& r, RatePlan& plan) const;
  Decision finish_rate(const Request& r, const RatePlan& plan,
                       const store::Result<store::ChainOutcome>& result);
  // Runs settings_.checks[from...] on `r` (a rate check among them synchronously).
  Decision run_checks(const Request& r, std::size_t from, store::Clock::time_point now);
  bool local_domain(std::string_view domain) const;
  void remember_instance(const std::string& instance);
  bool counted(const std::string& instance) const;

  PolicySettings settings_;
  store::Store* store_;
  SenderMap sender_map_;
  // Instances (messages) already counted at RCPT, bounded: two generations of 64-bit hashes of
  // the instance text, each a flat open-addressing table (linear probing, 65536 slots, at most
  // half full); when the current one holds 32768 the older is dropped, so the last 32768..65536
  // messages are remembered. (A hash collision between two remembered instances, about 2^-49
  // per message, would leave one message uncounted.)
  class HashGeneration {
   public:
    bool contains(std::uint64_t h) const noexcept;
    void insert(std::uint64_t h);  // h != 0
    std::size_t size() const noexcept { return size_; }
    void clear();

   private:
    std::vector<std::uint64_t> slots_;  // 0 = empty; allocated on first insert
    std::size_t size_ = 0;
  };
  HashGeneration counted_now_;
  HashGeneration counted_before_;
  std::vector<std::string> limit_key_prefix_;  // per limit: policy:rate:user:messages:100/3600:
  unsigned long long store_failures_ = 0;
  std::string passed_reason_;  // "passed relay, sender, rate": the reason of a final DUNNO
};

}  // namespace mailward::policy
