// Fuzz target: html_to_text on arbitrary input (repaired to UTF-8 first, as parse_mail does);
// the text must stay valid UTF-8, URLs bounded.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "milters/spam/content/charset.h"
#include "milters/spam/content/html.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  mailward::spam::repair_utf8(in);
  mailward::spam::HtmlText h = mailward::spam::html_to_text(in, 1u << 16, 16);
  if (h.urls.size() > 16) std::abort();
  std::string copy = h.text;
  if (mailward::spam::repair_utf8(copy)) std::abort();
  std::string d = mailward::spam::decode_html_entities(in);
  if (mailward::spam::repair_utf8(d)) std::abort();
  return 0;
}
