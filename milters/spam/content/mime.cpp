// parse_mail(): the MIME walk (RFC 2045 header fields and transfer encodings, RFC 2046 multipart
// and message/rfc822, RFC 2047 encoded-words, RFC 2231 parameter continuations and charsets).
//
// Lenient by design, like the MUAs spam targets: lines end in LF or CRLF; a line that is neither a
// field nor a continuation ends the header block (body starts there); boundaries are recognised
// only at a line start, followed by "--", a blank or the line end; a multipart without
// its boundary is read as text; base64 skips garbage; unknown charsets read as windows-1252.
// Every oddity is recorded as an anomaly phrase. Costs: each nesting level reads its bytes once
// (depth <= limits.depth), decoders write at most the remaining decoded budget.
#include "milters/spam/content/parsed_mail.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <utility>

#include "common/util/text.h"
#include "milters/spam/content/charset.h"
#include "milters/spam/content/html.h"
#include "milters/spam/content/urls.h"
#include "milters/spam/content/utf8.h"

namespace mailward::spam {

const mail::HeaderField* ParsedMail::header(std::string_view name) const {
  for (const mail::HeaderField& h : headers)
    if (text::iequals(h.name, name)) return &h;
  return nullptr;
}

bool ParsedMail::has_anomaly(std::string_view phrase) const {
  return std::find(anomalies.begin(), anomalies.end(), phrase) != anomalies.end();
}

namespace {

// ---------------------------------------------------------------------------------------------
// Lines

// The line starting at `pos` (without its LF or CRLF); `next` is where the following line starts.
std::string_view line_at(std::string_view s, std::size_t pos, std::size_t& next) {
  const char* base = s.data() + pos;
  const void* nl = std::memchr(base, '\n', s.size() - pos);
  std::size_t end = nl == nullptr ? s.size() : pos + static_cast<std::size_t>(static_cast<const char*>(nl) - base);
  next = nl == nullptr ? s.size() : end + 1;
  std::string_view line = s.substr(pos, end - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// ---------------------------------------------------------------------------------------------
// Transfer decodings (RFC 2045 §6.7, §6.8)

int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // '-' and '_': the URL-safe alphabet, seen in the wild
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Lenient base64: whitespace skipped, other non-alphabet bytes skipped and reported, '=' ends a
// quantum (decoding continues after it: concatenated base64 blobs occur). Writes at most max_out.
bool decode_base64(std::string_view in, std::string& out, std::size_t max_out, bool& truncated) {
  bool bad = false;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    int v = b64_value(c);
    if (v < 0) {
      if (c == '=') {
        if (bits == 6) bad = true;  // a lone sextet before the padding carries no byte
        acc = 0;
        bits = 0;
      } else if (c != '\r' && c != '\n' && c != ' ' && c != '\t') {
        bad = true;
      }
      continue;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (out.size() >= max_out) {
        truncated = true;
        return bad;
      }
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
      acc &= (1u << bits) - 1u;
    }
  }
  if (bits >= 6) bad = true;  // a lone sextet at the end carries no byte
  return bad;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Quoted-printable; line ends become '\n'. A '=' not followed by two hex digits or a line end is
// kept as a literal '=' and reported (RFC 2045 §6.7 note (2) suggests exactly that).
bool decode_qp(std::string_view in, std::string& out, std::size_t max_out, bool& truncated) {
  bool bad = false;
  std::size_t i = 0;
  while (i < in.size()) {
    if (out.size() >= max_out) {
      truncated = true;
      return bad;
    }
    char c = in[i];
    if (c == '=') {
      if (i + 2 < in.size() + 0 && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
        i += 3;
        continue;
      }
      // Soft line break, possibly with (illegal) trailing blanks before the line end.
      std::size_t j = i + 1;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
      if (j < in.size() && in[j] == '\r') ++j;
      if (j >= in.size() || in[j] == '\n') {
        i = j < in.size() ? j + 1 : j;
        continue;
      }
      bad = true;
      out.push_back('=');
      ++i;
      continue;
    }
    if (c == '\r') {
      ++i;
      continue;
    }
    // A run of ordinary bytes in one append.
    std::size_t j = i + 1;
    std::size_t limit = std::min(in.size(), i + (max_out - out.size()));
    while (j < limit && in[j] != '=' && in[j] != '\r') ++j;
    out.append(in.substr(i, j - i));
    i = j;
  }
  return bad;
}

// RFC 2047 §4.2 "Q": like QP, '_' is a space.
std::string decode_q(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < in.size() + 0 && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Header values

bool is_token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 32 && u < 127 && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

struct Param {
  std::string name;   // lowercased, without RFC 2231 section/star
  std::string value;  // decoded, UTF-8
};

struct ContentType {
  std::string type = "text";
  std::string subtype = "plain";
  std::vector<Param> params;
  std::string mime() const { return type + "/" + subtype; }
  const std::string* param(std::string_view name) const {
    for (const Param& p : params)
      if (p.name == name) return &p.value;
    return nullptr;
  }
};

std::string unfold(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v)
    if (c != '\r' && c != '\n') out.push_back(c);
  return out;
}

// Drops RFC 5322 comments "(...)" outside quoted strings (nested, bounded).
std::string strip_comments(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted) {
      out.push_back(c);
      if (c == '\\' && i + 1 < v.size()) {
        out.push_back(v[++i]);
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++depth;
      else if (c == ')') --depth;
      continue;
    }
    if (c == '(') {
      depth = 1;
    } else {
      if (c == '"') quoted = true;
      out.push_back(c);
    }
  }
  return out;
}

std::string pct_decode(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() + 0 && hex_value(v[i + 1]) >= 0 && hex_value(v[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(v[i + 1]) * 16 + hex_value(v[i + 2])));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

// Parameters after the first ';' (RFC 2045 §5.1), with RFC 2231 §3-4 continuations
// ("name*0", "name*1") and charset/language ("name*=utf-8'en'%E2%82%AC"). name and filename
// values that carry RFC 2047 encoded-words (not allowed there, but common) are decoded too;
// other values (boundary!) are kept byte for byte.
std::vector<Param> parse_params(std::string_view v) {
  struct Section {
    std::string name;
    unsigned index;
    bool encoded;
    std::string value;
  };
  std::vector<Section> sections;
  std::size_t i = 0;
  while (i < v.size() && sections.size() < 64) {
    while (i < v.size() && (v[i] == ';' || text::is_fws(v[i]))) ++i;
    std::size_t ns = i;
    while (i < v.size() && v[i] != '=' && v[i] != ';') ++i;
    std::string name = text::to_lower(text::trim(v.substr(ns, i - ns)));
    if (i >= v.size() || v[i] == ';') continue;  // a bare word: skipped
    ++i;                                          // '='
    while (i < v.size() && text::is_space_or_tab(v[i])) ++i;
    std::string value;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        value.push_back(v[i++]);
      }
      if (i < v.size()) ++i;
      while (i < v.size() && v[i] != ';') ++i;  // junk after the quotes
    } else {
      std::size_t vs = i;
      while (i < v.size() && v[i] != ';') ++i;
      value.assign(text::trim(v.substr(vs, i - vs)));
    }
    if (name.empty()) continue;
    Section sec{name, 0, false, std::move(value)};
    if (sec.name.back() == '*') {
      sec.encoded = true;
      sec.name.pop_back();
    }
    std::size_t star = sec.name.rfind('*');
    if (star != std::string::npos) {
      unsigned long long idx = 0;
      if (text::parse_uint(std::string_view(sec.name).substr(star + 1), 1000, idx)) {
        sec.index = static_cast<unsigned>(idx);
        sec.name.resize(star);
      }
    }
    sections.push_back(std::move(sec));
  }
  std::stable_sort(sections.begin(), sections.end(), [](const Section& a, const Section& b) {
    return a.name != b.name ? a.name < b.name : a.index < b.index;
  });
  std::vector<Param> out;
  for (std::size_t k = 0; k < sections.size();) {
    std::size_t e = k;
    while (e < sections.size() && sections[e].name == sections[k].name) ++e;
    std::string charset;
    std::string bytes;
    bool any_encoded = false;
    for (std::size_t m = k; m < e; ++m) {
      const Section& s = sections[m];
      if (m > k && s.index == sections[m - 1].index) continue;  // duplicate section: first wins
      if (!s.encoded) {
        bytes += s.value;
        continue;
      }
      any_encoded = true;
      std::string_view val = s.value;
      if (m == k) {  // charset'language'value in the first section
        std::size_t q1 = val.find('\'');
        std::size_t q2 = q1 == std::string_view::npos ? q1 : val.find('\'', q1 + 1);
        if (q2 != std::string_view::npos) {
          charset.assign(val.substr(0, q1));
          val = val.substr(q2 + 1);
        }
      }
      bytes += pct_decode(val);
    }
    Param p;
    p.name = sections[k].name;
    if (any_encoded) {
      p.value = to_utf8(bytes, charset).text;
    } else if ((p.name == "name" || p.name == "filename") && bytes.find("=?") != std::string::npos) {
      p.value = decode_header_value(bytes);
    } else {
      detail::append_lenient(p.value, bytes);
    }
    out.push_back(std::move(p));
    k = e;
  }
  return out;
}

ContentType parse_content_type(std::string_view raw, bool& valid) {
  ContentType ct;
  std::string v = strip_comments(unfold(raw));
  std::string_view t = text::trim(v);
  std::size_t semi = t.find(';');
  std::string_view mime = text::trim(t.substr(0, semi));
  std::size_t slash = mime.find('/');
  valid = false;
  if (slash != std::string_view::npos) {
    std::string_view ty = text::trim(mime.substr(0, slash));
    std::string_view sub = text::trim(mime.substr(slash + 1));
    if (!ty.empty() && !sub.empty() && std::all_of(ty.begin(), ty.end(), is_token_char) &&
        std::all_of(sub.begin(), sub.end(), is_token_char)) {
      ct.type = text::to_lower(ty);
      ct.subtype = text::to_lower(sub);
      valid = true;
    }
  } else if (text::iequals(mime, "text")) {  // "Content-Type: text" (missing subtype)
    valid = true;
  }
  if (semi != std::string_view::npos) ct.params = parse_params(t.substr(semi + 1));
  return ct;
}

// ---------------------------------------------------------------------------------------------
// The walk

struct HeaderBlock {
  std::vector<mail::HeaderField> fields;
  std::size_t body_offset = 0;
};

std::string_view field_value(const std::vector<mail::HeaderField>& fields, std::string_view name) {
  for (const mail::HeaderField& f : fields)
    if (text::iequals(f.name, name)) return f.value;
  return {};
}

bool has_field(const std::vector<mail::HeaderField>& fields, std::string_view name) {
  for (const mail::HeaderField& f : fields)
    if (text::iequals(f.name, name)) return true;
  return false;
}

class Walker {
 public:
  Walker(const MimeLimits& limits, ParsedMail& mail) : limits_(limits), mail_(mail) {}

