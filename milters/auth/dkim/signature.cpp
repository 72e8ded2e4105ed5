// Tag-list parser (RFC 6376 §3.2) and DKIM-Signature field parser (RFC 6376 §3.5, §6.1.1).
#include "milters/auth/dkim/signature.h"

#include <algorithm>
#include <array>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/util/text.h"
#include "milters/auth/dkim/base64.h"

namespace mailward::dkim {
namespace {

bool is_fws_char(char c) noexcept { return text::is_fws(c); }

// RFC 6376 §3.2: tag-name = ALPHA *ALNUMPUNC; ALNUMPUNC = ALPHA / DIGIT / "_".
bool valid_tag_name(std::string_view n) noexcept {
  if (n.empty() || !text::is_alpha(n.front())) return false;
  for (char c : n)
    if (!text::is_alpha(c) && !text::is_digit(c) && c != '_') return false;
  return true;
}

// 1 for the bytes valid_tag_value() refuses: controls other than FWS, ';' and DEL.
constexpr std::array<std::uint8_t, 256> make_value_byte_table() {
  std::array<std::uint8_t, 256> t{};
  for (unsigned u = 0; u < 256; ++u) {
    const bool fws = u == ' ' || u == '\t' || u == '\r' || u == '\n';
    t[u] = !fws && (u < 0x21 || u == 0x3B || u == 0x7F) ? 1 : 0;
  }
  return t;
}
constexpr auto kValueByte = make_value_byte_table();

// VALCHAR = %x21-3A / %x3C-7E, plus FWS between tvals. Bytes above 0x7E are let through: they
// occur in z= copies and key notes of real mail (interpretation; RFC 8616 widens DKIM to UTF-8).
bool valid_tag_value(std::string_view v) noexcept {
#if defined(__SSE2__)
  // 16 bytes at a time (b= and h= values are long): bad = control bytes other than FWS, ';', DEL.
  const __m128i low = _mm_set1_epi8(0x21);
  const __m128i semi = _mm_set1_epi8(0x3B);
  const __m128i del = _mm_set1_epi8(0x7F);
  const __m128i sp = _mm_set1_epi8(' ');
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  while (v.size() >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v.data()));
    __m128i ok = _mm_cmpeq_epi8(_mm_max_epu8(x, low), x);  // unsigned x >= 0x21
    ok = _mm_or_si128(ok, _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, sp), _mm_cmpeq_epi8(x, tab)),
                                       _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf))));
    __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(x, semi), _mm_cmpeq_epi8(x, del));
    if (_mm_movemask_epi8(ok) != 0xFFFF || _mm_movemask_epi8(bad) != 0) return false;
    v.remove_prefix(16);
  }
#endif
  // The rest (most values are short: "1", "rsa-sha256", a domain) through a class table, without
  // a branch per byte.
  unsigned bad = 0;
  for (char c : v) bad |= kValueByte[static_cast<unsigned char>(c)];
  return bad == 0;
}

bool has_fws(std::string_view s) noexcept {
  bool any = false;
  for (char c : s) any |= is_fws_char(c);
  return any;
}

std::size_t leading_fws(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size() && is_fws_char(s[i])) ++i;
  return i;
}

std::size_t trailing_fws(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size() && is_fws_char(s[s.size() - 1 - i])) ++i;
  return i;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 6376 §2.11 dkim-quoted-printable: "=XX" hex pairs, FWS ignored.
