// Fuzz target dkim_canon: header and body canonicalisation (RFC 6376 §3.4). The body is fed once
// whole and once in chunks whose sizes come from the input; both must give the same bytes, and
// canonical output must be a fixed point (canonicalising it again changes nothing).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "milters/auth/dkim/canon.h"
#include "milters/auth/dkim/tests/canon_reference.h"

using namespace mailward::dkim;
using mailward::dkim::testing::reference_body;
using mailward::dkim::testing::reference_header;

namespace {

std::string run(Canon c, std::string_view body, std::string_view splits) {
  BodyCanonicalizer bc(c);
  std::string out;
  std::size_t pos = 0, k = 0;
  while (pos < body.size()) {
    std::size_t n = splits.empty() ? body.size() : 1 + static_cast<std::size_t>(static_cast<unsigned char>(splits[k++ % splits.size()]) % 16);
    n = std::min(n, body.size() - pos);
    out.append(bc.update(body.substr(pos, n)));
    pos += n;
  }
  out.append(bc.finish());
  if (bc.emitted() != out.size()) std::abort();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Layout: first byte = number of split bytes (mod 8), then split bytes, then the text.
  std::size_t nsplit = in.empty() ? 0 : static_cast<unsigned char>(in[0]) % 8;
  std::string_view rest = in.empty() ? in : in.substr(1);
  std::string_view splits = rest.substr(0, std::min(nsplit, rest.size()));
  std::string_view body = rest.substr(splits.size());
  for (Canon c : {Canon::simple, Canon::relaxed}) {
    std::string whole = run(c, body, {});
    std::string chunked = run(c, body, splits);
    if (whole != chunked) std::abort();
    if (whole != reference_body(c, body)) std::abort();
    if (run(c, whole, {}) != whole) std::abort();
    if (!whole.empty() && !(whole.size() >= 2 && whole.substr(whole.size() - 2) == "\r\n")) std::abort();
    // l=: a limiter never passes more than its limit.
    BodyLimiter lim(static_cast<std::uint64_t>(body.size() / 2));
    if (lim.take(whole).size() > body.size() / 2) std::abort();
    // Headers: split the text at the first ':' into name and value.
    std::size_t colon = body.find(':');
    std::string_view name = body.substr(0, colon == std::string_view::npos ? body.size() : colon);
    std::string h;
    append_canonical_header(h, c, name, colon == std::string_view::npos ? std::string_view() : body.substr(colon + 1));
    if (h != reference_header(c, name, colon == std::string_view::npos ? std::string_view() : body.substr(colon + 1)))
      std::abort();
    // The same value cut in two (as the verifier passes the DKIM-Signature around b=).
    {
      const std::string_view value = colon == std::string_view::npos ? std::string_view() : body.substr(colon + 1);
      const std::size_t cut = value.empty() ? 0 : static_cast<unsigned char>(in[0]) % (value.size() + 1);
      const std::string_view a = value.substr(0, cut), b = value.substr(cut);
      std::string buf(canonical_header_room(name, a, b), '\0');
      char* end = write_canonical_header(buf.data(), c, name, a, b);
      if (std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data())) != h) std::abort();
    }
    // Relaxed values are unfolded (names are taken as given: a field name never holds CR or LF).
    bool name_clean = name.find_first_of("\r\n") == std::string_view::npos;
    if (c == Canon::relaxed && name_clean && h.find_first_of("\r\n") != std::string::npos) std::abort();
  }
  return 0;
}