  void walk(std::string_view entity, std::size_t depth, bool digest_child, bool top) {
    ++mail_.part_count;
    if (mail_.part_count > limits_.parts) {
      anomaly("part limit reached");
      return;
    }
    mail_.max_depth = std::max(mail_.max_depth, depth);
    HeaderBlock hb = parse_headers(entity, top);
    std::string_view body = entity.substr(hb.body_offset);
    if (top) take_top_headers(hb.fields);

    bool ct_valid = false;
    std::string_view ct_raw = field_value(hb.fields, "content-type");
    ContentType ct;
    if (!has_field(hb.fields, "content-type")) {
      if (digest_child) {  // RFC 2046 §5.1.5
        ct.type = "message";
        ct.subtype = "rfc822";
      }
    } else {
      ct = parse_content_type(ct_raw, ct_valid);
      if (!ct_valid) {  // RFC 2045 §5.2: an invalid type means text/plain; us-ascii
        ct = ContentType{};
        anomaly("bad content-type");
      }
    }
    std::string cte = text::to_lower(text::trim(strip_comments(unfold(field_value(hb.fields, "content-transfer-encoding")))));
    std::string_view disp_raw = field_value(hb.fields, "content-disposition");
    std::string disp_value = unfold(disp_raw);
    std::string_view disp = text::trim(disp_value);
    bool attachment = text::istarts_with(disp, "attachment");
    std::string filename;
    if (!disp.empty()) {
      std::size_t semi = disp.find(';');
      if (semi != std::string_view::npos)
        for (Param& p : parse_params(disp.substr(semi + 1)))
          if (p.name == "filename") filename = std::move(p.value);
    }
    if (filename.empty())
      if (const std::string* n = ct.param("name")) filename = *n;

    if (ct.type == "multipart") {
      const std::string* boundary = ct.param("boundary");
      if (boundary != nullptr && !boundary->empty() && walk_multipart(body, *boundary, depth, ct.subtype == "digest"))
        return;
      anomaly("missing boundary");
      ct = ContentType{};  // read the body as text
    }
    // An attached message is walked too: forwarded spam is still spam (Content-Disposition does
    // not change what the bytes are).
    if (ct.type == "message" && (ct.subtype == "rfc822" || ct.subtype == "global")) {
      if (depth + 1 > limits_.depth) {
        anomaly("depth limit reached");
        return;
      }
      std::string decoded;
      std::string_view inner = decode(body, cte, decoded);
      walk(inner, depth + 1, false, false);
      return;
    }
    // Every inline text/* is text (RFC 2046 §4.1.4: unknown text subtypes are shown as plain text);
    // HTML is reduced, the rest (enriched, x-anything) taken as written.
    bool is_text = ct.type == "text" && !attachment;
    if (!is_text) {
      add_attachment(body, cte, ct, filename);
      return;
    }
    std::string decoded;
    std::string_view bytes = decode(body, cte, decoded);
    add_text(bytes, ct);
  }