std::optional<std::string> decode_dkim_qp(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (is_fws_char(c)) continue;
    if (c == '=') {
      if (i + 2 >= v.size()) return std::nullopt;
      int hi = hex_value(v[i + 1]);
      int lo = hex_value(v[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

bool parse_number(std::string_view v, unsigned long long max, unsigned long long& out) {
  return text::parse_uint(text::trim(v), max, out);
}

// A domain as d= carries it: non-empty dot-separated labels of letters, digits, '-', '_'
// (interpretation: '_' is let through as real selectors and test domains use it).
bool valid_domain(std::string_view d) noexcept {
  if (d.empty() || d.size() > 253 || d.front() == '.' ) return false;
  std::size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    if (!(text::is_alpha(c) || text::is_digit(c) || c == '-' || c == '_' || u >= 0x80)) return false;
    if (++label > 63) return false;
  }
  return true;
}

// The tags of a DKIM-Signature that parse_signature() reads (RFC 6376 §3.5), found in one pass.
struct SigTags {
  const Tag *a = nullptr, *b = nullptr, *bh = nullptr, *c = nullptr, *d = nullptr, *h = nullptr, *i = nullptr,
            *l = nullptr, *q = nullptr, *s = nullptr, *t = nullptr, *v = nullptr, *x = nullptr;
};

SigTags index_tags(const TagList& tl) noexcept {
  SigTags out;
  for (const Tag& t : tl.tags) {
    if (t.name.size() == 2) {
      if (t.name == "bh") out.bh = &t;
      continue;
    }
    if (t.name.size() != 1) continue;
    switch (t.name[0]) {
      case 'a': out.a = &t; break;
      case 'b': out.b = &t; break;
      case 'c': out.c = &t; break;
      case 'd': out.d = &t; break;
      case 'h': out.h = &t; break;
      case 'i': out.i = &t; break;
      case 'l': out.l = &t; break;
      case 'q': out.q = &t; break;
      case 's': out.s = &t; break;
      case 't': out.t = &t; break;
      case 'v': out.v = &t; break;
      case 'x': out.x = &t; break;
      default: break;
    }
  }
  return out;
}

}  // namespace

const Tag* TagList::find(std::string_view name) const noexcept {
  for (const Tag& t : tags)
    if (t.name == name) return &t;
  return nullptr;
}

TagList parse_tag_list(std::string_view text) {
  TagList out;
  out.tags.reserve(16);  // a DKIM-Signature has about a dozen tags: one allocation
  parse_tag_list_into(text, out);
  return out;
}

void parse_tag_list_into(std::string_view text, TagList& out) {
  out.error = TagListError::ok;
  out.detail.clear();
  out.tags.clear();
  std::uint64_t single_letter = 0;  // one-letter tag names seen so far
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t semi = text.find(';', pos);
    std::size_t end = semi == std::string_view::npos ? text.size() : semi;
    std::string_view spec = text.substr(pos, end - pos);
    if (leading_fws(spec) == spec.size()) {
      // An empty tag-spec is only allowed after the final ";" (RFC 6376 §3.2 [ ";" ]), or as the
      // whole (empty) list.
      if (semi != std::string_view::npos) {
        out.error = TagListError::syntax;
        out.detail = "empty tag-spec";
        return;
      }
      break;
    }
    std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos) {
      out.error = TagListError::syntax;
      out.detail = "tag without '='";
      return;
    }
    std::string_view raw_name = spec.substr(0, eq);
    std::size_t nb = leading_fws(raw_name);
    std::string_view name = raw_name.substr(nb, raw_name.size() - nb - trailing_fws(raw_name.substr(nb)));
    if (!valid_tag_name(name)) {
      out.error = TagListError::syntax;
      out.detail = "invalid tag name";
      return;
    }
    std::string_view raw_value = spec.substr(eq + 1);
    std::size_t vb = leading_fws(raw_value);
    std::string_view value = raw_value.substr(vb);
    value.remove_suffix(trailing_fws(value));
    if (!valid_tag_value(value)) {
      out.error = TagListError::syntax;
      out.detail = "invalid character in value of tag " + std::string(name);
      return;
    }
    // Duplicates (RFC 6376 §3.2: the entire tag-list is invalid). One-letter names (most of them)
    // are checked in a bit set, one bit per letter (names are case-sensitive); others by search.
    bool duplicate = false;
    if (name.size() == 1) {  // valid_tag_name: a letter
      const char c = name[0];
      const std::uint64_t bit = std::uint64_t{1} << (c >= 'a' ? 26 + (c - 'a') : c - 'A');
      duplicate = (single_letter & bit) != 0;
      single_letter |= bit;
    } else {
      for (const Tag& t : out.tags) duplicate = duplicate || t.name == name;
    }
    if (duplicate) {
      out.error = TagListError::duplicate;
      out.detail = "duplicate tag " + std::string(name);
      return;
    }
    Tag tag;
    tag.name = name;
    tag.value = value;
    tag.value_begin = pos + eq + 1 + vb;
    tag.value_end = tag.value_begin + value.size();
    out.tags.push_back(tag);
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
}

std::string strip_fws(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  // Copy the runs between FWS bytes (folded b= values are long runs with a CRLF+WSP now and then).
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t j = i;
    while (j < value.size() && !is_fws_char(value[j])) ++j;
    out.append(value.data() + i, j - i);
    while (j < value.size() && is_fws_char(value[j])) ++j;
    i = j;
  }
  return out;
}

std::string_view to_string(Algorithm a) noexcept {
  switch (a) {
    case Algorithm::rsa_sha256: return "rsa-sha256";
    case Algorithm::ed25519_sha256: return "ed25519-sha256";
    case Algorithm::rsa_sha1: return "rsa-sha1";
  }
  return "unknown";
}

