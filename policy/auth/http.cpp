// A strict, bounded HTTP/1.1 request parser (see http.h).
#include "policy/auth/http.h"

#include "common/util/text.h"

namespace mailward::auth_policy {
namespace {

// RFC 9110 §5.5: field-value is VCHAR / obs-text / SP / HTAB (no CTLs).
bool valid_field_value(std::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// origin-form (RFC 9112 §3.2.1): absolute-path [ "?" query ], visible ASCII only.
bool valid_target(std::string_view t) {
  if (t.empty() || t[0] != '/') return false;
  for (char c : t) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') return false;
  }
  return true;
}

HttpParseResult bad(int status, std::string why) {
  HttpParseResult r;
  r.state = HttpParseState::bad;
  r.error_status = status;
  r.error = std::move(why);
  return r;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string* HttpRequest::field(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.first == name) return &f.second;
  }
  return nullptr;
}

HttpParseResult parse_http_request(std::string_view buf, const HttpLimits& limits) {
  const std::size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > limits.max_header_bytes) return bad(431, "header section too large");
    // A bare LF anywhere before the header end can never become valid.
    for (std::size_t i = 0; i < buf.size(); ++i) {
      if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) return bad(400, "bare LF");
    }
    return {};
  }
  if (end + 4 > limits.max_header_bytes) return bad(431, "header section too large");
  const std::string_view head = buf.substr(0, end + 2);  // every line ends with CRLF
  HttpParseResult r;
  HttpRequest& req = r.request;
  std::size_t pos = 0;
  bool first = true;
  while (pos < head.size()) {
    const std::size_t eol = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
      return bad(400, "bare CR or LF in the header section");
    }
    if (first) {
      first = false;
      // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
      const std::size_t sp1 = line.find(' ');
      const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
        return bad(400, "malformed request line");
      }
      const std::string_view method = line.substr(0, sp1);
      const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const std::string_view version = line.substr(sp2 + 1);
      if (method.empty()) return bad(400, "empty method");
      for (char c : method) {
        if (!text::is_tchar(c)) return bad(400, "malformed method");
      }
      if (target.size() > 2048) return bad(414, "request target too long");
      if (!valid_target(target)) return bad(400, "request target is not in origin-form");
      if (version == "HTTP/1.1") {
        req.minor_version = 1;
      } else if (version == "HTTP/1.0") {
        req.minor_version = 0;
      } else if (version.starts_with("HTTP/")) {
        return bad(505, "HTTP version not supported");
      } else {
        return bad(400, "malformed HTTP version");
      }
      req.method = std::string(method);
      req.target = std::string(target);
      const std::size_t q = target.find('?');
      req.path = std::string(target.substr(0, q));
      if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
      continue;
    }
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') return bad(400, "obsolete line folding");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad(400, "malformed header field");
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!text::is_tchar(c)) return bad(400, "malformed header field name");
    }
    const std::string_view value = text::trim(line.substr(colon + 1));
    if (!valid_field_value(value)) return bad(400, "control character in a header field");
    if (req.fields.size() >= limits.max_fields) return bad(431, "too many header fields");
    req.fields.emplace_back(text::to_lower(name), std::string(value));
  }
  if (req.method.empty()) return bad(400, "no request line");

  if (req.field("transfer-encoding")) return bad(501, "Transfer-Encoding is not supported");
  std::size_t length = 0;
  bool have_length = false;
  for (const auto& f : req.fields) {
    if (f.first != "content-length") continue;
    unsigned long long n = 0;
    if (!text::parse_uint(f.second, 1ull << 40, n)) return bad(400, "malformed Content-Length");
    if (have_length && n != length) return bad(400, "conflicting Content-Length fields");
    length = static_cast<std::size_t>(n);
    have_length = true;
  }
  if (length > limits.max_body_bytes) return bad(413, "body too large");
  if (req.minor_version == 1 && !req.field("host")) return bad(400, "HTTP/1.1 request without Host");

  const std::string* conn = req.field("connection");
  if (req.minor_version == 0) {
    req.keep_alive = conn && text::iequals(*conn, "keep-alive");
  } else {
    req.keep_alive = true;
    if (conn) {
      for (auto token : text::split_list(*conn)) {
        if (text::iequals(token, "close")) req.keep_alive = false;
      }
    }
  }
  const std::size_t body_start = end + 4;
  if (buf.size() - body_start < length) return {};  // incomplete
  req.body = std::string(buf.substr(body_start, length));
  r.state = HttpParseState::complete;
  r.consumed = body_start + length;
  return r;
}

bool query_param(std::string_view query, std::string_view name, std::string& value) {
  for (auto part : text::split(query, '&')) {
    const std::size_t eq = part.find('=');
    if (part.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%') {
        if (i + 2 >= raw.size()) return false;
        const int hi = hex_value(raw[i + 1]), lo = hex_value(raw[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else if (raw[i] == '+') {
        out += ' ';
      } else {
        out += raw[i];
      }
    }
    value = std::move(out);
    return true;
  }
  return false;
}

const char* http_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string http_response(int status, std::string_view body, bool keep_alive,
                          std::string_view content_type) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) + "\r\n";
  out += "Content-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace mailward::auth_policy
