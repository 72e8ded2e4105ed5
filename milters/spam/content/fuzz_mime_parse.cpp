// Fuzz target: parse_mail on arbitrary bytes, with small limits half the time so the limit paths
// run too; checks the promises of parsed_mail.h (valid UTF-8 text, bounded counts).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "milters/spam/content/charset.h"
#include "milters/spam/content/parsed_mail.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  mailward::spam::MimeLimits limits;
  if (size > 0 && (data[0] & 1) != 0) {
    limits.depth = 3;
    limits.parts = 8;
    limits.decoded_bytes_total = 512;
    limits.header_fields = 4;
    limits.header_bytes = 256;
    limits.html_bytes = 128;
    limits.text_bytes_total = 256;
    limits.urls = 3;
  }
  mailward::spam::ParsedMail m = mailward::spam::parse_mail(in, limits);
  if (m.part_count > limits.parts + 1 || m.max_depth > limits.depth || m.urls.size() > limits.urls)
    std::abort();
  std::size_t text = 0;
  for (const auto& t : m.texts) {
    std::string copy = t.text;
    if (mailward::spam::repair_utf8(copy)) std::abort();
    text += t.text.size();
  }
  if (text > limits.text_bytes_total) std::abort();
  for (std::string s : {m.subject, m.from, m.to})
    if (mailward::spam::repair_utf8(s)) std::abort();
  return 0;
}
