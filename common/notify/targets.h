// Notification targets, as the administrator configures them in mailward.conf. Both the Sieve
// plugin (which targets exist, who may use them, user URLs, snippet) and mailward-notifyd (how to
// send) read them through this one parser.
//
//   [notify]
//   spool = /var/spool/mailward/notify
//   per_message_limit = 3
//
//   [target.phone]                      ; the name scripts use: webhook "phone"
//   url = https://ntfy.example/alerts
//   format = ntfy                       ; generic | ntfy | gotify | pushover | ifttt | slack | mattermost | discord
//   method = POST
//   header = X-Priority: 3              ; repeatable
//   secret_file = /etc/mailward/secrets/phone   ; HMAC-SHA256 signature key, never in a script
//   timeout = 5s
//   max_attempts = 12
//   max_age = 1d                        ; then dead-lettered
//   rate_per_target = 60/1m
//   rate_per_user = 10/1m
//   users = alice@example.org, @example.org, *    ; who may use the target (default: nobody)
//   allow_user_url = no
//   url_hosts = hooks.example.net, *.ntfy.sh        ; allowlist for :url (https only)
//   snippet = 0                         ; bytes of body text to include (0 = none)
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailward::config {
class Config;
}

namespace mailward::notify {

enum class PayloadFormat { generic, ntfy, gotify, pushover, ifttt, slack, mattermost, discord };

struct RateLimit {
  unsigned count = 0;               // 0 = unlimited
  std::chrono::seconds per{60};
};

struct Target {
  std::string name;
  std::string url;
  PayloadFormat format = PayloadFormat::generic;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string secret_file;          // empty: no signature header
  std::chrono::milliseconds timeout{5000};
  unsigned max_attempts = 12;
  std::chrono::seconds max_age{86400};
  RateLimit rate_per_target;
  RateLimit rate_per_user;
  std::vector<std::string> users;   // "user@dom", "@dom", "*"
  bool allow_user_url = false;
  std::vector<std::string> url_hosts;
  std::size_t snippet_bytes = 0;
  // Added for notifyd (documented in dovecot-plugins/notifyd/README.md):
  std::string ca_file;              // extra CA bundle (PEM) trusted for this target, besides the system's
  std::string token_file;           // file holding an API token: Pushover app token, Gotify app key
                                    // (X-Gotify-Key), ntfy access token (Authorization: Bearer)
  std::string pushover_user;        // Pushover user/group key (format pushover)

  bool allows_user(std::string_view user) const;
};

struct NotifySettings {
  std::string spool = "/var/spool/mailward/notify";
  unsigned per_message_limit = 3;
  std::vector<Target> targets;      // in file order
  // Added for notifyd ([notify] keys; README in dovecot-plugins/notifyd/):
  std::string user;                 // drop privileges to this user when started as root
  std::string metrics_listen;       // "127.0.0.1:9468"; empty = no metrics endpoint
  std::chrono::seconds rescan_interval{30};
  unsigned max_in_flight = 64;      // requests in flight at once
  std::string log;                  // "stderr", "syslog" or /path (empty: [log] destination)
  std::string log_level;            // empty: [log] level
  bool log_sent_debug = false;      // log_sent = debug: the line per sent event at debug, not info
  std::chrono::milliseconds batch_window{10};  // new events gathered this long before sending (0: at once)

  const Target* find(std::string_view name) const;
};

// Throws config::ConfigError ("FILE:LINE: [target.phone] format: ...") on any bad value or
// unknown key. A config without [target.*] sections yields no targets (the extension is then not
// offered to scripts).
NotifySettings parse_notify_settings(const config::Config& config);

// "https://host[:port]/path" split; false when the URL is not http(s) or has no host.
struct UrlParts {
  std::string scheme;  // lowercase
  std::string host;    // lowercase, IPv6 without brackets
  unsigned port = 0;   // explicit or the scheme's default
  std::string path;    // from the first '/', or "/"
};
bool parse_url(std::string_view url, UrlParts& out);

// True when `host` matches an allowlist entry: "example.net" exactly, "*.example.net" any name
// below it (not example.net itself). Case-insensitive, trailing dot ignored.
bool host_allowed(std::string_view host, const std::vector<std::string>& allowlist);

std::string_view to_string(PayloadFormat format);

}  // namespace mailward::notify
