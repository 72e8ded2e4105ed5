// The HTTP side of the Dovecot auth policy: requests as Dovecot 2.3's auth-policy.c sends them
//   POST <auth_policy_server_url path>?command=allow|report   (or "...&command=...")
//   Content-Type: application/json
//   <auth_policy_server_api_header>, e.g. "X-API-Key: SECRET" or "Authorization: Basic ..."
//   {"device_id":"","login":"alice","protocol":"imap","pwhash":"8a1b...","remote":"192.0.2.7",
//    "session_id":"..."[,"success":false,"policy_reject":false]}   (report adds the last two)
// and the answer {"status":N,"msg":"..."} (0 allow, -1 reject, N > 0 delay N seconds). The
// attribute names are those of Dovecot's default auth_policy_request_attributes; "login",
// "remote", "protocol" are read (strings), "success"/"policy_reject" (booleans) on report,
// everything else is ignored. Non-2xx answers make Dovecot use its own default
// (auth_policy_reject_on_fail), so every request error is a 4xx with a JSON body.
// The shared key is checked before anything else (constant-time comparison).
#pragma once

#include <string>
#include <string_view>

#include "policy/auth/auth_policy.h"
#include "policy/auth/http.h"

namespace mailward::auth_policy {

struct EndpointSettings {
  std::string path = "/";
  std::string api_header = "x-api-key";  // field name, lowercase
  std::string api_key;                   // the exact value expected (after trimming)
  HttpLimits limits;
};

// Everything [auth-policy] configures (README.md in this directory).
struct AuthPolicyConfig {
  Settings policy;
  EndpointSettings endpoint;
  std::string listen;  // "127.0.0.1:8099", "[::1]:8099" or "/path/to.sock" (standalone listener)
};
// Throws config::ConfigError naming the line (unknown keys included), and for an unreadable or
// empty api_key_file.
AuthPolicyConfig read_config(const config::Config& config, std::string_view section);

struct HttpAnswer {
  int http_status = 200;
  std::string body;   // JSON
  bool keep_alive = true;
  std::string render() const { return http_response(http_status, body, keep_alive); }
};

class AuthPolicyEndpoint {
 public:
  AuthPolicyEndpoint(AuthPolicy& policy, EndpointSettings settings);
  // One parsed request -> the answer. Never throws. Logs each decision.
  HttpAnswer respond(const HttpRequest& request);
  // A whole request's bytes -> the whole response's bytes (an incomplete or malformed request
  // gets a 400-class answer with Connection: close).
  std::string handle(std::string_view request_bytes);
  const EndpointSettings& settings() const noexcept { return settings_; }

 private:
  AuthPolicy& policy_;
  EndpointSettings settings_;
};

// One client connection's byte stream (persistent, pipelined requests answered in order). Fits
// mailward-policyd's Session::on_data: consumes bytes, appends responses to `out`, returns false
// when the connection should be closed after `out` is written.
class AuthPolicyConnection {
 public:
  explicit AuthPolicyConnection(AuthPolicyEndpoint& endpoint) : endpoint_(endpoint) {}
  bool on_data(std::string_view bytes, std::string& out);

 private:
  AuthPolicyEndpoint& endpoint_;
  std::string buffer_;
};

}  // namespace mailward::auth_policy
