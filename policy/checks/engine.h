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

#include <deque>
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
  // "OK nexthop" or "NOTFOUND " for socketmap maps "relayhost" (sender_dependent_relayhost_maps:
  // keys `user@domain`, `@domain`, `<>`; the fallback relay for any sender without a domain
  // route) and "transport" (transport_maps: keys `user@domain` or `domain`); anything else
  // "PERM unknown map NAME".
  std::string socketmap_reply(const SocketmapQuery& query) const;

  void replace_sender_map(SenderMap map) { sender_map_ = std::move(map); }
  const PolicySettings& settings() const noexcept { return settings_; }

  // Store failures seen (each answered with the fail mode), for the log and tests.
  unsigned long long store_failures() const noexcept { return store_failures_; }

 private:
  Decision relay(const Request& r) const;
  Decision sender(const Request& r) const;
  Decision rate(const Request& r, store::Clock::time_point now);
  bool local_domain(std::string_view domain) const;
  void remember_instance(const std::string& instance);

  PolicySettings settings_;
  store::Store* store_;
  SenderMap sender_map_;
  // Instances (messages) already counted at RCPT: a bounded FIFO of recent ones.
  std::unordered_set<std::string> counted_;
  std::deque<std::string> counted_order_;
  unsigned long long store_failures_ = 0;
  std::string passed_reason_;  // "passed relay, sender, rate": the reason of a final DUNNO
};

}  // namespace mailward::policy
