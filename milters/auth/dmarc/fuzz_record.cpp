// Fuzz target dmarc_record: parse_record() on arbitrary bytes; a parsed record must be internally
// consistent (pct within 0..100, URIs non-empty), and parsing is deterministic.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "milters/auth/dmarc/dmarc.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view txt(reinterpret_cast<const char*>(data), size);
  const mailward::dmarc::RecordParse p = mailward::dmarc::parse_record(txt);
  if (p.record.has_value() == !p.error.empty()) std::abort();
  if (p.record) {
    if (p.record->percent > 100) std::abort();
    for (const auto& uri : p.record->aggregate_report_uris)
      if (uri.empty()) std::abort();
    if (!mailward::dmarc::is_dmarc_record(txt)) std::abort();
  }
  const mailward::dmarc::RecordParse again = mailward::dmarc::parse_record(txt);
  if (again.error != p.error || again.warnings != p.warnings) std::abort();
  return 0;
}
