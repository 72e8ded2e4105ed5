#include "common/mail/message.h"

#include "common/util/text.h"

namespace mailward::mail {

std::string HeaderField::unfolded() const {
  std::string out;
  out.reserve(value.size());
  for (char c : value)
    if (c != '\r' && c != '\n') out.push_back(c);
  return std::string(text::trim(out));
}

const HeaderField* Message::find(std::string_view name) const {
  for (const HeaderField& h : headers)
    if (text::iequals(h.name, name)) return &h;
  return nullptr;
}

std::vector<const HeaderField*> Message::find_all(std::string_view name) const {
  std::vector<const HeaderField*> out;
  for (const HeaderField& h : headers)
    if (text::iequals(h.name, name)) out.push_back(&h);
  return out;
}

std::string to_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      out.append("\r\n");
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out.append("\r\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

// RFC 5322 §3.6.8: field-name is printable US-ASCII except ':' (and space).
bool is_field_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126) return false;
  }
  return true;
}

}  // namespace

Message parse_message(std::string_view raw, std::size_t* malformed_lines) {
  Message msg;
  std::string text = to_crlf(raw);
  std::string_view rest = text;
  if (rest.starts_with("From ")) {  // mbox separator
    std::size_t eol = rest.find("\r\n");
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
  }
  std::size_t malformed = 0;
  while (!rest.empty()) {
    std::size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    if (line.empty()) break;  // end of header block
    if (text::is_space_or_tab(line.front())) {
      if (msg.headers.empty()) {
        ++malformed;
        continue;
      }
      msg.headers.back().value.append("\r\n");
      msg.headers.back().value.append(line);
      continue;
    }
    std::size_t colon = line.find(':');
    std::string_view name = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
    // Tolerate "Name :value" (obsolete syntax, RFC 5322 §4.5.8) by trimming trailing blanks.
    while (!name.empty() && text::is_space_or_tab(name.back())) name.remove_suffix(1);
    if (!is_field_name(name)) {
      ++malformed;
      continue;
    }
    msg.headers.push_back({std::string(name), std::string(line.substr(colon + 1))});
  }
  msg.body.assign(rest);
  if (malformed_lines) *malformed_lines = malformed;
  return msg;
}

std::string render(const Message& message) {
  std::string out;
  for (const HeaderField& h : message.headers) {
    out.append(h.name);
    out.push_back(':');
    out.append(h.value);
    out.append("\r\n");
  }
  out.append("\r\n");
  out.append(message.body);
  return out;
}

}  // namespace mailward::mail
