// Dovecot-free logic of vnd.mailward.webhook: argument checks, collapse/limit, user-URL acceptance
// and event building (see webhook_logic.h for the contract of each function).
#include "dovecot-plugins/sieve-webhook/webhook_logic.h"

#include <algorithm>

#include "common/mail/message.h"
#include "common/util/text.h"

namespace mailward::webhook {
std::optional<notify::Priority> parse_priority(std::string_view value) {
  if (value == "low") return notify::Priority::low;
  if (value == "normal") return notify::Priority::normal;
  if (value == "high") return notify::Priority::high;
  return std::nullopt;
}

bool is_field_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxFieldNameLength) return false;
  return std::all_of(name.begin(), name.end(), text::is_tchar);
}

std::string_view to_string(UrlVerdict v) {
  switch (v) {
    case UrlVerdict::accepted: return "accepted";
    case UrlVerdict::not_allowed: return "the target does not allow user URLs";
    case UrlVerdict::not_https: return "only https URLs are allowed";
    case UrlVerdict::malformed: return "malformed URL";
    case UrlVerdict::host_not_listed: return "host is not on the target's url_hosts list";
  }
  return "unknown";
}

UrlVerdict check_user_url(const notify::Target& target, std::string_view url) {
  if (!target.allow_user_url) return UrlVerdict::not_allowed;
  // Control characters and spaces are never valid in a URI (RFC 3986 §2).
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return UrlVerdict::malformed;
  }
  notify::UrlParts parts;
  if (!notify::parse_url(url, parts)) {
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) return UrlVerdict::malformed;
    return text::iequals(url.substr(0, sep), "https") ? UrlVerdict::malformed
                                                      : UrlVerdict::not_https;
  }
  if (parts.scheme != "https") return UrlVerdict::not_https;
  if (!notify::host_allowed(parts.host, target.url_hosts)) return UrlVerdict::host_not_listed;
  return UrlVerdict::accepted;
}

AddDecision decide_add(const std::vector<std::string>& recorded_targets, std::string_view target,
                       unsigned limit) {
  if (std::find(recorded_targets.begin(), recorded_targets.end(), target) !=
      recorded_targets.end())
    return AddDecision::duplicate;
  if (recorded_targets.size() >= limit) return AddDecision::over_limit;
  return AddDecision::add;
}

std::string truncate_utf8(std::string_view input, std::size_t max_bytes) {
  if (input.size() <= max_bytes) return std::string(input);
  std::size_t cut = max_bytes;
  // Back up over continuation bytes (10xxxxxx) so the cut is at the start of a sequence.
  while (cut > 0 && (static_cast<unsigned char>(input[cut]) & 0xC0) == 0x80) --cut;
  return std::string(input.substr(0, cut));
}

std::string make_snippet(std::string_view input, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(input.size(), max_bytes));
  bool pending_space = false;
  for (char c : input) {
    if (text::is_fws(c) || c == '\v' || c == '\f') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      if (out.size() + 1 >= max_bytes) break;
      out.push_back(' ');
      pending_space = false;
    }
    if (out.size() >= max_bytes + 4) break;  // enough to cut at a UTF-8 boundary below
    out.push_back(c);
  }
  std::string cut = truncate_utf8(out, max_bytes);
  // The UTF-8 cut may have stepped back onto the space before a multi-byte character.
  while (!cut.empty() && cut.back() == ' ') cut.pop_back();
  return cut;
}

BuildResult build_event(const notify::NotifySettings& settings, const Request& request,
                        const MessageFacts& facts, std::int64_t time_ms, std::string id) {
  BuildResult r;
  const notify::Target* target = settings.find(request.target);
  if (target == nullptr) {
    r.refused = "unknown target \"" + truncate_utf8(request.target, 128) + "\"";
    return r;
  }
  if (!target->allows_user(facts.user)) {
    r.refused = "user \"" + facts.user + "\" may not use target \"" + target->name + "\"";
    return r;
  }

  notify::Event e;
  e.id = std::move(id);
  e.time_ms = time_ms;
  e.user = facts.user;
  e.mailbox = facts.mailbox;
  e.envelope_from = facts.envelope_from;
  e.header_from = truncate_utf8(facts.header_from, kMaxStringBytes);
  e.to = truncate_utf8(facts.to, kMaxStringBytes);
  e.subject = truncate_utf8(facts.subject, kMaxStringBytes);
  e.message_id = truncate_utf8(facts.message_id, kMaxStringBytes);
  e.size = facts.size;
  e.target = target->name;
  e.title = truncate_utf8(request.title, kMaxStringBytes);
  e.message = truncate_utf8(request.message, kMaxStringBytes);

  if (auto p = parse_priority(request.priority)) {
    e.priority = *p;
  } else {
    e.priority = notify::Priority::normal;
    r.warnings.push_back("invalid :priority \"" + truncate_utf8(request.priority, 64) +
                         "\" (expected low, normal or high); using normal");
  }

  for (const auto& [name, value] : request.fields) {
    if (!is_field_name(name)) {
      r.warnings.push_back("dropped :field with invalid name \"" + truncate_utf8(name, 64) +
                           "\" (must be a token of at most 64 characters)");
      continue;
    }
    if (e.fields.size() >= kMaxFields) {
      r.warnings.push_back("dropped :field \"" + name + "\": more than " +
                           std::to_string(kMaxFields) + " fields");
      continue;
    }
    e.fields.emplace_back(name, truncate_utf8(value, kMaxStringBytes));
  }

  if (request.url) {
    const UrlVerdict v = check_user_url(*target, *request.url);
    if (v == UrlVerdict::accepted && request.url->size() <= kMaxStringBytes) {
      e.url = *request.url;
    } else {
      r.warnings.push_back("ignored :url for target \"" + target->name + "\": " +
                           std::string(v == UrlVerdict::accepted ? "URL too long" : to_string(v)));
    }
  }

  if (target->snippet_bytes > 0) e.snippet = make_snippet(facts.body_text, target->snippet_bytes);

  r.event = std::move(e);
  return r;
}

}  // namespace mailward::webhook

