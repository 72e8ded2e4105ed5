// What `mailward setup postfix` changes in Postfix, decided by a pure function:
//   (Postfix's current settings, what mailward.conf asks for) -> a list of postconf changes.
// Reading the settings (postconf) and applying the changes are in postfix_io.h; nothing here does I/O.
//
// Decisions (README.md in this directory, "setup postfix"):
//   - smtpd_milters, non_smtpd_milters: `unix:<milter socket relative to the queue directory>` is
//     appended, other milters are kept. The socket must lie under queue_directory: Debian's master.cf
//     chroots smtpd and cleanup there, so an absolute path outside it cannot be reached.
//   - milter_default_action = tempfail (a milter that cannot answer defers mail, never lets it pass
//     unchecked), milter_protocol = 6.
//   - with a [policy] section: `check_policy_service unix:<policy socket>` first in
//     smtpd_relay_restrictions and in every submission service's own -o smtpd_relay_restrictions.
//     Interpretation: the brief asks for "before reject_unauth_destination"; we put it first, which
//     satisfies that and is also before permit_sasl_authenticated, without which the policy's sender
//     check (it acts only on authenticated clients) would never run.
//   - with routes in [policy]: socketmap tables appended to sender_dependent_relayhost_maps
//     (sender routes, fallback) and transport_maps (recipient routes) (policy/README.md).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"

namespace mailward::setup {

// A Postfix list (postconf(5): elements separated by commas and/or white space; `{ ... }` groups one
// element, e.g. `{ inet:host:port, default_action=accept }`). Empty elements are dropped.
std::vector<std::string> split_postfix_list(std::string_view value);

// The current settings, as read from Postfix.
struct PostfixSettings {
  // main.cf parameter -> value as `postconf -c DIR NAME` prints it (defaults included). A value that
  // is a Postfix conditional expression (`${{...}}`, e.g. the default smtpd_relay_restrictions) is
  // replaced by its expansion (`postconf -x`) by the reader.
  std::map<std::string, std::string> main;
  // master.cf services that run smtpd for submission ("submission/inet", "587/inet",
  // "127.0.0.1:submission/inet", "submissions/inet", "465/inet"), as "NAME/TYPE".
  std::vector<std::string> submission_services;
  // master.cf -o overrides: "NAME/TYPE/PARAMETER" -> value (`postconf -P`).
  std::map<std::string, std::string> overrides;
};

// What mailward.conf asks for.
struct PostfixWanted {
  std::string milter_socket;     // absolute path ([milter] socket)
  std::string policy_socket;     // absolute; empty: no [policy] section, the policy is not hooked in
  std::string socketmap_socket;  // absolute; empty: none
  bool sender_routes = false;    // route_sender_domain or route_fallback configured
  bool recipient_routes = false; // route_recipient_domain configured
  std::string source;            // the configuration file, for messages
};

// Reads [milter] (defaults apply) and, when present, [policy] with the parts' own readers.
// Throws config::ConfigError naming file and line.
PostfixWanted wanted_from_config(const config::Config& config);

struct PostfixChange {
  // Empty for main.cf; "NAME/TYPE" for a master.cf service override.
  std::string service;
  std::string parameter;
  bool was_set = true;  // false: a master.cf override that did not exist
  std::string old_value;
  std::string new_value;
  std::string reason;
  // The postconf argument that makes the change: "name = value" (-e) or "NAME/TYPE/name=value" (-P).
  std::string postconf_argument() const;
};

struct PostfixPlan {
  std::vector<PostfixChange> changes;
  std::vector<std::string> notes;  // what was left alone and why (printed as comments)
  std::string error;               // non-empty: refuse, nothing is changed
};

PostfixPlan plan_postfix(const PostfixSettings& current, const PostfixWanted& wanted);

// "unix:mailward/milter.sock" for /var/spool/postfix/mailward/milter.sock under queue directory
// /var/spool/postfix; empty when the path is not strictly below it.
std::string chroot_relative(std::string_view path, std::string_view queue_directory);

}  // namespace mailward::setup
