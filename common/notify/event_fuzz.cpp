// Fuzz target: parse_event on arbitrary bytes must never crash; an accepted event must serialise
// and parse back to the same serialisation (round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/notify/event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  mailward::notify::ParseResult r = mailward::notify::parse_event(text);
  if (!r.event) return 0;
  std::string once = mailward::notify::serialize(*r.event);
  mailward::notify::ParseResult again = mailward::notify::parse_event(once);
  if (!again.event) std::abort();
  if (mailward::notify::serialize(*again.event) != once) std::abort();
  return 0;
}
