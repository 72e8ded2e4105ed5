// The Dovecot-free logic of the Sieve extension vnd.mailward.webhook: argument validation (used at
// compile time by the plugin when an argument is a constant, at run time when it holds variables),
// the per-message collapse/limit decision, user-URL acceptance, and building the notify::Event that
// the plugin writes into the spool at commit. No I/O, no Dovecot headers, never throws except
// std::bad_alloc (the C bridge, bridge.cpp, catches everything at the Dovecot boundary).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/notify/event.h"
#include "common/notify/targets.h"

namespace mailward::webhook {

// Limits on what a script can put into one event (a script is untrusted input; notifyd refuses
// files over 1 MiB, so the event stays far below that).
inline constexpr std::size_t kMaxFieldNameLength = 64;
inline constexpr std::size_t kMaxFields = 16;
inline constexpr std::size_t kMaxStringBytes = 4096;  // title, message, each field value, url

// :priority "low" | "normal" | "high" (exact, lowercase). nullopt for anything else.
std::optional<notify::Priority> parse_priority(std::string_view value);

// :field NAME: an RFC 9110 §5.6.2 token (tchar+), 1..kMaxFieldNameLength characters. We require a
// token so that every payload format can use the name as a JSON key, form key or header suffix
// without quoting.
bool is_field_name(std::string_view name);

// Why a webhook :url was refused (the URL itself may go to the log; it came from the user).
enum class UrlVerdict { accepted, not_allowed, not_https, malformed, host_not_listed };
std::string_view to_string(UrlVerdict v);
// Accepted only when the target has allow_user_url, the URL parses (notify::parse_url: no
// userinfo, a host), its scheme is https and its host is on target.url_hosts
// (notify::host_allowed). Whether the name resolves to a forbidden address (loopback, private,
// link-local, metadata) is decided by notifyd at send time, not here.
UrlVerdict check_user_url(const notify::Target& target, std::string_view url);

// Per-message decision for one webhook action, given the targets already recorded for this message
// (in order). Duplicate calls for the same target collapse to the first one (the later call is
// dropped, like Sieve's duplicate-action rule in RFC 5228 §4.2 for keep/fileinto); once `limit`
// distinct targets are recorded, further ones are dropped with a warning.
enum class AddDecision { add, duplicate, over_limit };
AddDecision decide_add(const std::vector<std::string>& recorded_targets, std::string_view target,
                       unsigned limit);

// What the script asked for (strings already variable-expanded by the interpreter).
struct Request {
  std::string target;
  std::string title;
  std::string message;
  std::string priority = "normal";  // text, validated again here (it may have come from a variable)
  std::vector<std::pair<std::string, std::string>> fields;
  std::optional<std::string> url;
};

// What the plugin read from the delivered message and the delivery context.
struct MessageFacts {
  std::string user;
  std::string mailbox;
  std::string envelope_from;
  std::string header_from;
  std::string to;
  std::string subject;
  std::string message_id;
  std::uint64_t size = 0;
  std::string body_text;  // decoded text the snippet is taken from (only read when asked)
};

struct BuildResult {
  std::optional<notify::Event> event;   // nullopt: nothing to write (see `refused`)
  std::string refused;                  // why no event (target unknown, user not allowed)
  std::vector<std::string> warnings;    // things dropped or replaced, for the log
};

// Builds the event for one recorded action. Refuses (no event) when the target is not configured
// or does not allow the user. Invalid priority -> "normal" with a warning; invalid field names are
// dropped with a warning; fields beyond kMaxFields dropped; strings truncated to kMaxStringBytes
// at a UTF-8 boundary; a user URL is kept only when check_user_url accepts it (warning otherwise).
// The snippet is set only when the target asks for one (snippet_bytes > 0).
BuildResult build_event(const notify::NotifySettings& settings, const Request& request,
                        const MessageFacts& facts, std::int64_t time_ms, std::string id);

// The first `max_bytes` bytes of `input` (never splitting a UTF-8 sequence), with runs of
// whitespace (including line breaks) collapsed to one space and leading/trailing space removed.
std::string make_snippet(std::string_view input, std::size_t max_bytes);

// The text a snippet is taken from: the first text/plain part of a raw message (RFC 2045/2046:
// a non-multipart text/plain body, or the first text/plain part found depth-first in multipart
// bodies, at most 4 levels deep), with its Content-Transfer-Encoding (quoted-printable, base64)
// undone. The charset is not converted; notify::serialize replaces invalid UTF-8. Returns "" when
// there is no text/plain part (HTML-only mail gives no snippet; we do not render HTML).
std::string body_text(std::string_view raw_message);

// Truncates to at most max_bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view input, std::size_t max_bytes);

}  // namespace mailward::webhook
