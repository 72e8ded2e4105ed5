// One HTTP request to a receiver, as a libcurl easy handle: TLS verification on (system CA store,
// plus the target's ca_file), only http/https (https only for user URLs), no redirects, no proxy
// from the environment, the target's timeout, and for user URLs the checked addresses pinned with
// CURLOPT_RESOLVE. Used by the daemon (curl multi) and by `mailward notify test` (curl easy).
// Also: reading a target's secrets from its files.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/ip_address.h"
#include "common/notify/payload.h"
#include "common/notify/targets.h"

namespace mailward::notifyd {

struct Response {
  long status = 0;            // HTTP status; 0 when no response (transport error)
  std::string body;           // first 64 KiB
  std::string retry_after;    // Retry-After header value, if any
  std::string error;          // curl's error text when status == 0
  double seconds = 0;         // total time
};

class Transfer {
 public:
  // `pinned`: addresses for the URL's host (user URLs); empty: normal resolution.
  // `reuse`: an easy handle released by an earlier transfer (release()); it is reset
  // (curl_easy_reset: every option back to its default) and owned by the new transfer, which saves
  // allocating and tearing down a handle per request. nullptr: a new handle.
  static std::unique_ptr<Transfer> create(const notify::Request& request, const notify::Target& target,
                                          bool user_url, const std::vector<net::IpAddress>& pinned,
                                          std::string& error, CURL* reuse = nullptr);
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* handle() const { return curl_; }
  // Gives up the easy handle (for a later create(..., reuse)); call after finish().
  CURL* release() {
    CURL* c = curl_;
    curl_ = nullptr;
    return c;
  }
  Response finish(CURLcode code);
  // Blocking, for `mailward notify test`.
  Response perform();

 private:
  Transfer() = default;
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self);
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self);
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  curl_slist* resolve_ = nullptr;
  std::string body_;        // request body (curl reads it from here)
  std::string response_;
  std::string retry_after_;
  char error_[CURL_ERROR_SIZE] = {};
};

// Reads secret_file and token_file (trailing newline removed). Never logs their contents.
bool load_secrets(const notify::Target& target, notify::Secrets& out, std::string& error);

}  // namespace mailward::notifyd
