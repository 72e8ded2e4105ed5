// `mailward policy ...`: operator commands for mailward-policyd's decisions, without a running
// daemon.
//   mailward policy check [--config FILE]
//       validate [policy] (and the sender map) as mailward-policyd --check does
//   mailward policy test [--config FILE] NAME=VALUE...
//       evaluate one policy request (attributes as Postfix sends them; request=smtpd_access_policy
//       and protocol_state=RCPT are added when missing) against the configured checks, with a fresh
//       in-memory store, and print the action and the reason:  "action=553 5.7.1 ..." / "reason: ..."
//   mailward policy route [--config FILE] relayhost|transport KEY
//       what the socketmap table answers for KEY
// Exit status: 0 done (test: whatever the action), 64 usage, 78 configuration error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mailward::policy {

int run_policy_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace mailward::policy
