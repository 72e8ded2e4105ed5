// An Internet message as the authentication checks see it (RFC 5322 §2.1-2.2).
//
// A HeaderField keeps the exact bytes after the colon (leading space included), with any folding
// as CRLF followed by the continuation's whitespace: DKIM's "simple" canonicalisation needs those
// bytes unchanged (RFC 6376 §3.4.1). The milter builds fields from libmilter's callbacks (it
// negotiates SMFIP_HDR_LEADSPC so the leading space is kept); tools build them from a file with
// parse_message(). Bodies are CRLF-terminated lines, as on the wire.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailward::mail {

struct HeaderField {
  std::string name;   // as written, e.g. "From"
  std::string value;  // bytes after ':' with CRLF in folds, no final CRLF
  // The value unfolded (CRLF removed) and trimmed, for parsers that do not need exact bytes.
  std::string unfolded() const;
};

struct Message {
  std::vector<HeaderField> headers;  // in order, top first
  std::string body;                  // CRLF line endings

  // The first / every field with this name (case-insensitive).
  const HeaderField* find(std::string_view name) const;
  std::vector<const HeaderField*> find_all(std::string_view name) const;
};

// Converts bare LF (and lone CR) line endings to CRLF; CRLF stays as it is.
std::string to_crlf(std::string_view text);

// Parses a message from a file or stdin: LF or CRLF endings, a header block ended by the first
// empty line (or by the end of input). Lines in the header block that are neither a field nor a
// continuation are skipped and counted in `malformed_lines` (if given). An mbox "From " line at
// the very top is skipped.
Message parse_message(std::string_view raw, std::size_t* malformed_lines = nullptr);

// Renders "Name:value\r\n" for each field, an empty line, then the body.
std::string render(const Message& message);

}  // namespace mailward::mail
