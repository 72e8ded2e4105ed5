// Fuzz target: parse_slot on arbitrary bytes must never crash; a ready record's JSON lies inside
// the input right after the header, and re-encoding it gives the same length and checksum fields
// and a record that parses back to the same JSON. is_slot_name on the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/notify/slot.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailward::notify;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)is_slot_name(bytes);
  SlotRecord r = parse_slot(bytes);
  if (r.state != SlotState::ready && r.state != SlotState::prepared) return 0;
  if (r.json.data() != bytes.data() + kSlotHeaderBytes || r.json.size() > kSlotCapacity) std::abort();
  const std::string again =
      r.state == SlotState::ready ? encode_ready_slot(r.json) : encode_prepared_slot(r.json);
  if (bytes.substr(12, 8) != std::string_view(again).substr(12, 8)) std::abort();
  SlotRecord back = parse_slot(again);
  if (back.state != r.state || back.json != r.json) std::abort();
  return 0;
}
