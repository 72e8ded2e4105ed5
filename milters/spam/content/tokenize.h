// Tokens for the Bayesian classifier: what words, word pairs, selected headers, URL hosts and
// attachment types a message carries, each as a 64-bit hash (FNV-1a 64, written here; stable
// across builds and platforms, so stored token counts stay valid).
//
// Token strings (token_strings() shows them; tokenize() hashes exactly these):
//   word                 body word: case-folded (ASCII + Latin-1/Greek/Cyrillic simple folding),
//                        min_word_chars..max_word_chars characters; runs of digits collapse to "N" ("N" alone is dropped
//                        after folding: "2024" -> no token, "mp3" -> "mpN")
//   "skip:<c> <n>"       a longer word: first character and length rounded down to 10 (SpamAssassin)
//   "B:a b"              adjacent body words (word pairs), when options.bigrams
//   "H:<name>:word"      words of Subject, From, To, Reply-To, Content-Type, X-Mailer, User-Agent,
//                        and the display-name/domain of From; "H:subject:a b" pairs too
//   "U:<host>"           every URL host and its registrable parent labels ("U:a.b.example.com",
//                        "U:b.example.com", "U:example.com")
//   "A:<type/subtype>", "A:ext:<ext>"   attachments
//   "M:<phrase>"         parse anomalies ("M:bad base64"); "M:html-only" for HTML without text
// The set is sorted, unique and cut to max_tokens (body words first in message order, so the cut
// keeps the start of the text; header, URL and anomaly tokens are always kept).
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
