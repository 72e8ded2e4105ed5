// Fuzz target spf_macro: expands arbitrary bytes as a macro-string, in domain-spec and explanation
// modes, with a fixed request; checks the output bounds of RFC 7208 §7.3 and macro.h.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "milters/auth/spf/macro.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailward::spf;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  MacroContext c;
  c.sender = "strong-bad@email.example.com";
  c.local_part = "strong-bad";
  c.sender_domain = "email.example.com";
  c.domain = "email.example.com";
  c.ip = *mailward::net::IpAddress::parse(size % 2 ? "2001:db8::cb01" : "192.0.2.3");
  c.helo = "mx.example.org";
  c.receiver = "mx.receiver.example";
  c.now = 1700000000;
  c.validated_name = [] { return std::string("mx.example.org"); };
  MacroResult d = expand(input, c, MacroMode::domain_spec);
  if (d.ok() && d.text.size() > kMaxDomainName) std::abort();
  if (!d.ok() && check_macro_string(input, MacroMode::domain_spec) == MacroError::none &&
      d.error != MacroError::too_long)
    std::abort();
  MacroResult e = expand(input, c, MacroMode::explanation);
  if (e.ok() && e.text.size() > kMaxExplanation) std::abort();
  return 0;
}