 private:
  void anomaly(std::string_view phrase) {
    if (!mail_.has_anomaly(phrase)) mail_.anomalies.emplace_back(phrase);
  }

  void take_top_headers(const std::vector<mail::HeaderField>& fields) {
    mail_.headers = fields;
    auto decoded = [&](std::string_view name, std::string& out) {
      for (const mail::HeaderField& f : fields) {
        if (!text::iequals(f.name, name)) continue;
        bool bad = false;
        out = decode_header_value(f.value, &bad);
        if (bad) anomaly("bad encoded-word");
        return;
      }
    };
    decoded("subject", mail_.subject);
    decoded("from", mail_.from);
    decoded("to", mail_.to);
  }

  static bool is_field_name(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (u < 33 || u > 126) return false;
    }
    return true;
  }

  HeaderBlock parse_headers(std::string_view e, bool top) {
    HeaderBlock hb;
    std::size_t pos = 0;
    if (top && e.starts_with("From ")) line_at(e, 0, pos);  // mbox separator
    const std::size_t start = pos;
    bool keeping = true;      // the last field was kept (its continuations are too)
    bool size_noted = false;
    while (pos < e.size()) {
      std::size_t next = 0;
      std::string_view line = line_at(e, pos, next);
      if (line.empty()) {
        hb.body_offset = next;
        return hb;
      }
      bool over = pos - start > limits_.header_bytes;
      if (over && !size_noted) {
        anomaly("header size limit reached");
        size_noted = true;
      }
      if (text::is_space_or_tab(line.front())) {
        if (hb.fields.empty()) {
          anomaly("malformed header line");
        } else if (keeping && !over) {
          hb.fields.back().value.append("\r\n");
          hb.fields.back().value.append(line.substr(0, limits_.header_bytes - (pos - start)));
        }
        pos = next;
        continue;
      }
      std::size_t colon = line.find(':');
      std::string_view name = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
      while (!name.empty() && text::is_space_or_tab(name.back())) name.remove_suffix(1);
      if (!is_field_name(name)) {
        // Not a field: the header block ended without its empty line (RFC 5322 §2.1 requires one).
        anomaly("missing header separator");
        hb.body_offset = pos;
        return hb;
      }
      keeping = false;
      if (hb.fields.size() >= limits_.header_fields) {
        anomaly("header field limit reached");
      } else if (!over) {
        std::string_view value = line.substr(colon + 1);
        hb.fields.push_back({std::string(name), std::string(value.substr(0, limits_.header_bytes - (pos - start)))});
        keeping = true;
        if (top)
          for (char c : hb.fields.back().value)
            if (static_cast<unsigned char>(c) >= 0x80) {
              anomaly("8bit in headers");
              break;
            }
      }
      pos = next;
    }
    hb.body_offset = e.size();
    return hb;
  }

