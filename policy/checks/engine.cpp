// The relay, sender-ownership, rate-limit and routing decisions of mailward-policyd (engine.h).
#include "policy/checks/engine.h"

#include <algorithm>

#include "common/log/log.h"
#include "common/net/ip_address.h"
#include "common/util/text.h"

namespace mailward::policy {

namespace {

constexpr std::size_t kCountedPerGeneration = 32768;

// Never 0 (the empty slot of HashGeneration).
std::uint64_t instance_hash(std::string_view instance) {
  const auto h = static_cast<std::uint64_t>(std::hash<std::string_view>{}(instance));
  return h == 0 ? 1 : h;
}

store::BucketSpec spec_of(const RateLimit& limit) {
  return {static_cast<double>(limit.count),
          static_cast<double>(limit.count) / static_cast<double>(limit.window.count())};
}

Decision dunno() { return {"DUNNO", "", ""}; }

// Client-supplied text placed into a reply: printable ASCII only, bounded, no '<'/'>' games.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 256)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u > 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

std::string domain_of(std::string_view address) {
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  return text::normalize_domain(address.substr(at + 1));
}

bool in_networks(const std::vector<net::Network>& networks, std::string_view address) {
  if (networks.empty()) return false;
  auto ip = net::IpAddress::parse(address);
  if (!ip) return false;
  return std::any_of(networks.begin(), networks.end(),
                     [&](const net::Network& n) { return n.contains(*ip); });
}

bool state_is(const Request& r, std::string_view state) { return r.protocol_state == state; }

}  // namespace

Decision malformed_request_decision(std::string_view detail) {
  return {"DEFER_IF_PERMIT 4.3.5 malformed policy request", "protocol", std::string(detail)};
}

std::string describe(const Request& r, const Decision& d) {
  std::string out = "check=" + (d.check.empty() ? std::string("none") : d.check);
  out += " action=\"" + d.action + "\"";
  if (!d.reason.empty()) out += " reason=\"" + d.reason + "\"";
  out += " state=" + shown(r.protocol_state);
  out += " client=" + shown(r.client_address);
  if (!r.sasl_username.empty()) out += " sasl=" + shown(r.sasl_username);
  out += " from=<" + shown(r.sender) + ">";
  if (!r.recipient.empty()) out += " to=<" + shown(r.recipient) + ">";
  return out;
}

PolicyEngine::PolicyEngine(PolicySettings settings, store::Store* store, SenderMap sender_map)
    : settings_(std::move(settings)), store_(store), sender_map_(std::move(sender_map)) {
  passed_reason_ = "passed";
  const char* sep = " ";
  for (CheckKind k : settings_.checks) {
    if (k == CheckKind::route) continue;
    passed_reason_ += sep;
    passed_reason_ += to_string(k);
    sep = ", ";
  }
  for (const RateLimit& limit : settings_.limits) {
    std::string key = "policy:rate:";
    key += to_string(limit.subject);
    key += ':';
    key += to_string(limit.unit);
    key += ':';
    key += std::to_string(limit.count) + "/" + std::to_string(limit.window.count()) + ":";
    limit_key_prefix_.push_back(std::move(key));
  }
}

Decision PolicyEngine::evaluate(const Request& r, store::Clock::time_point now) {
  const Request* one = &r;
  return std::move(evaluate_batch(std::span<const Request* const>(&one, 1), now)[0]);
}

Decision PolicyEngine::run_checks(const Request& r, std::size_t from,
                                  store::Clock::time_point now) {
  for (std::size_t i = from; i < settings_.checks.size(); ++i) {
    Decision d;
    switch (settings_.checks[i]) {
      case CheckKind::relay: d = relay(r); break;
      case CheckKind::sender: d = sender(r); break;
      case CheckKind::rate: {
        RatePlan plan;
        if (!plan_rate(r, plan)) continue;
        std::vector<store::BucketTake> takes;
        for (std::size_t k = 0; k < plan.keys.size(); ++k)
          takes.push_back({plan.keys[k], spec_of(settings_.limits[plan.limits[k]]), plan.costs[k]});
        const store::BucketChain chain(takes);
        auto res = store_->take_chains(std::span<const store::BucketChain>(&chain, 1), now);
        d = finish_rate(r, plan, res[0]);
        break;
      }
      case CheckKind::route: continue;  // served through the socketmap table, not per request
    }
    if (!d.dunno()) return d;
  }
  return {"DUNNO", "", passed_reason_};
}

// The batch: each request runs its checks in order until the rate check needs the store (or a
// check decides). The waiting requests' chains go to the store in one take_chains call; then each
// finishes its rate check and runs the checks after it. A request whose instance is already
// waiting in this batch (a second recipient of one message) first lets the batch so far complete,
// so that it sees the message counted, exactly as one by one.
std::vector<Decision> PolicyEngine::evaluate_batch(std::span<const Request* const> requests,
                                                   store::Clock::time_point now) {
  std::vector<Decision> out(requests.size());
  struct Waiting {
    std::size_t index;       // into requests / out
    std::size_t rate_check;  // position of the rate check in settings_.checks
    RatePlan plan;
  };
  std::vector<Waiting> waiting;
  std::unordered_set<std::string_view> waiting_instances;
  auto complete = [&] {
    if (waiting.empty()) return;
    std::vector<store::BucketTake> takes;
    std::vector<std::size_t> first;
    for (const Waiting& w : waiting) {
      first.push_back(takes.size());
      for (std::size_t k = 0; k < w.plan.keys.size(); ++k)
        takes.push_back({w.plan.keys[k], spec_of(settings_.limits[w.plan.limits[k]]),
                         w.plan.costs[k]});
    }
    std::vector<store::BucketChain> chains;
    for (std::size_t i = 0; i < waiting.size(); ++i)
      chains.emplace_back(takes.data() + first[i], waiting[i].plan.keys.size());
    auto results = store_->take_chains(chains, now);
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      const Request& r = *requests[waiting[i].index];
      Decision d = finish_rate(r, waiting[i].plan, results[i]);
      out[waiting[i].index] = d.dunno() ? run_checks(r, waiting[i].rate_check + 1, now)
                                        : std::move(d);
    }
    waiting.clear();
    waiting_instances.clear();
  };
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const Request& r = *requests[i];
    if (r.request != "smtpd_access_policy") {
      out[i] = {"DEFER_IF_PERMIT 4.3.5 unsupported policy request", "protocol",
                "request=" + shown(r.request)};
      continue;
    }
    if (!r.instance.empty() && waiting_instances.count(r.instance)) complete();
    bool decided = false;
    for (std::size_t c = 0; c < settings_.checks.size() && !decided; ++c) {
      Decision d;
      switch (settings_.checks[c]) {
        case CheckKind::relay: d = relay(r); break;
        case CheckKind::sender: d = sender(r); break;
        case CheckKind::rate: {
          Waiting w{i, c, {}};
          if (!plan_rate(r, w.plan)) continue;
          if (!r.instance.empty()) waiting_instances.insert(r.instance);
          waiting.push_back(std::move(w));
          decided = true;  // finished by complete()
          continue;
        }
        case CheckKind::route: continue;
      }
      if (!d.dunno()) {
        out[i] = std::move(d);
        decided = true;
      }
    }
    if (!decided) out[i] = {"DUNNO", "", passed_reason_};
  }
  complete();
  return out;
}

