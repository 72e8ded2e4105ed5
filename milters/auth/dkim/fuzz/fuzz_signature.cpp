// Fuzz target dkim_signature: the tag-list (RFC 6376 §3.2) and DKIM-Signature (§3.5) parsers.
// Round trip: a parsed tag list rendered with render_tag_list() parses to the same tags; b= removal
// keeps every other byte.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "milters/auth/dkim/signature.h"

using namespace mailward::dkim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  TagList tl = parse_tag_list(in);
  if (tl.error == TagListError::ok) {
    std::vector<std::pair<std::string, std::string>> tags;
    for (const Tag& t : tl.tags) {
      if (in.substr(t.value_begin, t.value_end - t.value_begin) != t.value) std::abort();
      tags.emplace_back(std::string(t.name), std::string(t.value));
    }
    std::string printed = render_tag_list(tags);
    TagList again = parse_tag_list(printed);
    if (again.error != TagListError::ok || again.tags.size() != tags.size()) std::abort();
    for (std::size_t i = 0; i < tags.size(); ++i)
      if (again.tags[i].name != tags[i].first || again.tags[i].value != tags[i].second) std::abort();
    std::string nob = without_b_value(in);
    if (const Tag* b = tl.find("b"); b && nob.size() != in.size() - b->value.size()) std::abort();
  }
  SignatureParse sp = parse_signature(in);
  if (sp.ok()) {
    const Signature& s = sp.signature;
    if (s.domain.empty() || s.selector.empty() || s.signed_headers.empty() || s.body_hash.empty()) std::abort();
    if (s.identity.find('@') == std::string::npos) std::abort();
  }
  return 0;
}