  // RFC 2046 §5.1.1. Returns false when no boundary line was found at all.
  bool walk_multipart(std::string_view body, std::string_view boundary, std::size_t depth, bool digest) {
    std::string delim = "--";
    delim.append(boundary.substr(0, std::min<std::size_t>(boundary.size(), 998)));
    // Collect the parts first (so an over-deep part is noticed once), then walk them.
    std::vector<std::string_view> parts;
    bool found = false;
    bool closed = false;
    bool limited = false;
    std::size_t part_start = 0;
    std::size_t pos = 0;
    while (pos < body.size()) {
      std::size_t next = 0;
      std::size_t line_start = pos;
      std::string_view line = line_at(body, pos, next);
      pos = next;
      if (line.size() < delim.size() || line.compare(0, delim.size(), delim) != 0) continue;
      // RFC 2046 §5.1.1 compares the boundary with the beginning of the line ("an exact match of
      // the entire candidate line is not required"), so text after "--" or after a blank is
      // ignored. We interpret a boundary character right after ours as a different, longer
      // boundary (a nested one that starts with ours), not as ours.
      std::string_view rest = line.substr(delim.size());
      bool close = rest.starts_with("--");
      if (!close && !rest.empty() && !text::is_space_or_tab(rest.front())) continue;
      if (found) {
        // The line break before the boundary line belongs to the boundary.
        std::size_t end = line_start;
        if (end > part_start && body[end - 1] == '\n') --end;
        if (end > part_start && body[end - 1] == '\r') --end;
        parts.push_back(body.substr(part_start, end - part_start));
      }
      found = true;
      part_start = next;
      if (close) {
        closed = true;
        break;
      }
      if (parts.size() >= limits_.parts) {
        limited = true;
        break;
      }
    }
    if (!found) return false;
    if (limited) {
      anomaly("part limit reached");
    } else if (!closed) {
      anomaly("missing closing boundary");
      if (part_start < body.size()) parts.push_back(body.substr(part_start));
    }
    if (parts.empty()) return true;
    if (depth + 1 > limits_.depth) {
      anomaly("depth limit reached");
      return true;
    }
    for (std::string_view p : parts) {
      if (mail_.part_count >= limits_.parts) {
        anomaly("part limit reached");
        break;
      }
      walk(p, depth + 1, digest, false);
    }
    return true;
  }

