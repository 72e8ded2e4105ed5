// Fuzz target for the string handling of vnd.mailward.webhook that sees untrusted input: the
// snippet text extraction from a raw message (MIME structure, quoted-printable, base64), snippet
// cutting, and the checks on script arguments (field name, priority, user URL). Invariants: no
// crash, no sanitizer finding, results within their documented bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dovecot-plugins/sieve-webhook/webhook_logic.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using namespace mailward;
  const std::size_t max = data[0];  // first byte: the snippet / cut size
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::string text = webhook::body_text(in);
  const std::string snippet = webhook::make_snippet(text, max);
  if (snippet.size() > max) std::abort();
  if (!snippet.empty() && (snippet.front() == ' ' || snippet.back() == ' ')) std::abort();

  const std::string cut = webhook::truncate_utf8(in, max);
  if (cut.size() > max || in.substr(0, cut.size()) != cut) std::abort();
  // A cut ends at the input's end or before a byte that is not a UTF-8 continuation byte.
  if (cut.size() < in.size() && (static_cast<unsigned char>(in[cut.size()]) & 0xC0) == 0x80 &&
      cut.size() > 0)
    std::abort();

  if (webhook::is_field_name(in) && (in.empty() || in.size() > webhook::kMaxFieldNameLength))
    std::abort();
  if (const auto p = webhook::parse_priority(in); p && in != "low" && in != "normal" && in != "high")
    std::abort();

  notify::Target target;
  target.allow_user_url = true;
  target.url_hosts = {"hooks.example.net", "*.ntfy.example"};
  if (webhook::check_user_url(target, in) == webhook::UrlVerdict::accepted) {
    notify::UrlParts parts;
    if (!notify::parse_url(in, parts) || parts.scheme != "https" ||
        !notify::host_allowed(parts.host, target.url_hosts))
      std::abort();
  }
  return 0;
}