// ---- snippet text extraction (RFC 2045 / RFC 2046) ----
namespace mailward::webhook {
namespace {

struct ContentType {
  std::string type = "text/plain";  // RFC 2045 §5.2: the default when the field is absent
  std::string boundary;
};

ContentType parse_content_type(const mail::Message& m) {
  ContentType ct;
  const mail::HeaderField* f = m.find("Content-Type");
  if (f == nullptr) return ct;
  const std::string v = f->unfolded();
  const auto semi = v.find(';');
  ct.type = text::to_lower(text::trim(std::string_view(v).substr(0, semi)));
  if (semi == std::string::npos) return ct;
  // Parameters: we only need boundary= (quoted or token).
  std::string_view params = std::string_view(v).substr(semi + 1);
  while (!params.empty()) {
    const auto next = params.find(';');
    std::string_view p = text::trim(params.substr(0, next));
    const auto eq = p.find('=');
    if (eq != std::string_view::npos && text::iequals(text::trim(p.substr(0, eq)), "boundary")) {
      std::string_view val = text::trim(p.substr(eq + 1));
      if (val.size() >= 2 && val.front() == '"') {
        // A quoted boundary may contain ';' — take up to the closing quote in the full value.
        const auto start = static_cast<std::size_t>(val.data() - v.data()) + 1;
        const auto close = v.find('"', start);
        ct.boundary = v.substr(start, close == std::string::npos ? std::string::npos : close - start);
      } else {
        ct.boundary = std::string(val);
      }
    }
    if (next == std::string_view::npos) break;
    params.remove_prefix(next + 1);
  }
  return ct;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 2045 §6.7.
std::string decode_qp(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {  // soft line break
      i += 2;
      continue;
    }
    if (i + 1 < in.size() && in[i + 1] == '\n') {
      i += 1;
      continue;
    }
    if (i + 2 < in.size()) {
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(c);  // RFC 2045 §6.7 note (2): a robust decoder keeps a stray '='
  }
  return out;
}

// RFC 2045 §6.8; characters outside the alphabet are ignored, decoding stops at '='.
std::string decode_base64(std::string_view in) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else continue;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFu));
    }
  }
  return out;
}

std::string decode_body(const mail::Message& m) {
  const mail::HeaderField* f = m.find("Content-Transfer-Encoding");
  const std::string cte = f == nullptr ? std::string() : text::to_lower(f->unfolded());
  if (cte == "quoted-printable") return decode_qp(m.body);
  if (cte == "base64") return decode_base64(m.body);
  return m.body;
}

std::string text_of(std::string_view raw, int depth) {
  const mail::Message m = mail::parse_message(raw);
  const ContentType ct = parse_content_type(m);
  if (ct.type == "text/plain") return decode_body(m);
  if (depth >= 4 || !text::istarts_with(ct.type, "multipart/") || ct.boundary.empty()) return {};
  // RFC 2046 §5.1.1: a delimiter line is CRLF "--" boundary; the body's first one may open it.
  const std::string delimiter = "--" + ct.boundary;
  std::string_view body = m.body;
  std::size_t pos = 0;
  std::vector<std::string_view> parts;
  std::size_t part_start = std::string_view::npos;
  while (pos <= body.size()) {
    const auto eol = body.find('\n', pos);
    const std::string_view line =
        body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    const std::string_view content = text::trim(line);
    if (content.substr(0, delimiter.size()) == delimiter) {
      if (part_start != std::string_view::npos) {
        std::size_t part_end = pos;
        if (part_end > part_start && body[part_end - 1] == '\n') --part_end;
        if (part_end > part_start && body[part_end - 1] == '\r') --part_end;
        parts.push_back(body.substr(part_start, part_end - part_start));
      }
      if (content.substr(delimiter.size(), 2) == "--") break;  // close delimiter
      part_start = eol == std::string_view::npos ? body.size() : eol + 1;
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  for (std::string_view part : parts) {
    std::string text = text_of(part, depth + 1);
    if (!text.empty()) return text;
  }
  return {};
}

}  // namespace

std::string body_text(std::string_view raw_message) { return text_of(raw_message, 0); }

}  // namespace mailward::webhook