std::string_view to_string(SignatureError e) noexcept {
  switch (e) {
    case SignatureError::ok: return "ok";
    case SignatureError::syntax: return "syntax";
    case SignatureError::missing_tag: return "missing_tag";
    case SignatureError::bad_version: return "bad_version";
    case SignatureError::unsupported_algorithm: return "unsupported_algorithm";
    case SignatureError::unsupported_canonicalization: return "unsupported_canonicalization";
    case SignatureError::unsupported_query_method: return "unsupported_query_method";
    case SignatureError::bad_domain: return "bad_domain";
    case SignatureError::identity_mismatch: return "identity_mismatch";
    case SignatureError::from_not_signed: return "from_not_signed";
    case SignatureError::bad_base64: return "bad_base64";
    case SignatureError::bad_timestamps: return "bad_timestamps";
  }
  return "unknown";
}

namespace {

// The body of parse_signature(), filling `r` in place (the wrapper returns it by NRVO: no copy or
// move of the result per message).
void parse_signature_into(std::string_view value, SignatureParse& r) {
  auto fail = [&r](SignatureError e, std::string detail) {
    r.error = e;
    r.detail = std::move(detail);
  };
  thread_local TagList tl;  // its tag vector is reused by every call on this thread
  parse_tag_list_into(value, tl);
  // One pass over the tags instead of a search per name (a valid list has no duplicates).
  SigTags tags;
  if (tl.error == TagListError::ok) tags = index_tags(tl);
  // Best-effort identification fields first, so even a broken signature can be reported.
  if (tl.error == TagListError::ok) {
    if (const Tag* t = tags.d) r.domain = text::normalize_domain(t->value);
    if (const Tag* t = tags.s) r.selector = std::string(t->value);
    if (const Tag* t = tags.i) r.identity = std::string(t->value);
    if (const Tag* t = tags.a) r.algorithm = text::to_lower(has_fws(t->value) ? strip_fws(t->value) : std::string(t->value));
    if (const Tag* t = tags.b) {
      for (char c : t->value) {  // (b= is decoded below straight from the value, FWS skipped)
        if (r.b_prefix.size() == 8) break;
        if (!is_fws_char(c)) r.b_prefix.push_back(c);
      }
      r.b_begin = t->value_begin;
      r.b_end = t->value_end;
    }
  }
  if (tl.error != TagListError::ok) return fail(SignatureError::syntax, "signature " + tl.detail);

  // RFC 6376 §6.1.1: v, a, b, bh, d, h, s are required.
  const std::pair<const char*, const Tag*> required[] = {{"v", tags.v}, {"a", tags.a},   {"b", tags.b}, {"bh", tags.bh},
                                                         {"d", tags.d}, {"h", tags.h}, {"s", tags.s}};
  for (const auto& [req, tag] : required)
    if (!tag) return fail(SignatureError::missing_tag, std::string("signature lacks ") + req + "=");

  Signature& s = r.signature;
  if (tags.v->value != "1" && strip_fws(tags.v->value) != "1")  // (FWS inside is rare: copy only then)
    return fail(SignatureError::bad_version, "signature v= is not 1");

  s.algorithm_text = r.algorithm;
  if (s.algorithm_text == "rsa-sha256") s.algorithm = Algorithm::rsa_sha256;
  else if (s.algorithm_text == "ed25519-sha256") s.algorithm = Algorithm::ed25519_sha256;
  else if (s.algorithm_text == "rsa-sha1") s.algorithm = Algorithm::rsa_sha1;
  else return fail(SignatureError::unsupported_algorithm, "unsupported algorithm " + s.algorithm_text);

  if (const Tag* c = tags.c) {
    std::string stripped;  // only when the value has FWS inside (rare)
    const std::string_view cv = has_fws(c->value) ? std::string_view(stripped = strip_fws(c->value)) : c->value;
    std::size_t slash = cv.find('/');
    auto hc = parse_canon(cv.substr(0, slash));
    std::optional<Canon> bc = Canon::simple;  // §3.5 c=: body defaults to simple
    if (slash != std::string::npos) bc = parse_canon(cv.substr(slash + 1));
    if (!hc || !bc)
      return fail(SignatureError::unsupported_canonicalization, "unsupported canonicalization " + std::string(cv));
    s.header_canon = *hc;
    s.body_canon = *bc;
  }

  if (const Tag* q = tags.q) {
    // §3.5 q=: a colon-separated list; the one method defined is "dns/txt". "dns" alone is the
    // pre-RFC spelling (RFC 4871 drafts) and is accepted as the same thing (interpretation).
    bool usable = false;
    const std::string list = strip_fws(q->value);  // outlives the views split() returns
    for (std::string_view m : text::split(list, ':'))
      if (text::iequals(m, "dns/txt") || text::iequals(m, "dns")) usable = true;
    if (!usable) return fail(SignatureError::unsupported_query_method, "unsupported query method " + std::string(q->value));
  }

  s.domain = r.domain;
  if (!valid_domain(s.domain)) return fail(SignatureError::bad_domain, "invalid d= domain");
  s.selector = r.selector;
  if (!valid_domain(s.selector)) return fail(SignatureError::syntax, "invalid s= selector");

  // h= is hdr-name *( *FWS ":" *FWS hdr-name ) (§3.5): FWS only around the colons, so each name is
  // the piece between colons with its FWS trimmed (no copy of the whole list).
  const std::string_view list = tags.h->value;
  // One pass collects the names as views (up to 64 on the stack; the vector grows past that), then
  // the strings are made with one allocation for the vector.
  // (a trivially constructible element type: the 64 slots are not zeroed per message)
  struct NameRef {
    const char* data;
    std::size_t size;
    operator std::string_view() const noexcept { return {data, size}; }
  };
  std::array<NameRef, 64> names;
  std::size_t count = 0;
  for (std::size_t start = 0;;) {
    std::size_t colon = list.find(':', start);
    std::string_view h = list.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    h.remove_prefix(leading_fws(h));
    h.remove_suffix(trailing_fws(h));
    if (h.empty()) return fail(SignatureError::syntax, "empty header name in h=");
    if (count < names.size()) {
      names[count] = NameRef{h.data(), h.size()};
    } else {
      if (count == names.size())
        for (const NameRef& n : names) s.signed_headers.emplace_back(n.data, n.size);
      s.signed_headers.emplace_back(h);
    }
    ++count;
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (count <= names.size()) {
    s.signed_headers.reserve(count);
    for (std::size_t k = 0; k < count; ++k) s.signed_headers.emplace_back(names[k].data, names[k].size);
  }
  bool from = false;
  for (const std::string& h : s.signed_headers) from = from || text::iequals(h, "from");
  if (!from) return fail(SignatureError::from_not_signed, "h= does not include From");  // §5.4

  if (const Tag* i = tags.i) {
    auto decoded = decode_dkim_qp(i->value);
    if (!decoded) return fail(SignatureError::syntax, "invalid quoted-printable in i=");
    std::size_t at = decoded->rfind('@');
    if (at == std::string::npos) return fail(SignatureError::syntax, "i= has no '@'");
    s.identity = *decoded;
    s.identity_domain = text::normalize_domain(std::string_view(*decoded).substr(at + 1));
    // §3.5 i=: the domain part MUST be the same as, or a subdomain of, d=.
    if (s.identity_domain != s.domain && !text::iends_with(s.identity_domain, "." + s.domain))
      return fail(SignatureError::identity_mismatch, "i= domain is not d= or a subdomain of it");
  } else {
    s.identity = "@" + s.domain;
    s.identity_domain = s.domain;
  }

  auto bh = base64_decode(tags.bh->value);
  if (!bh || bh->empty()) return fail(SignatureError::bad_base64, "bh= is not base64");
  s.body_hash = std::move(*bh);
  auto b = base64_decode(tags.b->value);  // FWS skipped by the decoder
  if (!b || b->empty()) return fail(SignatureError::bad_base64, "b= is not base64");
  s.signature = std::move(*b);

  unsigned long long n = 0;
  if (const Tag* l = tags.l) {
    if (!parse_number(l->value, ~0ULL, n)) return fail(SignatureError::syntax, "invalid l=");
    s.body_length = n;
  }
  constexpr unsigned long long kMaxTime = 0x7FFFFFFFFFFFULL;
  if (const Tag* t = tags.t) {
    if (!parse_number(t->value, kMaxTime, n)) return fail(SignatureError::syntax, "invalid t=");
    s.timestamp = static_cast<std::int64_t>(n);
  }
  if (const Tag* x = tags.x) {
    if (!parse_number(x->value, kMaxTime, n)) return fail(SignatureError::syntax, "invalid x=");
    s.expiration = static_cast<std::int64_t>(n);
  }
  // §3.5 x=: "MUST be greater than the value of the t= tag if both are present".
  if (s.timestamp && s.expiration && *s.expiration <= *s.timestamp)
    return fail(SignatureError::bad_timestamps, "x= is not later than t=");
}

}  // namespace

SignatureParse parse_signature(std::string_view value) {
  SignatureParse r;
  parse_signature_into(value, r);
  return r;
}

std::string without_b_value(std::string_view value) {
  TagList tl = parse_tag_list(value);
  const Tag* b = tl.error == TagListError::ok ? tl.find("b") : nullptr;
  if (!b) return std::string(value);
  std::string out(value.substr(0, b->value_begin));
  out.append(value.substr(b->value_end));
  return out;
}

std::string render_tag_list(const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string out;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    out.append(i == 0 ? " " : "; ");
    out.append(tags[i].first);
    out.push_back('=');
    out.append(tags[i].second);
  }
  return out;
}

}  // namespace mailward::dkim
