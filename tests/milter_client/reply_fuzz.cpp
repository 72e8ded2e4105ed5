// Fuzz target: a stream of hostile milter reply packets. Every packet the codec accepts must encode
// back to exactly the bytes it came from and parse again to the same Reply (strict layouts, codec.h).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tests/milter_client/codec.h"

using namespace mailward::milter_client;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    FrameResult f = decode_frame(input, 1 << 20);
    if (f.status != DecodeStatus::ok) break;
    if (f.consumed == 0 || f.consumed > input.size()) std::abort();
    std::string_view packet = input.substr(0, f.consumed);
    input.remove_prefix(f.consumed);
    ReplyResult r = parse_reply(f.frame);
    if (r.status != DecodeStatus::ok) {
      if (r.detail.empty()) std::abort();
      continue;
    }
    std::string again = encode_reply(r.reply);
    if (again != packet) std::abort();
    FrameResult f2 = decode_frame(again, 1 << 20);
    if (f2.status != DecodeStatus::ok) std::abort();
    ReplyResult r2 = parse_reply(f2.frame);
    if (r2.status != DecodeStatus::ok || !(r2.reply == r.reply)) std::abort();
  }
  return 0;
}
