// Incremental, strict parser for Postfix policy delegation requests (see request.h;
// Postfix SMTPD_POLICY_README, "Protocol description").
#include "policy/protocol/request.h"

#include <algorithm>

namespace mailward::policy {

std::string_view to_string(ParseError error) noexcept {
  switch (error) {
    case ParseError::none: return "none";
    case ParseError::line_too_long: return "line too long";
    case ParseError::too_many_attributes: return "too many attributes";
    case ParseError::request_too_large: return "request too large";
    case ParseError::missing_equals: return "line without '='";
    case ParseError::bad_attribute_name: return "bad attribute name";
    case ParseError::bad_value_byte: return "NUL or stray CR in a value";
    case ParseError::duplicate_attribute: return "repeated attribute";
  }
  return "unknown";
}

namespace {

struct NameBytes {
  bool ok[256] = {};
  constexpr NameBytes() {
    for (int c = 0; c < 256; ++c)
      ok[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
  }
};
constexpr NameBytes kNameBytes;

bool name_byte(char c) noexcept { return kNameBytes.ok[static_cast<unsigned char>(c)]; }

std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string* field_for(Request& r, std::string_view name) {
  // Attribute names are case-sensitive lowercase in SMTPD_POLICY_README.
  switch (name.size()) {
    case 4:
      if (name == "size") return &r.size;
      break;
    case 6:
      if (name == "sender") return &r.sender;
      break;
    case 7:
      if (name == "request") return &r.request;
      break;
    case 8:
      if (name == "queue_id") return &r.queue_id;
      if (name == "instance") return &r.instance;
      break;
    case 9:
      if (name == "recipient") return &r.recipient;
      if (name == "helo_name") return &r.helo_name;
      break;
    case 11:
      if (name == "client_name") return &r.client_name;
      if (name == "sasl_method") return &r.sasl_method;
      break;
    case 13:
      if (name == "protocol_name") return &r.protocol_name;
      if (name == "sasl_username") return &r.sasl_username;
      break;
    case 14:
      if (name == "client_address") return &r.client_address;
      if (name == "protocol_state") return &r.protocol_state;
      break;
    case 15:
      if (name == "recipient_count") return &r.recipient_count;
      break;
    default:
      break;
  }
  return nullptr;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

ParseError RequestParser::fail(ParseError error, std::string detail) {
  error_ = error;
  detail_ = std::move(detail);
  line_.clear();
  return error_;
}

ParseError RequestParser::feed(std::string_view bytes, std::vector<Request>& out) {
  if (failed()) return error_;
  while (!bytes.empty()) {
    std::size_t nl = bytes.find('\n');
    std::string_view chunk = nl == std::string_view::npos ? bytes : bytes.substr(0, nl);
    // Limits are checked before buffering, so memory per connection stays bounded.
    if (line_.size() + chunk.size() > limits_.max_line + 1)  // +1: a CR before LF
      return fail(ParseError::line_too_long,
                  "line longer than " + std::to_string(limits_.max_line) + " bytes");
    if (request_bytes_ + line_.size() + chunk.size() + 1 > limits_.max_request)
      return fail(ParseError::request_too_large,
                  "request larger than " + std::to_string(limits_.max_request) + " bytes");
    if (nl == std::string_view::npos) {
      line_.append(chunk);
      return ParseError::none;
    }
    ParseError e;
    if (line_.empty()) {
      e = line(chunk, out);
    } else {
      line_.append(chunk);
      std::string whole;
      whole.swap(line_);
      e = line(whole, out);
    }
    if (e != ParseError::none) return e;
    bytes.remove_prefix(nl + 1);
  }
  return ParseError::none;
}

ParseError RequestParser::line(std::string_view text, std::vector<Request>& out) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.size() > limits_.max_line)
    return fail(ParseError::line_too_long,
                "line longer than " + std::to_string(limits_.max_line) + " bytes");
  request_bytes_ += text.size() + 1;
  if (text.empty()) {
    // An empty line ends the request. An empty line with no attributes before it is an empty
    // request; it is passed on (the daemon answers it as a request without `request=`).
    out.push_back(std::move(current_));
    current_ = Request{};
    seen_.clear();
    seen_names_.clear();
    for (std::uint64_t& w : seen_bits_) w = 0;
    request_bytes_ = 0;
    return ParseError::none;
  }
  std::size_t eq = text.find('=');
  if (eq == std::string_view::npos)
    return fail(ParseError::missing_equals, "line without '=': \"" + printable(text) + "\"");
  std::string_view name = text.substr(0, eq);
  std::string_view value = text.substr(eq + 1);
  if (name.empty() || !std::all_of(name.begin(), name.end(), name_byte))
    return fail(ParseError::bad_attribute_name, "bad attribute name \"" + printable(name) + "\"");
  if (value.find('\0') != std::string_view::npos || value.find('\r') != std::string_view::npos)
    return fail(ParseError::bad_value_byte, "NUL or CR in the value of " + std::string(name));
  if (++current_.attribute_count > limits_.max_attributes)
    return fail(ParseError::too_many_attributes,
                "more than " + std::to_string(limits_.max_attributes) + " attributes");
  const std::uint64_t h = fnv1a(name);
  std::uint64_t& word = seen_bits_[(h >> 6) & 3];
  const std::uint64_t bit = std::uint64_t{1} << (h & 63);
  if (word & bit) {
    for (const Seen& seen : seen_)
      if (seen.hash == h && std::string_view(seen_names_).substr(seen.offset, seen.size) == name)
        return fail(ParseError::duplicate_attribute,
                    "attribute " + std::string(name) + " repeated");
  }
  word |= bit;
  // Names are at most max_line bytes and a request at most max_request: offsets fit 32 bits.
  seen_.push_back({h, static_cast<std::uint32_t>(seen_names_.size()),
                   static_cast<std::uint32_t>(name.size())});
  seen_names_.append(name);
  if (std::string* field = field_for(current_, name)) field->assign(value);
  return ParseError::none;
}

std::string format_response(std::string_view action) {
  std::string out;
  out.reserve(action.size() + 9);
  out += "action=";
  for (char c : action) out += (c == '\n' || c == '\r' || c == '\0') ? ' ' : c;
  out += "\n\n";
  return out;
}

}  // namespace mailward::policy
