// Payload presets: one pure function turns an event and its target into the HTTP request body,
// content type and headers for the receiver's API (generic JSON, ntfy, Gotify, Pushover, IFTTT
// Maker, Slack, Mattermost, Discord), plus the signature and idempotency headers every request
// carries. No I/O: secrets are passed in (notifyd reads them from the files at start and SIGHUP).
// Formats are documented in dovecot-plugins/notifyd/README.md ("Payloads").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/notify/event.h"
#include "common/notify/targets.h"

namespace mailward::notify {

struct Secrets {
  std::string signing_key;  // contents of secret_file (empty: no signature header)
  std::string token;        // contents of token_file (Pushover app token, Gotify key, ntfy token)
};

struct Payload {
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // format-specific headers
};

// The body and format-specific headers for `target.format`. Pure; never throws for any event
// (invalid UTF-8 becomes U+FFFD in JSON; CR, LF and other controls in header values become spaces).
Payload render_payload(const Event& event, const Target& target, const Secrets& secrets);

// "t=<unix>,v1=<hex HMAC-SHA256(key, "<unix>.<body>")>"
std::string signature(std::string_view key, std::int64_t unix_time, std::string_view body);

struct Request {
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // in sending order
  std::string body;
};

// The whole request: target headers, Content-Type, format headers, Idempotency-Key (event id) and,
// when a signing key is set, X-Mailward-Signature. The URL is the event's user URL when the target
// allows user URLs and the event has one (checked again at send time), else the target's.
Request build_request(const Event& event, const Target& target, const Secrets& secrets,
                      std::int64_t now_unix);

// The title and message a preset shows: the event's, or "New mail" / the subject when empty.
std::string display_title(const Event& event);
std::string display_message(const Event& event);

}  // namespace mailward::notify
