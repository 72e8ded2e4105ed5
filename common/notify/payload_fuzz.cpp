// Fuzz target: a fuzzed event rendered in every payload format. JSON formats must produce valid
// JSON (strict parse), header values must hold no CR/LF, and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "common/notify/payload.h"

namespace {
std::string take(const std::uint8_t*& data, std::size_t& size) {
  if (size == 0) return {};
  std::size_t n = data[0] % 64;
  ++data;
  --size;
  if (n > size) n = size;
  std::string out(reinterpret_cast<const char*>(data), n);
  data += n;
  size -= n;
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailward::notify;
  Event e;
  e.id = "0123456789abcdef0123456789abcdef";
  e.user = "u" + take(data, size);  // parse_event requires a non-empty user and target
  e.target = "t";
  e.header_from = take(data, size);
  e.subject = take(data, size);
  e.title = take(data, size);
  e.message = take(data, size);
  e.fields.emplace_back(take(data, size), take(data, size));
  e.priority = size % 3 == 0 ? Priority::low : size % 3 == 1 ? Priority::normal : Priority::high;
  e.message += std::string(reinterpret_cast<const char*>(data), size);
  Secrets secrets{"key", take(data, size)};
  for (PayloadFormat f : {PayloadFormat::generic, PayloadFormat::ntfy, PayloadFormat::gotify,
                          PayloadFormat::pushover, PayloadFormat::ifttt, PayloadFormat::slack,
                          PayloadFormat::mattermost, PayloadFormat::discord}) {
    Target t;
    t.format = f;
    t.url = "https://h/";
    Request r = build_request(e, t, secrets, 1);
    std::string content_type;
    for (const auto& [name, value] : r.headers) {
      if (value.find_first_of("\r\n", 0) != std::string::npos) std::abort();
      if (name == "Content-Type") content_type = value;
    }
    if (content_type == "application/json") {
      nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_discarded() || !j.is_object()) std::abort();
    }
    if (f == PayloadFormat::generic && !parse_event(r.body).event) std::abort();
  }
  return 0;
}