  std::size_t decode_budget() const {
    return decoded_ >= limits_.decoded_bytes_total ? 0 : limits_.decoded_bytes_total - decoded_;
  }

  // Decodes `body` per its transfer encoding into `storage` (or returns it as is for identity
  // encodings), charging the decoded budget.
  std::string_view decode(std::string_view body, std::string_view cte, std::string& storage) {
    std::size_t budget = decode_budget();
    bool truncated = false;
    std::string_view result;
    if (cte == "base64") {
      storage.reserve(std::min(budget, body.size() / 4 * 3 + 3));
      if (decode_base64(body, storage, budget, truncated)) anomaly("bad base64");
      result = storage;
    } else if (cte == "quoted-printable") {
      storage.reserve(std::min(budget, body.size()));
      if (decode_qp(body, storage, budget, truncated)) anomaly("bad quoted-printable");
      result = storage;
    } else {
      if (!cte.empty() && cte != "7bit" && cte != "8bit" && cte != "binary" && cte != "x-uuencode" &&
          cte != "uuencode")
        anomaly("unknown transfer encoding");
      result = body.substr(0, std::min(body.size(), budget));
      truncated = result.size() < body.size();
    }
    decoded_ += result.size();
    if (truncated) anomaly("decoded size limit reached");
    return result;
  }