bool PolicyEngine::local_domain(std::string_view domain) const {
  for (const std::string& d : settings_.local_domains) {
    if (d == domain) return true;
    // ".example" matches every subdomain of example (Postfix "parent domain" notation).
    if (!d.empty() && d.front() == '.' && domain.size() > d.size() &&
        domain.substr(domain.size() - d.size()) == d)
      return true;
  }
  return false;
}

// relay: a recipient outside local_domains only from SASL-authenticated clients or trusted
// networks (defence in depth behind Postfix's reject_unauth_destination; RFC 5321 §3.6.2 on open
// relays). A recipient without '@' is local (Postfix appends $myorigin / treats it as local).
Decision PolicyEngine::relay(const Request& r) const {
  if (!state_is(r, "RCPT") || r.recipient.empty()) return dunno();
  if (r.recipient.find('@') == std::string::npos) return dunno();
  std::string domain = domain_of(r.recipient);
  if (local_domain(domain)) return dunno();
  if (!r.sasl_username.empty()) return dunno();
  if (in_networks(settings_.trusted_networks, r.client_address)) return dunno();
  return {"554 5.7.1 <" + shown(r.recipient) + ">: Relay access denied", "relay",
          "recipient domain " + domain + " is not local, client neither authenticated nor trusted"};
}

