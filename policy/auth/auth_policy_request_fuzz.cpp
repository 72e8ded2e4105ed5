// Fuzz target: arbitrary bytes through the auth-policy connection (HTTP parser, shared key, JSON,
// decision over the memory store). Checks: never crashes; every answer is a well-formed HTTP
// response whose Content-Length matches its body; the connection's pending input stays bounded.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "common/log/log.h"
#include "policy/auth/endpoint.h"

using namespace mailward;

namespace {
struct Env {
  Env() {
    log::Settings quiet;  // one log line per request would drown the fuzzer's output
    quiet.destination = log::Destination::file;
    quiet.file_path = "/dev/null";
    log::init(quiet);
  }
  std::unique_ptr<store::Store> store = store::open_memory_store();
  auth_policy::AuthPolicy policy{*store, auth_policy::Settings{}};
  auth_policy::EndpointSettings settings = [] {
    auth_policy::EndpointSettings s;
    s.api_key = "k";
    s.limits.max_header_bytes = 2048;
    s.limits.max_body_bytes = 4096;
    return s;
  }();
  auth_policy::AuthPolicyEndpoint endpoint{policy, settings};
};

void check_responses(std::string_view out) {
  while (!out.empty()) {
    if (out.substr(0, 9) != "HTTP/1.1 ") std::abort();
    const auto end = out.find("\r\n\r\n");
    if (end == std::string_view::npos) std::abort();
    const auto cl = out.find("Content-Length: ");
    if (cl == std::string_view::npos || cl > end) std::abort();
    const std::size_t len = std::strtoul(std::string(out.substr(cl + 16, 12)).c_str(), nullptr, 10);
    if (out.size() < end + 4 + len) std::abort();
    out.remove_prefix(end + 4 + len);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A fresh store now and then: failure counters live an hour, so the memory store would
  // otherwise grow for the whole run.
  static std::unique_ptr<Env> env_holder;
  static unsigned runs = 0;
  if (!env_holder || ++runs % 20000 == 0) env_holder = std::make_unique<Env>();
  Env& env = *env_holder;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Whole input as one request...
  check_responses(env.endpoint.handle(in));
  // ... and as a stream split in two at a data-dependent point.
  auth_policy::AuthPolicyConnection conn(env.endpoint);
  std::string out;
  const std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  bool open = conn.on_data(in.substr(0, cut), out);
  if (open) conn.on_data(in.substr(cut), out);
  check_responses(out);
  return 0;
}