  void add_attachment(std::string_view body, std::string_view cte, const ContentType& ct, std::string filename) {
    Attachment a;
    a.filename = std::move(filename);
    a.content_type = ct.mime();
    // Size without keeping the bytes: base64 counted by its alphabet, others decoded or measured.
    if (cte == "base64") {
      std::size_t n = 0;
      for (char c : body)
        if (b64_value(static_cast<unsigned char>(c)) >= 0) ++n;
      a.size = n / 4 * 3 + (n % 4 == 3 ? 2 : n % 4 == 2 ? 1 : 0);
    } else if (cte == "quoted-printable") {
      std::string tmp;
      a.size = decode(body, cte, tmp).size();
    } else {
      a.size = body.size();
    }
    if (mail_.attachments.size() < limits_.parts) mail_.attachments.push_back(std::move(a));
  }

  void add_text(std::string_view bytes, const ContentType& ct) {
    std::size_t room = limits_.text_bytes_total > text_bytes_ ? limits_.text_bytes_total - text_bytes_ : 0;
    if (room == 0) {
      anomaly("text size limit reached");
      return;
    }
    TextPart part;
    part.content_type = ct.mime();
    if (const std::string* cs = ct.param("charset")) part.charset = text::to_lower(text::trim(*cs));
    part.from_html = ct.subtype == "html";
    const bool html = part.from_html;
    Utf8Result u = to_utf8(bytes, part.charset, html ? limits_.html_bytes + 4 : room + 4);
    if (u.status == CharsetStatus::unknown) anomaly("unknown charset");
    if (u.status == CharsetStatus::repaired) anomaly("invalid utf-8");
    if (html) {
      mail_.has_html = true;
      HtmlText h = html_to_text(u.text, limits_.html_bytes, limits_.urls);
      if (h.truncated) anomaly("html size limit reached");
      if (h.hidden_chars > 0) anomaly("hidden html text");
      for (std::string& url : h.urls) add_url(url);
      if (normalize(h.text, part.text, room)) anomaly("text size limit reached");
    } else {
      saw_plain_ = true;
      if (normalize(u.text, part.text, room)) anomaly("text size limit reached");
      for (std::string_view url : find_urls(part.text, limits_.urls)) add_url(url);
    }
    text_bytes_ += part.text.size();
    mail_.texts.push_back(std::move(part));
  }

 public:
  void add_url(std::string_view url) {
    if (mail_.urls.size() >= limits_.urls) {
      anomaly("url limit reached");
      return;
    }
    std::string u(url.substr(0, 2048));
    if (!seen_urls_.insert(u).second) return;
    std::string host = url_host(u);
    mail_.urls.push_back(std::move(u));
    if (!host.empty() && seen_hosts_.insert(host).second) mail_.url_hosts.push_back(std::move(host));
  }

  bool saw_plain() const { return saw_plain_; }

