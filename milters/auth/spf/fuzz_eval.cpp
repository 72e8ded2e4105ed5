// Fuzz target spf_eval: evaluates check_host() against a StaticResolver whose TXT records come from
// the input (one line per record: line 1 for a.example, then b.example, c.example, ...), with fixed
// A, MX and PTR data. Checks that the whole evaluation stays within the §4.6.4 budget.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/dns/static_resolver.h"
#include "milters/auth/spf/spf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailward;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  dns::StaticResolver dns;
  char name = 'a';
  std::size_t start = 0;
  while (start <= input.size() && name <= 'h') {
    std::size_t nl = input.find('\n', start);
    if (nl == std::string_view::npos) nl = input.size();
    dns.add_txt(std::string(1, name) + ".example", std::string(input.substr(start, nl - start)));
    ++name;
    start = nl + 1;
  }
  auto ip4 = *net::IpAddress::parse("192.0.2.1");
  auto ip6 = *net::IpAddress::parse("2001:db8::1");
  for (const char* host : {"a.example", "b.example", "mx.a.example"}) {
    dns.add_address(host, ip4);
    dns.add_address(host, ip6);
  }
  dns.add_mx("a.example", 10, "mx.a.example");
  dns.add_mx("b.example", 10, "b.example");
  dns.add_ptr(ip4.reverse_name(), "mx.a.example");
  dns.add_ptr(ip6.reverse_name(), "b.example");
  dns.add_failure("t.example", dns::Status::timeout);
  dns.add_cname("loop.example", "loop2.example");
  dns.add_cname("loop2.example", "loop.example");

  spf::Request req;
  req.client_ip = size % 2 ? ip6 : ip4;
  req.mail_from = "user@a.example";
  req.helo = "mx.a.example";
  spf::Verdict v = spf::check_mail_from(dns, req);
  // 10 terms (+1 over) each needing at most 1 + 10 lookups, p macros and exp: far below 1000.
  if (v.dns_lookups > 11 || dns.lookup_count() > 1000) std::abort();
  if (v.result == spf::Result::none && v.problem.empty()) std::abort();
  return 0;
}
