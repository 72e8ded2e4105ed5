// Fuzz target spf_record: parses arbitrary bytes as an SPF record; a record that parses is printed
// back, parsed again, and must print identically (round trip).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "milters/auth/spf/record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  mailward::spf::ParseResult r = mailward::spf::parse_record(input);
  if (!r.ok()) return 0;
  std::string printed = mailward::spf::to_string(*r.record);
  mailward::spf::ParseResult again = mailward::spf::parse_record(printed);
  if (!again.ok() || mailward::spf::to_string(*again.record) != printed) std::abort();
  return 0;
}
