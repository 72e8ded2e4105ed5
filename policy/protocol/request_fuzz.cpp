// Fuzz target: the policy request parser on hostile bytes, fed in two pieces at a data-chosen split.
// Checks: the same requests come out as from one feed; limits hold; nothing after an error.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "policy/protocol/request.h"
#include "policy/protocol/socketmap.h"

using namespace mailward::policy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t cut = all.empty() ? 0 : data[0] % (all.size() + 1);
  Limits limits;
  limits.max_line = 64;
  limits.max_attributes = 8;
  limits.max_request = 256;

  RequestParser whole(limits);
  std::vector<Request> a;
  ParseError ea = whole.feed(all, a);

  RequestParser split(limits);
  std::vector<Request> b;
  ParseError eb = split.feed(all.substr(0, cut), b);
  if (eb == ParseError::none) eb = split.feed(all.substr(cut), b);

  if (ea != eb || a.size() != b.size()) std::abort();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].sender != b[i].sender || a[i].recipient != b[i].recipient ||
        a[i].attribute_count != b[i].attribute_count)
      std::abort();
    if (a[i].attribute_count > limits.max_attributes) std::abort();
    if (a[i].sender.size() > limits.max_line) std::abort();
  }
  std::vector<Request> after;
  if (whole.failed() && (whole.feed("request=x\n\n", after) != ea || !after.empty())) std::abort();
  std::string reply = format_response(all);
  if (reply.find('\n') != reply.size() - 2) std::abort();

  SocketmapParser sm(100);
  std::vector<SocketmapQuery> q;
  sm.feed(all, q);
  for (const auto& x : q)
    if (x.name.size() + x.key.size() + 1 > 100) std::abort();
  return 0;
}
