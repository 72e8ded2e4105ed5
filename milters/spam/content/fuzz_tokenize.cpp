// Fuzz target: tokenize a parsed message and check that token_strings() hashes to exactly the
// same sorted set, that the cap holds for body tokens, and that the result is sorted and unique,
// with the optional token sources (more_headers, url_paths, bigrams) switched by the second byte.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "milters/spam/content/parsed_mail.h"
#include "milters/spam/content/tokenize.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  mailward::spam::ParsedMail m = mailward::spam::parse_mail(in);
  // Raw bytes as a text part too, so the word splitter sees arbitrary (repaired) input.
  mailward::spam::TextPart raw;
  raw.text = std::string(in);
  m.texts.push_back(raw);
  mailward::spam::TokenizerOptions o;
  o.max_tokens = size > 0 ? 1u + data[0] : 64;
  // Every combination of the optional token sources (more headers, URL paths, pairs).
  unsigned flags = size > 1 ? data[1] : 7u;
  o.more_headers = (flags & 1u) != 0;
  o.url_paths = (flags & 2u) != 0;
  o.bigrams = (flags & 4u) != 0;
  std::vector<std::uint64_t> hashes = mailward::spam::tokenize(m, o);
  std::vector<std::string> strings = mailward::spam::token_strings(m, o);
  if (hashes.size() != strings.size()) std::abort();
  std::vector<std::uint64_t> again;
  for (const std::string& s : strings) again.push_back(mailward::spam::token_hash(s));
  std::sort(again.begin(), again.end());
  if (again != hashes) std::abort();
  if (std::adjacent_find(hashes.begin(), hashes.end()) != hashes.end()) std::abort();
  return 0;
}
