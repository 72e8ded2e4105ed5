// Authentication-Results header fields (RFC 8601).
//
// Builds the one field mailward adds, and reads the authserv-id of fields already present so that
// those claiming to be ours can be removed (RFC 8601 §5: a receiver MUST remove or rename fields that
// claim its authserv-id before adding its own, or a sender could forge our verdicts).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailward::milter {

// One "method=result" entry with its properties, e.g. dkim=pass header.d=example.com.
struct AuthResultEntry {
  std::string method;   // spf, dkim, dmarc
  std::string result;   // pass, fail, ...
  std::string comment;  // without parentheses; may be empty
  std::vector<std::pair<std::string, std::string>> properties;  // ("header.d", "example.com")
};

// The value for "Authentication-Results:" (leading space included, entries folded onto their own
// lines with "\r\n\t"). With no entries the RFC 8601 §2.2 form "authserv-id; none" is produced.
std::string format_authentication_results(std::string_view authserv_id,
                                          const std::vector<AuthResultEntry>& entries);

// The authserv-id of an existing field's value: the first token after any comments and white space,
// before ';' or a version number. Empty when the value is unparseable.
std::string authserv_id_of(std::string_view value);

// Quotes a property value as an RFC 2045 quoted-string when it is not a plain token or an
// RFC 8601 §2.2 "[local-part@]domain" value.
std::string property_value(std::string_view value);

}  // namespace mailward::milter
