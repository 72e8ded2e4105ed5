// The Dovecot authentication policy decision (issue 4, "Dovecot authentication policy"): the logic
// behind the JSON-over-HTTP protocol of Dovecot's auth_policy_server_url (the one weakforced
// serves), with no HTTP in it. Dovecot 2.3 asks twice per login and reports once:
//   command=allow before authentication (auth_policy_check_before_auth) and, with the verified
//   password, after it (auth_policy_check_after_auth); the answer is a status: 0 = allow,
//   -1 = reject, N > 0 = delay the answer by N seconds (Dovecot auth-request.c);
//   command=report after authentication (auth_policy_report_after_auth) with "success" and
//   "policy_reject" (whether the failure was our own refusal).
// State lives in the Store, so two hosts sharing Redis share the counts:
//   auth:fail:ip:<addr>          failures from one address (IPv6: its /64 by default), any login
//   auth:fail:user:<login>       failures for one login from any address
//   auth:fail:ipuser:<addr>|<login>  failures of one login from one address; a success resets it
//   auth:block:<addr>            set for block_time once an address reaches block_after failures
// Each failure refreshes the counters' expiry (failure_window). When a block ends the address
// count is still high: attempts get the longest delay and its next failure blocks it again. The delay grows 1, 2, 4, ... s
// (capped at max_delay) with how far the largest count is past its threshold:
//   level = max(ipuser - delay_after, ip - ip_delay_after, user - user_delay_after); delay = 2^level.
// A login is never blocked for everyone (that would let anyone lock a user out): the per-login
// count only delays. Our own refusals (policy_reject = true) are not counted again.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/net/ip_address.h"
#include "common/store/store.h"

namespace mailward::config {
class Config;
}

namespace mailward::auth_policy {

struct Settings {
  std::vector<net::Network> allow_networks;     // never delayed, blocked or counted
  unsigned ipv6_prefix = 64;                    // IPv6 addresses are counted per prefix
  std::chrono::seconds failure_window{3600};    // counters expire this long after the last failure
  std::int64_t delay_after = 3;                 // ip+login failures before delays start
  std::int64_t ip_delay_after = 5;              // address failures (any login) before delays
  std::int64_t user_delay_after = 10;           // login failures (any address) before delays
  std::int64_t block_after = 10;                // address failures that start a block
  std::chrono::seconds block_time{900};
  std::chrono::seconds max_delay{8};
  store::FailMode fail_mode = store::FailMode::allow;  // while the store is unavailable
};

// Reads [section] keys (README.md in this directory): allow_networks, ipv6_prefix, failure_window,
// delay_after, ip_delay_after, user_delay_after, block_after, block_time, max_delay, fail_mode.
// Throws config::ConfigError naming the line. Does not check for unknown keys (the endpoint does).
Settings read_settings(const config::Config& config, std::string_view section);

enum class Command { allow, report };

struct Attempt {
  Command command = Command::allow;
  std::string login;     // as Dovecot sends it ("login" attribute); may be empty
  std::string remote;    // client address text ("remote"); may be empty
  std::string protocol;  // imap, pop3, smtp (Postfix SASL through Dovecot), ...
  bool success = false;        // report only
  bool policy_reject = false;  // report only
};

struct Verdict {
  int status = 0;          // Dovecot's answer: 0 allow, -1 reject, N > 0 delay N seconds
  std::string message;     // "msg" sent to Dovecot (shown as the failure reason); empty for 0
  std::string reason;      // for the log
  bool store_failed = false;  // the store was unavailable or failed: fail_mode decided
};

class AuthPolicy {
 public:
  AuthPolicy(store::Store& store, Settings settings);
  // Never throws; store failures become the fail mode (with store_failed set). Time is the
  // store's: counters expire by its clock (tests give the memory store a fake one).
  Verdict decide(const Attempt& attempt);
  const Settings& settings() const noexcept { return settings_; }

 private:
  Verdict check(const Attempt& a, const std::optional<net::IpAddress>& ip, const std::string& ipk,
                const std::string& userk);
  Verdict report(const Attempt& a, const std::optional<net::IpAddress>& ip, const std::string& ipk,
                 const std::string& userk);
  Verdict store_failure(std::string_view what, const std::string& detail) const;

  store::Store& store_;
  Settings settings_;
};

// The address as counted: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 masked to the prefix.
std::string counted_address(const net::IpAddress& ip, unsigned ipv6_prefix);

}  // namespace mailward::auth_policy
