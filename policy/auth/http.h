// A strict, bounded HTTP/1.1 request parser (RFC 9112) for the auth-policy endpoint: exactly what
// Dovecot's http-client sends (POST, Content-Length body, CRLF line ends, persistent connections),
// nothing more. Pure: bytes in, a parsed request or a typed error out.
// Refused: obsolete line folding (RFC 9112 §5.2), bare LF line ends (accepting them is optional,
// §2.2; we do not), Transfer-Encoding (Dovecot sends a Content-Length; chunked bodies are answered
// 501), conflicting Content-Length values (§6.3), a missing Host in HTTP/1.1 (RFC 9112 §3.2),
// whitespace between a field name and its colon (§5.1), and anything over the limits.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailward::auth_policy {

struct HttpLimits {
  std::size_t max_header_bytes = 8192;  // request line + fields + blank line
  std::size_t max_fields = 64;
  std::size_t max_body_bytes = 65536;
};

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path[?query]
  std::string path;
  std::string query;   // without '?'
  int minor_version = 1;  // HTTP/1.x
  std::vector<std::pair<std::string, std::string>> fields;  // names lowercased, values trimmed
  std::string body;
  bool keep_alive = true;
  // The value of the first field named `name` (lowercase), or nullptr.
  const std::string* field(std::string_view name) const;
};

enum class HttpParseState { complete, incomplete, bad };

struct HttpParseResult {
  HttpParseState state = HttpParseState::incomplete;
  std::size_t consumed = 0;  // bytes of the buffer this request used (complete only)
  int error_status = 0;      // bad: 400, 413, 414, 431, 501, 505
  std::string error;         // bad: why, for the log
  HttpRequest request;       // complete only
};

// Parses one request from the start of `buffer` (which may hold more than one).
HttpParseResult parse_http_request(std::string_view buffer, const HttpLimits& limits = {});

// One query parameter's value ("command" of "command=allow&x=1"), percent-decoding %XX; false
// when absent or malformed.
bool query_param(std::string_view query, std::string_view name, std::string& value);

std::string http_response(int status, std::string_view body, bool keep_alive,
                          std::string_view content_type = "application/json");
const char* http_reason(int status);

}  // namespace mailward::auth_policy
