// Netstring-framed socketmap requests and replies (Postfix socketmap_table(5)); see socketmap.h.
#include "policy/protocol/socketmap.h"

namespace mailward::policy {

bool SocketmapParser::fail(std::string detail) {
  failed_ = true;
  detail_ = std::move(detail);
  buf_.clear();
  return false;
}

bool SocketmapParser::feed(std::string_view bytes, std::vector<SocketmapQuery>& out) {
  if (failed_) return false;
  buf_.append(bytes);
  std::size_t pos = 0;
  while (pos < buf_.size()) {
    std::size_t colon = buf_.find(':', pos);
    std::size_t digits_end = colon == std::string::npos ? buf_.size() : colon;
    // At most 10 digits; a leading zero only for "0:" (netstrings forbid "01:").
    if (digits_end - pos > 10 || (digits_end == pos && colon != std::string::npos))
      return fail("bad netstring length");
    std::size_t len = 0;
    for (std::size_t i = pos; i < digits_end; ++i) {
      char c = buf_[i];
      if (c < '0' || c > '9') return fail("bad netstring length");
      len = len * 10 + static_cast<std::size_t>(c - '0');
    }
    if (digits_end - pos > 1 && buf_[pos] == '0') return fail("leading zero in netstring length");
    if (len > max_) return fail("request longer than " + std::to_string(max_) + " bytes");
    if (colon == std::string::npos) break;  // length still arriving
    if (buf_.size() < colon + 1 + len + 1) break;
    if (buf_[colon + 1 + len] != ',') return fail("netstring not terminated by ','");
    std::string_view payload(buf_.data() + colon + 1, len);
    std::size_t space = payload.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == payload.size())
      return fail("request is not \"name key\"");
    out.push_back({std::string(payload.substr(0, space)), std::string(payload.substr(space + 1))});
    pos = colon + 1 + len + 1;
  }
  buf_.erase(0, pos);
  return true;
}

std::string netstring(std::string_view payload) {
  std::string out = std::to_string(payload.size());
  out += ':';
  out += payload;
  out += ',';
  return out;
}

}  // namespace mailward::policy