// sender: an authenticated user may use only the senders mapped to them. The null sender (bounces,
// RFC 5321 §4.5.5) is not owned by anyone and is let through. Unauthenticated sessions are not
// this check's business.
Decision PolicyEngine::sender(const Request& r) const {
  if (r.sasl_username.empty()) return dunno();
  if (!state_is(r, "RCPT") && !state_is(r, "MAIL") && !state_is(r, "END-OF-MESSAGE"))
    return dunno();
  if (r.sender.empty()) return dunno();
  if (sender_map_.owns(r.sasl_username, r.sender, settings_.recipient_delimiter)) return dunno();
  return {"553 5.7.1 <" + shown(r.sender) + ">: not owned by user " + shown(r.sasl_username),
          "sender", "sender not mapped to this user in the sender map"};
}

bool PolicyEngine::HashGeneration::contains(std::uint64_t h) const noexcept {
  if (slots_.empty()) return false;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == h) return true;
    if (slots_[i] == 0) return false;  // never full: at most half the slots are used
  }
}

void PolicyEngine::HashGeneration::insert(std::uint64_t h) {
  if (slots_.empty()) slots_.assign(2 * kCountedPerGeneration, 0);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == h) return;
    if (slots_[i] == 0) {
      slots_[i] = h;
      ++size_;
      return;
    }
  }
}

void PolicyEngine::HashGeneration::clear() {
  std::fill(slots_.begin(), slots_.end(), 0);
  size_ = 0;
}

void PolicyEngine::remember_instance(const std::string& instance) {
  if (counted_now_.size() >= kCountedPerGeneration) {
    std::swap(counted_before_, counted_now_);
    counted_now_.clear();
  }
  counted_now_.insert(instance_hash(instance));
}

bool PolicyEngine::counted(const std::string& instance) const {
  const std::uint64_t h = instance_hash(instance);
  return counted_now_.contains(h) || counted_before_.contains(h);
}

// rate: token buckets (store::Store::take_chains) of `count` tokens refilled over `window`, one
// chain per request in the order of the limits, stopping at the first refusal: tokens taken by
// an earlier limit are not given back when a later limit refuses (documented in the README).
bool PolicyEngine::plan_rate(const Request& r, RatePlan& plan) const {
  if (!store_) return false;
  plan.at_rcpt = settings_.rate_stage == RateStage::rcpt;
  if (plan.at_rcpt ? !state_is(r, "RCPT") : !state_is(r, "END-OF-MESSAGE")) return false;
  if (in_networks(settings_.rate_exempt_networks, r.client_address)) return false;
  std::string user = text::to_lower(r.sasl_username);
  if (!user.empty() && std::find(settings_.rate_exempt_users.begin(),
                                 settings_.rate_exempt_users.end(),
                                 user) != settings_.rate_exempt_users.end())
    return false;
  bool new_message = plan.at_rcpt ? (r.instance.empty() || !counted(r.instance)) : true;
  double recipients = 1;
  if (!plan.at_rcpt) {
    unsigned long long n = 0;
    if (!text::parse_uint(r.recipient_count, 1000000, n)) n = 1;  // not given: count one
    recipients = static_cast<double>(n);
  }
  for (std::size_t i = 0; i < settings_.limits.size(); ++i) {
    const RateLimit& limit = settings_.limits[i];
    std::string value;
    switch (limit.subject) {
      case Subject::user: value = user; break;
      case Subject::sender: value = text::to_lower(r.sender); break;
      case Subject::client: value = r.client_address; break;
    }
    if (value.empty()) continue;  // no user / null sender: this limit does not apply
    double cost = limit.unit == Unit::messages ? (new_message ? 1.0 : 0.0) : recipients;
    if (cost <= 0) continue;
    if (limit.unit == Unit::messages) plan.has_message_limit = true;
    plan.limits.push_back(i);
    plan.keys.push_back(limit_key_prefix_[i] + value);
    plan.values.push_back(std::move(value));
    plan.costs.push_back(cost);
  }
  return !plan.keys.empty();
}

