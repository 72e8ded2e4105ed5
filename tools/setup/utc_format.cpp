// utc_format (utc_format.h).
#include "tools/setup/utc_format.h"

#include <array>

namespace mailward::setup {

std::string utc_format(std::time_t t, const char* fmt) {
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return {};
  std::array<char, 64> buf{};
  // The format is the caller's (string literals in this directory); strftime never writes more
  // than buf.size() bytes whatever it is, so a non-literal format is safe here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  std::size_t n = std::strftime(buf.data(), buf.size(), fmt, &tm);
#pragma GCC diagnostic pop
  return std::string(buf.data(), n);
}

}  // namespace mailward::setup