 private:
  // Text as TextPart promises: line ends '\n', blanks collapsed, control characters dropped, at
  // most one empty line in a row, no blanks at line ends; at most `room` bytes.
  // Returns true if the text was cut at `room`.
  static bool normalize(std::string_view in, std::string& out, std::size_t room) {
    out.reserve(std::min(in.size(), room));
    bool space = false;
    bool cut = false;
    int newlines = 0;
    std::size_t i = 0;
    while (i < in.size()) {
      if (out.size() >= room) {
        cut = true;
        break;
      }
      char ch = in[i];
      auto c = static_cast<unsigned char>(ch);
      if (c > 0x20 && c != 0x7F) {
        // A run of visible bytes in one append.
        if (space && newlines == 0 && !out.empty()) out.push_back(' ');
        space = false;
        newlines = 0;
        std::size_t j = i + 1;
        std::size_t limit = std::min(in.size(), i + (room > out.size() ? room - out.size() : 1));
        while (j < limit && static_cast<unsigned char>(in[j]) > 0x20 && in[j] != 0x7F) ++j;
        out.append(in.substr(i, j - i));
        i = j;
        continue;
      }
      ++i;
      if (c == '\n') {
        space = false;
        if (out.empty() || newlines >= 2) continue;
        out.push_back('\n');
        ++newlines;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') space = true;
    }
    if (out.size() > room) {  // a blank plus a character may pass it by one
      out.resize(room);
      cut = true;
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    // A cut inside a UTF-8 sequence is repaired by dropping the partial character.
    std::size_t n = out.size();
    std::size_t k = n;
    while (k > 0 && n - k < 4 && (static_cast<unsigned char>(out[k - 1]) & 0xC0) == 0x80) --k;
    if (k > 0 && static_cast<unsigned char>(out[k - 1]) >= 0xC0) {
      std::uint32_t cp = 0;
      if (detail::utf8_sequence(out, k - 1, cp) == 0) out.resize(k - 1);
    }
    return cut;
  }

  const MimeLimits& limits_;
  ParsedMail& mail_;
  std::size_t decoded_ = 0;
  std::size_t text_bytes_ = 0;
  bool saw_plain_ = false;
  std::unordered_set<std::string> seen_urls_;
  std::unordered_set<std::string> seen_hosts_;
};

}  // namespace

// RFC 2047 §2 (syntax), §4 (B and Q), §6.2 (whitespace between adjacent encoded-words is
// dropped). We interpret "adjacent" loosely, as Thunderbird and Gmail do: an encoded-word is also
// recognised inside a word or a quoted string, and adjacent words in the same charset are joined
// as bytes before conversion, so a multibyte character split across two words survives.
std::string decode_header_value(std::string_view raw, bool* bad) {
  std::string in = unfold(raw);
  std::string_view s = text::trim(in);
  std::string out;
  out.reserve(s.size());
  std::string pending;          // decoded bytes of adjacent encoded-words not yet converted
  std::string pending_charset;
  bool bad_any = false;
  auto flush = [&] {
    if (pending.empty()) return;
    Utf8Result r = to_utf8(pending, pending_charset);
    if (r.status == CharsetStatus::unknown) bad_any = true;
    out += r.text;
    pending.clear();
  };
  std::size_t i = 0;
  std::size_t literal_start = 0;
  bool last_was_word = false;
  while (i < s.size()) {
    std::size_t q = s.find("=?", i);
    if (q == std::string_view::npos) break;
    // =?charset?E?text?=
    std::size_t c_end = s.find('?', q + 2);
    if (c_end == std::string_view::npos) break;  // no later word can be complete either
    bool ok = c_end > q + 2 && c_end - q < 80 && c_end + 2 < s.size() &&
              s[c_end + 2] == '?';
    char enc = ok ? text::ascii_lower(s[c_end + 1]) : 0;
    ok = ok && (enc == 'b' || enc == 'q');
    if (!ok) {
      i = q + 2;
      continue;
    }
    std::size_t t_end = s.find("?=", c_end + 3);
    if (t_end == std::string_view::npos) break;  // nor can any later one: stop (keeps this linear)
    std::string_view between = s.substr(literal_start, q - literal_start);
    bool only_ws = std::all_of(between.begin(), between.end(), [](char c) { return text::is_fws(c); });
    std::string charset = canonical_charset(s.substr(q + 2, c_end - q - 2));
    if (!(last_was_word && only_ws)) {
      flush();
      detail::append_lenient(out, between);
    } else if (charset != pending_charset) {
      flush();
    }
    std::string_view payload = s.substr(c_end + 3, t_end - c_end - 3);
    std::string bytes;
    if (enc == 'b') {
      bool truncated = false;
      if (decode_base64(payload, bytes, payload.size(), truncated)) bad_any = true;
    } else {
      bytes = decode_q(payload);
    }
    if (pending.empty()) pending_charset = charset;
    pending += bytes;
    i = t_end + 2;
    literal_start = i;
    last_was_word = true;
  }
  flush();
  detail::append_lenient(out, s.substr(literal_start));
  if (bad) *bad = bad_any;
  // Controls (other than tab) are not text; tabs become spaces.
  std::string clean;
  clean.reserve(out.size());
  for (char c : out) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\t') clean.push_back(' ');
    else if (u >= 0x20 && u != 0x7F) clean.push_back(c);
  }
  return clean;
}

ParsedMail parse_mail(std::string_view raw, const MimeLimits& limits) {
  ParsedMail mail;
  mail.raw_size = raw.size();
  Walker w(limits, mail);
  w.walk(raw, 0, false, true);
  mail.html_only = mail.has_html && !w.saw_plain();
  return mail;
}

}  // namespace mailward::spam
