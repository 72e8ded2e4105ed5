// A message as the spam scorer sees it: MIME tree walked (RFC 2045-2049), bodies decoded, text
// converted to UTF-8, HTML reduced to text, URLs and attachments listed, anomalies counted.
//
// parse_mail() never throws and never fails: broken input is parsed as far as it goes and what was
// odd is recorded in `anomalies` (fixed short phrases, see the list below), which the rules engine
// may score. Every cost is bounded by MimeLimits (depth, parts, decoded bytes, header fields, HTML
// bytes, URLs) and the work is linear in the input size.
//
// Input: a whole message, LF or CRLF line endings, optionally preceded by an mbox "From " line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/mail/message.h"

namespace mailward::spam {

struct MimeLimits {
  std::size_t depth = 20;                            // multipart / message/rfc822 nesting
  std::size_t parts = 500;                           // MIME entities visited, all levels
  std::size_t decoded_bytes_total = 8u << 20;        // bytes produced by base64/QP, all parts
  std::size_t header_fields = 1000;                  // fields kept per header block
  std::size_t header_bytes = 256u << 10;             // bytes of one header block looked at
  std::size_t html_bytes = 2u << 20;                 // bytes of one HTML part fed to the reducer
  std::size_t text_bytes_total = 4u << 20;           // UTF-8 text kept over all TextParts
  std::size_t urls = 1000;                           // URLs kept (url_hosts is bounded by this too)
};

struct TextPart {
  std::string text;          // UTF-8 (invalid sequences repaired), runs of blanks -> one space,
                             // line breaks kept as '\n' (at most one empty line in a row)
  bool from_html = false;    // reduced from text/html
  std::string content_type;  // lowercased "type/subtype"
  std::string charset;       // lowercased charset label as declared ("" if none)
};

struct Attachment {
  std::string filename;      // UTF-8, from Content-Disposition filename(*) or Content-Type name(*)
  std::string content_type;  // lowercased "type/subtype"
  std::size_t size = 0;      // decoded size in bytes (base64: counted from the alphabet, not decoded)
};

struct ParsedMail {
  std::vector<mail::HeaderField> headers;  // top-level fields, raw (folds as CRLF + WSP)
  std::string subject, from, to;           // RFC 2047-decoded, unfolded, UTF-8 ("" if absent)
  std::vector<TextPart> texts;             // text/plain and text/html parts (HTML reduced)
  std::vector<std::string> urls;           // from text and HTML href/src/action/background, as
                                           // written (entity-decoded), deduped, <= 2048 bytes each
  std::vector<std::string> url_hosts;      // lowercased host names / IP literals, deduped
  std::vector<Attachment> attachments;     // every non-text leaf, and text parts marked attachment
                                           // (message/rfc822 parts are walked into, not listed)
  std::vector<std::string> anomalies;      // fixed phrases, each at most once, in order found
  std::size_t raw_size = 0;                // bytes of input
  std::size_t part_count = 0;              // MIME entities visited (top level counts as 1)
  std::size_t max_depth = 0;               // deepest nesting seen (top level = 0)
  bool has_html = false;                   // some text/html part was seen
  bool html_only = false;                  // text/html seen and no text/plain part

  // The first top-level field with this name (case-insensitive), or nullptr.
  const mail::HeaderField* header(std::string_view name) const;
  bool has_anomaly(std::string_view phrase) const;
};

// Anomaly phrases (exact strings, for rules to match):
//   "depth limit reached", "part limit reached", "decoded size limit reached",
//   "header field limit reached", "header size limit reached", "html size limit reached",
//   "text size limit reached", "url limit reached",
//   "bad base64", "bad quoted-printable", "unknown transfer encoding",
//   "unknown charset", "invalid utf-8", "bad encoded-word",
//   "missing boundary", "missing closing boundary", "missing header separator",
//   "malformed header line", "bad content-type", "hidden html text", "8bit in headers"
// Thread-safe (iconv descriptors are cached per thread).
ParsedMail parse_mail(std::string_view raw, const MimeLimits& limits = {});

// Decodes RFC 2047 encoded-words (B and Q; whitespace between adjacent encoded-words dropped,
// §6.2) and unfolds; other bytes are taken as UTF-8, or as windows-1252 where not valid UTF-8.
// `bad` (if given) is set when an encoded-word was malformed or its charset unknown.
std::string decode_header_value(std::string_view raw, bool* bad = nullptr);

}  // namespace mailward::spam
