#include "milters/milter/authres.h"

#include "common/util/text.h"

namespace mailward::milter {

namespace {

// RFC 2045 §5.1 tspecials, minus '@' and '.', which RFC 8601 §2.2 allows in pvalue.
bool is_plain_value_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 32 || u >= 127) return false;
  switch (c) {
    case '(': case ')': case '<': case '>': case ',': case ';': case ':': case '\\':
    case '"': case '/': case '[': case ']': case '?': case '=':
      return false;
    default:
      return true;
  }
}

// Sanitises a comment: no parentheses or backslashes or control characters that could end it early.
std::string comment_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '(' || c == ')' || c == '\\' || u < 32 || u == 127) out.push_back(' ');
    else out.push_back(c);
  }
  return out;
}

}  // namespace

std::string property_value(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) plain = plain && is_plain_value_char(c);
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 32 || u == 127) continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string format_authentication_results(std::string_view authserv_id,
                                          const std::vector<AuthResultEntry>& entries) {
  std::string out = " ";
  out.append(authserv_id);
  out.push_back(';');
  if (entries.empty()) {
    out.append(" none");
    return out;
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const AuthResultEntry& e = entries[i];
    out.append("\r\n\t");
    out.append(e.method);
    out.push_back('=');
    out.append(e.result);
    if (!e.comment.empty()) {
      out.append(" (");
      out.append(comment_text(e.comment));
      out.push_back(')');
    }
    for (const auto& [name, value] : e.properties) {
      out.push_back(' ');
      out.append(name);
      out.push_back('=');
      out.append(property_value(value));
    }
    if (i + 1 < entries.size()) out.push_back(';');
  }
  return out;
}

std::string authserv_id_of(std::string_view value) {
  std::size_t i = 0;
  // Skip CFWS: white space and (possibly nested) comments, RFC 5322 §3.2.2.
  for (;;) {
    while (i < value.size() && text::is_fws(value[i])) ++i;
    if (i < value.size() && value[i] == '(') {
      int depth = 0;
      for (; i < value.size(); ++i) {
        if (value[i] == '\\') {
          ++i;
          continue;
        }
        if (value[i] == '(') ++depth;
        if (value[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
      if (depth != 0) return {};
      continue;
    }
    break;
  }
  std::size_t start = i;
  if (i < value.size() && value[i] == '"') {  // authserv-id may be a quoted-string (value)
    std::string out;
    for (++i; i < value.size() && value[i] != '"'; ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      out.push_back(value[i]);
    }
    return text::to_lower(out);
  }
  while (i < value.size() && value[i] != ';' && value[i] != '(' && !text::is_fws(value[i])) ++i;
  return text::to_lower(value.substr(start, i - start));
}

}  // namespace mailward::milter
