// Fuzz target: reading the authserv-id of hostile Authentication-Results values, and formatting
// entries built from arbitrary bytes (the formatted value must read back as the same authserv-id).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "milters/milter/authres.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  (void)mailward::milter::authserv_id_of(input);
  std::string half = input.substr(0, size / 2), rest = input.substr(size / 2);
  std::string formatted = mailward::milter::format_authentication_results(
      "mx.example.net", {{"dkim", "fail", half, {{"header.d", rest}}}});
  if (mailward::milter::authserv_id_of(formatted) != "mx.example.net") std::abort();
  return 0;
}