Decision PolicyEngine::finish_rate(const Request& r, const RatePlan& plan,
                                   const store::Result<store::ChainOutcome>& res) {
  if (!res.ok()) {
    ++store_failures_;
    if (settings_.store_fail_mode == StoreFailMode::allow) {
      log::warning("rate limits NOT ENFORCED: state store ", store_->describe(), " failed (",
                   res.detail, "); [store] fail_mode = allow lets this through");
      return dunno();
    }
    return {"DEFER_IF_PERMIT 4.3.0 rate limit state unavailable, try again later", "rate",
            "store " + store_->describe() + " failed: " + res.detail};
  }
  if (!res.value.allowed) {
    const std::size_t k = std::min(res.value.decided_by, plan.limits.size() - 1);
    const RateLimit& limit = settings_.limits[plan.limits[k]];
    std::string what = std::string(to_string(limit.subject)) + " " + shown(plan.values[k]);
    std::string reason = "over limit \"" + limit.text + "\" for " + what + ", retry in " +
                         std::to_string(res.value.outcome.retry_after.count()) + " ms";
    if (settings_.rate_action == RateAction::hold)
      return {"HOLD rate limit exceeded for " + what, "rate", reason};
    return {"450 4.7.1 rate limit exceeded for " + what + " (" + limit.text +
                "), try again later",
            "rate", reason};
  }
  if (plan.at_rcpt && plan.has_message_limit && !r.instance.empty()) remember_instance(r.instance);
  return dunno();
}

std::string PolicyEngine::socketmap_reply(const SocketmapQuery& q) const {
  bool route_on = std::find(settings_.checks.begin(), settings_.checks.end(), CheckKind::route) !=
                  settings_.checks.end();
  auto find = [](const std::vector<Route>& routes, std::string_view domain) -> const Route* {
    for (const Route& r : routes)
      if (r.domain == domain) return &r;
    return nullptr;
  };
  // Postfix treats socketmap as a pattern table: it asks with the full address only (no
  // "@domain" or parent-domain retries; observed with Postfix 3.7 in tests/integration/policy).
  // So the domain is taken from the key here. "@domain" keys (what postmap -q or a hash-table
  // habit may send) are accepted as well.
  if (q.name == "relayhost") {
    if (!route_on) return "NOTFOUND ";
    // sender_dependent_relayhost_maps: the sender address; the null sender as
    // empty_address_relayhost_maps_lookup_key (default "<>"). Anything without '@' is that.
    std::size_t at = q.key.rfind('@');
    if (at != std::string::npos) {
      if (const Route* r = find(settings_.sender_routes, text::normalize_domain(q.key.substr(at + 1))))
        return "OK " + r->nexthop;
    }
    return settings_.fallback_relay.empty() ? "NOTFOUND " : "OK " + settings_.fallback_relay;
  }
  if (q.name == "transport") {
    if (!route_on) return "NOTFOUND ";
    // transport_maps: the recipient address (or a bare domain from postmap -q); whole domains are
    // routed, ".parent" and "*" keys are not ours.
    std::size_t at = q.key.rfind('@');
    std::string domain = text::normalize_domain(at == std::string::npos ? std::string_view(q.key)
                                                                         : std::string_view(q.key).substr(at + 1));
    if (domain.empty() || domain.front() == '.') return "NOTFOUND ";
    if (const Route* r = find(settings_.recipient_routes, domain)) return "OK smtp:" + r->nexthop;
    return "NOTFOUND ";
  }
  return "PERM unknown map " + shown(q.name);
}

}  // namespace mailward::policy
