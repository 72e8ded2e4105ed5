// Tokens for the Bayesian classifier: what words, word pairs, selected headers, URL hosts and
// attachment types a message carries, each as a 64-bit hash (FNV-1a 64, written here; stable
// across builds and platforms, so stored token counts stay valid).
//
// Token strings (token_strings() shows them; tokenize() hashes exactly these):
//   word                 body word: case-folded (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic),
//                        min_word_chars..max_word_chars characters; runs of digits collapse to "N"
//                        ("mp3" -> "mpN"; a bare number, "N", is dropped); zero-width characters and
//                        soft hyphens inside words are ignored ("fr<ZWSP>ee" -> "free")
//   "skip:<c> <n>"       a longer word: its first character and length rounded down to 10
//                        (SpamAssassin's marker)
//   "B:a b"              adjacent body words (word pairs), when options.bigrams; not across parts
//   "H:<name>:word"      words of the decoded Subject, From, To, and of Reply-To, X-Mailer,
//                        User-Agent, Content-Type; "H:subject:a b" pairs for the subject
//   "H:from-addr:<addr>" the From address, lowercased; "H:msgid-domain:<dom>" the Message-ID
//                        domain, or "H:no-message-id"
//   "N:<name>"           more_headers: each top-level field name present (lowercased), except
//                        fields a reader's own software adds (X-Spam-*, X-Virus-*, Status, X-Keywords,
//                        X-UID, Delivery-Date, Envelope-To, ...) and the Date
//   "H:<name>:word"      more_headers: words of every other such field (first 100 fields, 512 bytes
//                        each) not listed above, e.g. "H:precedence:bulk", "H:list-id:..."
//   "H:rcvd-host:<h>", "H:rcvd-dom:<last two labels>", "H:rcvd-ip:<a.b.c>", "H:rcvd-ip:<a.b>",
//   "H:received:<word>"  more_headers: the first 6 Received fields: relay host names, IPv4 /24 and
//                        /16 prefixes, and the other purely alphabetic words ("esmtp", "with")
//   "UP:word"            url_paths: words of URL paths and queries (first 100 URLs, 256 bytes each)
//   "U:<host>"           every URL host and its parent domains down to two labels
//                        ("U:a.b.example.com", "U:b.example.com", "U:example.com"); IP literals
//                        as "U:192.0.2.1" plus "U:ip-literal"
//   "A:<type/subtype>", "A:ext:<ext>"   attachments (extension lowercased, alphanumeric, <= 10)
//   "M:<phrase>"         parse anomalies ("M:bad base64"); "M:html-only" for HTML without text
// Header, URL, attachment and anomaly tokens are always kept; body tokens are taken in message
// order until max_tokens distinct tokens in all (so the cap keeps the start of the text). The
// result is sorted and unique. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "milters/spam/content/parsed_mail.h"

namespace mailward::spam {

struct TokenizerOptions {
  bool bigrams = true;
  bool header_tokens = true;
  bool more_headers = false;           // see "more headers" above
  bool url_paths = false;              // see "U:path" above
  std::size_t max_tokens = 4000;       // distinct tokens kept
  std::size_t max_body_bytes = 64u << 10;  // text bytes tokenized per message (start of the text)
  std::size_t min_word_chars = 3;      // characters (code points), after folding
  std::size_t max_word_chars = 15;     // longer words become a "skip:" marker
};

// The 64-bit FNV-1a hash of a token string.
std::uint64_t token_hash(std::string_view token) noexcept;

// Sorted unique token hashes, ready for the classifier.
std::vector<std::uint64_t> tokenize(const ParsedMail& mail, const TokenizerOptions& options = {});

// The same tokens as strings before hashing (sorted unique), for tests and `--explain`.
std::vector<std::string> token_strings(const ParsedMail& mail, const TokenizerOptions& options = {});

}  // namespace mailward::spam
