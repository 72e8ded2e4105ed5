// The Postfix policy delegation protocol (Postfix SMTPD_POLICY_README, "Protocol description"):
// a request is a series of `name=value` lines ending with an empty line; the answer is
// `action=...` followed by an empty line. Connections are persistent: many requests follow one
// another on one connection.
//
// RequestParser is a pure incremental function: bytes in (any split), complete requests out. It is
// strict: a line without '=', an attribute name outside [A-Za-z0-9_-], a NUL or CR inside a value,
// a repeated attribute, or anything beyond the limits is an error, after which the parser accepts
// nothing more (the daemon answers a temporary failure and closes the connection). Unknown
// attributes are accepted and ignored (SMTPD_POLICY_README: "the policy server must ignore
// attributes that it does not understand" — we keep them only by name-value, nothing reads them).
//
// Interpretation: Postfix ends lines with LF alone. We also accept CRLF (one CR right before the LF
// is dropped) so that an operator can test the service with a terminal; a CR anywhere else is an
// error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

namespace mailward::policy {

struct Limits {
  std::size_t max_line = 4096;        // bytes in one line, without its LF
  std::size_t max_attributes = 128;   // Postfix 3.7 sends about 40
  std::size_t max_request = 64 * 1024;  // bytes in one request, terminator included
};

// The attributes the checks read; everything else is ignored. Missing ones are empty.
struct Request {
  std::string request;          // "smtpd_access_policy"
  std::string protocol_state;   // CONNECT EHLO HELO MAIL RCPT DATA END-OF-MESSAGE VRFY ETRN
  std::string protocol_name;    // SMTP ESMTP
  std::string client_address;
  std::string client_name;
  std::string helo_name;
  std::string queue_id;
  std::string sender;
  std::string recipient;
  std::string recipient_count;  // decimal; set at END-OF-MESSAGE
  std::string instance;         // the same for every recipient of one message
  std::string sasl_username;
  std::string sasl_method;
  std::string size;
  std::size_t attribute_count = 0;  // every attribute seen, unknown ones included
};

enum class ParseError {
  none,
  line_too_long,
  too_many_attributes,
  request_too_large,
  missing_equals,      // a non-empty line without '='
  bad_attribute_name,  // empty, or a byte outside [A-Za-z0-9_-]
  bad_value_byte,      // NUL, or CR not right before LF
  duplicate_attribute,
};

std::string_view to_string(ParseError error) noexcept;

class RequestParser {
 public:
  explicit RequestParser(Limits limits = {}) : limits_(limits) {}

  // Consumes all of `bytes`, appending each completed request to `out`. Returns ParseError::none,
  // or the first error (then failed() is true and every later call returns that error at once).
  ParseError feed(std::string_view bytes, std::vector<Request>& out);

  bool failed() const noexcept { return error_ != ParseError::none; }
  ParseError error() const noexcept { return error_; }
  // Human-readable detail of the error (which attribute, which limit), for the log.
  const std::string& detail() const noexcept { return detail_; }
  // True when part of a request has been received (a connection closed now lost it).
  bool in_request() const noexcept { return !line_.empty() || request_bytes_ > 0; }

 private:
  ParseError line(std::string_view text, std::vector<Request>& out);
  ParseError fail(ParseError error, std::string detail);

  Limits limits_;
  Request current_;
  // Names in the current request, for the duplicate check: a hash per name, the name itself only
  // compared when two hashes are equal. The names are kept back to back in seen_names_ (no
  // allocation per name once warm); seen_bits_ is a 256-bit filter of the hashes, so most names
  // need no scan at all.
  struct Seen {
    std::uint64_t hash;
    std::uint32_t offset;
    std::uint32_t size;
  };
  std::vector<Seen> seen_;
  std::string seen_names_;
  std::uint64_t seen_bits_[4] = {0, 0, 0, 0};
  std::string line_;               // partial line carried between feed() calls
  std::size_t request_bytes_ = 0;
  ParseError error_ = ParseError::none;
  std::string detail_;
};

// The answer to one request: "action=" + action + "\n\n". `action` must not contain a newline
// (replaced by spaces if it does, so a reply can never inject a second line).
std::string format_response(std::string_view action);

}  // namespace mailward::policy
