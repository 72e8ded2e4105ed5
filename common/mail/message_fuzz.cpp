// Fuzz target: parse_message on arbitrary bytes, then render and parse again — the header fields
// and body must survive the round trip exactly (what the milter and `mailward verify` rely on).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/mail/message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  mailward::mail::Message first = mailward::mail::parse_message(raw);
  for (const auto& h : first.headers) (void)h.unfolded();
  // Rendering needs a body separated from headers; a message whose body would begin with what
  // looks like an mbox line or a continuation is still rendered faithfully.
  if (first.headers.empty()) return 0;
  mailward::mail::Message second = mailward::mail::parse_message(mailward::mail::render(first));
  if (second.headers.size() != first.headers.size()) std::abort();
  for (std::size_t i = 0; i < first.headers.size(); ++i)
    if (second.headers[i].name != first.headers[i].name ||
        second.headers[i].value != first.headers[i].value)
      std::abort();
  if (second.body != first.body) std::abort();
  return 0;
}
