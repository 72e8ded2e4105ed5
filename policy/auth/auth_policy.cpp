// The Dovecot authentication policy decision (see auth_policy.h for the protocol and the counters).
#include "policy/auth/auth_policy.h"

#include <algorithm>

#include "common/config/config.h"
#include "common/util/text.h"

namespace mailward::auth_policy {
namespace {

constexpr const char* kBlockedMessage = "Too many failed logins from your address; try again later";

std::int64_t pow2_capped(std::int64_t level, std::int64_t cap) {
  if (level >= 62) return cap;
  return std::min<std::int64_t>(std::int64_t{1} << level, cap);
}

}  // namespace

std::string counted_address(const net::IpAddress& ip, unsigned ipv6_prefix) {
  const net::IpAddress u = ip.unmapped();
  if (u.is_v4()) return u.to_string();
  std::array<std::uint8_t, 16> b{};
  std::copy(u.bytes(), u.bytes() + 16, b.begin());
  const unsigned prefix = std::min(ipv6_prefix, 128u);
  for (unsigned bit = prefix; bit < 128; ++bit) {
    b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  std::string s = net::IpAddress::v6(b).to_string();
  if (prefix < 128) s += "/" + std::to_string(prefix);
  return s;
}

Settings read_settings(const config::Config& c, std::string_view section) {
  Settings s;
  for (const auto& text : c.get_list(section, "allow_networks", {})) {
    auto n = net::Network::parse(text);
    if (!n) config::Config::fail(*c.find(section, "allow_networks"), "not a network: " + text);
    s.allow_networks.push_back(*n);
  }
  s.ipv6_prefix = static_cast<unsigned>(c.get_int(section, "ipv6_prefix", 64, 32, 128));
  auto secs = [&](std::string_view key, std::chrono::seconds fallback, std::chrono::seconds min,
                  std::chrono::seconds max) {
    auto d = c.get_duration(section, key, fallback);
    if (d < min || d > max) {
      config::Config::fail(*c.find(section, key),
                           "must be between " + std::to_string(min.count()) + "s and " +
                               std::to_string(max.count()) + "s");
    }
    return std::chrono::duration_cast<std::chrono::seconds>(d);
  };
  s.failure_window = secs("failure_window", s.failure_window, std::chrono::seconds(1),
                          std::chrono::hours(24 * 7));
  s.block_time = secs("block_time", s.block_time, std::chrono::seconds(1), std::chrono::hours(24));
  // Dovecot waits for the delay inside its auth process; its login clients give up after a while.
  s.max_delay = secs("max_delay", s.max_delay, std::chrono::seconds(1), std::chrono::seconds(60));
  s.delay_after = c.get_int(section, "delay_after", s.delay_after, 1, 1000000);
  s.ip_delay_after = c.get_int(section, "ip_delay_after", s.ip_delay_after, 1, 1000000);
  s.user_delay_after = c.get_int(section, "user_delay_after", s.user_delay_after, 1, 1000000);
  s.block_after = c.get_int(section, "block_after", s.block_after, 1, 1000000);
  s.fail_mode = c.get_choice(section, "fail_mode", "allow", {"allow", "refuse"}) == "refuse"
                    ? store::FailMode::refuse
                    : store::FailMode::allow;
  return s;
}

AuthPolicy::AuthPolicy(store::Store& store, Settings settings)
    : store_(store), settings_(std::move(settings)) {}

Verdict AuthPolicy::decide(const Attempt& a) {
  std::optional<net::IpAddress> ip;
  if (!a.remote.empty()) ip = net::IpAddress::parse(a.remote);
  if (ip) {
    for (const auto& n : settings_.allow_networks) {
      if (n.contains(*ip)) {
        Verdict v;
        v.reason = "allowlisted network " + n.to_string();
        return v;
      }
    }
  }
  // Logins are compared without ASCII case: Dovecot setups usually fold the user name
  // (auth_username_format = %Lu), and a guesser must not get fresh counters by changing case.
  const std::string userk = text::to_lower(a.login);
  const std::string ipk = ip ? counted_address(*ip, settings_.ipv6_prefix) : std::string();
  try {
    return a.command == Command::allow ? check(a, ip, ipk, userk) : report(a, ip, ipk, userk);
  } catch (const std::exception& e) {  // allocation failure and the like: never escapes
    return store_failure("decision", e.what());
  }
}

Verdict AuthPolicy::store_failure(std::string_view what, const std::string& detail) const {
  Verdict v;
  v.store_failed = true;
  if (settings_.fail_mode == store::FailMode::refuse) {
    v.status = -1;
    v.message = "Temporary failure; try again later";
    v.reason = "store " + std::string(what) + " failed (" + detail + "); fail_mode refuse";
  } else {
    v.reason = "store " + std::string(what) + " failed (" + detail + "); fail_mode allow";
  }
  return v;
}

Verdict AuthPolicy::check(const Attempt&, const std::optional<net::IpAddress>& ip,
                          const std::string& ipk, const std::string& userk) {
  std::vector<std::string> keys;
  if (ip) {
    keys.push_back("auth:block:" + ipk);
    keys.push_back("auth:fail:ip:" + ipk);
  }
  if (!userk.empty()) {
    keys.push_back("auth:fail:user:" + userk);
    if (ip) keys.push_back("auth:fail:ipuser:" + ipk + "|" + userk);
  }
  Verdict v;
  if (keys.empty()) {
    v.reason = "no address and no login to count";
    return v;
  }
  auto r = store_.get(keys);
  if (!r.ok()) return store_failure("read", r.detail);
  std::int64_t blocked = 0, f_ip = 0, f_user = 0, f_ipuser = 0;
  std::size_t i = 0;
  if (ip) {
    blocked = r.value[i++];
    f_ip = r.value[i++];
  }
  if (!userk.empty()) {
    f_user = r.value[i++];
    if (ip) f_ipuser = r.value[i++];
  }
  const std::string counts = "failures: address " + std::to_string(f_ip) + ", login " +
                             std::to_string(f_user) + ", login from address " +
                             std::to_string(f_ipuser);
  if (blocked > 0) {
    v.status = -1;
    v.message = kBlockedMessage;
    v.reason = "address " + ipk + " blocked (" + counts + ")";
    return v;
  }
  std::int64_t level = -1;
  if (ip && !userk.empty()) level = std::max(level, f_ipuser - settings_.delay_after);
  if (ip) level = std::max(level, f_ip - settings_.ip_delay_after);
  if (!userk.empty()) level = std::max(level, f_user - settings_.user_delay_after);
  if (level >= 0) {
    v.status = static_cast<int>(pow2_capped(level, settings_.max_delay.count()));
    v.reason = "delay " + std::to_string(v.status) + "s (" + counts + ")";
    return v;
  }
  v.reason = "allow (" + counts + ")";
  return v;
}

Verdict AuthPolicy::report(const Attempt& a, const std::optional<net::IpAddress>& ip,
                           const std::string& ipk, const std::string& userk) {
  Verdict v;
  if (a.success) {
    if (ip && !userk.empty()) {
      std::vector<std::string> keys{"auth:fail:ipuser:" + ipk + "|" + userk};
      auto r = store_.erase(keys);
      if (!r.ok()) return store_failure("reset", r.detail);
    }
    v.reason = "report: success";
    return v;
  }
  if (a.policy_reject) {
    v.reason = "report: refused by this policy (not counted again)";
    return v;
  }
  std::vector<store::CounterUpdate> updates;
  const auto ttl = settings_.failure_window;
  if (ip) updates.push_back({"auth:fail:ip:" + ipk, 1, ttl});
  if (!userk.empty()) {
    updates.push_back({"auth:fail:user:" + userk, 1, ttl});
    if (ip) updates.push_back({"auth:fail:ipuser:" + ipk + "|" + userk, 1, ttl});
  }
  if (updates.empty()) {
    v.reason = "report: failure with no address and no login";
    return v;
  }
  auto r = store_.add(updates);
  if (!r.ok()) return store_failure("count", r.detail);
  v.reason = "report: failure counted";
  if (ip && r.value[0] >= settings_.block_after) {
    std::vector<store::CounterUpdate> block{{"auth:block:" + ipk, 1, settings_.block_time}};
    auto b = store_.add(block);
    if (!b.ok()) return store_failure("block", b.detail);
    if (b.value[0] == 1) {
      v.reason += "; address " + ipk + " blocked for " +
                  std::to_string(settings_.block_time.count()) + "s after " +
                  std::to_string(r.value[0]) + " failures";
    }
  }
  return v;
}

}  // namespace mailward::auth_policy
