// DKIM header and body canonicalisation, RFC 6376 §3.4 (see canon.h for the line model).
#include "milters/auth/dkim/canon.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/util/text.h"

namespace mailward::dkim {

namespace {

bool is_wsp_or_cr(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }

// Relaxed body canonicalisation leaves most bytes alone. Copies bytes from `p` to `w` up to the
// first position where it may not: a TAB, a CR, or a SP followed by WSP or CR (or by the end of the
// chunk, where the next byte is unknown). Returns that position; `w` is advanced past the copy.
// The SSE2 path stores 16 bytes at a time and may write up to 16 bytes beyond the copy: callers
// leave that much slack in the output buffer.
// With kHeader, LF is special too (header values are unfolded: every CR and LF goes).
template <bool kHeader>
const char* copy_relaxed_run(const char* p, const char* end, char*& w) noexcept {
#if defined(__SSE2__)
  const __m128i sp = _mm_set1_epi8(' ');
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i cr = _mm_set1_epi8(kHeader ? '\n' : '\r');  // see the LF test below
  const __m128i cr2 = _mm_set1_epi8('\r');
  while (end - p >= 17) {  // 16 bytes and the byte after them
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
    // Special: TAB, CR, (header: LF), or SP before SP/TAB/CR (header: /LF).
    __m128i next_ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(next, sp), _mm_cmpeq_epi8(next, tab)),
                                   _mm_or_si128(_mm_cmpeq_epi8(next, cr), _mm_cmpeq_epi8(next, cr2)));
    __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, tab), _mm_cmpeq_epi8(x, cr2)),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_and_si128(_mm_cmpeq_epi8(x, sp), next_ws)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w), x);
    int mask = _mm_movemask_epi8(special);
    if (mask != 0) {
      auto n = __builtin_ctz(static_cast<unsigned>(mask));
      w += n;
      return p + n;
    }
    p += 16;
    w += 16;
  }
#endif
  for (; p < end; ++p) {
    char c = *p;
    if (c == '\t' || c == '\r' || (kHeader && c == '\n')) return p;
    if (c == ' ' && (p + 1 == end || is_wsp_or_cr(p[1]) || (kHeader && p[1] == '\n'))) return p;
    *w++ = c;
  }
  return end;
}

}  // namespace

std::string_view to_string(Canon c) noexcept { return c == Canon::simple ? "simple" : "relaxed"; }

std::optional<Canon> parse_canon(std::string_view word) noexcept {
  if (text::iequals(word, "simple")) return Canon::simple;
  if (text::iequals(word, "relaxed")) return Canon::relaxed;
  return std::nullopt;
}

void append_canonical_header(std::string& out, Canon canon, std::string_view name, std::string_view value) {
  if (canon == Canon::simple) {  // RFC 6376 §3.4.1: no change at all
    out.append(name);
    out.push_back(':');
    out.append(value);
    return;
  }
  // RFC 6376 §3.4.2: lowercase the name; unfold; WSP runs -> one SP; no WSP at the end of the
  // value nor around the colon. Written through a pointer into pre-sized storage (hot path).
  std::string_view n = name;
  while (!n.empty() && text::is_space_or_tab(n.back())) n.remove_suffix(1);
  std::size_t old = out.size();
  out.resize(old + n.size() + 1 + value.size() + 16);  // +16: slack for copy_relaxed_run
  char* w = out.data() + old;
  for (char c : n) *w++ = text::ascii_lower(c);
  *w++ = ':';
  bool space = false;
  bool started = false;
  const char* p = value.data();
  const char* const end = p + value.size();
  while (p < end) {
    char c = *p++;
    if (c == '\r' || c == '\n') continue;  // unfold: CRLF removed, the WSP after it stays
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && started) *w++ = ' ';
    space = false;
    started = true;
    *w++ = c;
    p = copy_relaxed_run<true>(p, end, w);  // bytes that stay as they are
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
}

std::string_view BodyCanonicalizer::update(std::string_view chunk) {
  if (finished_) return {};
  // Output never exceeds: held-back CRLFs + a held CR + one space + the chunk + one CRLF; plus
  // 16 bytes of slack for copy_relaxed_run's wide stores.
  std::size_t bound = chunk.size() + 4 + 2 * static_cast<std::size_t>(empty_lines_) + 16;
  if (out_.size() < bound) out_.resize(bound);
  char* const begin = out_.data();
  char* w = begin;
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  // State lives in locals inside the loop: stores through `w` (a char*) may alias members, which
  // would force the compiler to reload them for every byte.
  bool has_data = line_has_data_;
  bool space = pending_space_;
  bool cr = pending_cr_;
  const bool relaxed = canon_ == Canon::relaxed;

  auto start_data = [&] {
    if (!has_data) {
      for (std::uint64_t i = 0; i < empty_lines_; ++i) {
        *w++ = '\r';
        *w++ = '\n';
      }
      empty_lines_ = 0;
      has_data = true;
    }
  };
  auto end_line = [&] {
    space = false;  // relaxed: WSP at the end of a line is dropped (§3.4.4)
    if (has_data) {
      *w++ = '\r';
      *w++ = '\n';
      has_data = false;
    } else {
      ++empty_lines_;
    }
  };

  while (p < end) {
    if (cr) {
      cr = false;
      if (*p == '\n') {
        ++p;
        end_line();
        continue;
      }
      // A lone CR is data (a WSP run before it is interior, so it stays as one SP).
      start_data();
      if (space) {
        *w++ = ' ';
        space = false;
      }
      *w++ = '\r';
    }
    if (!relaxed) {
      const void* found = std::memchr(p, '\r', static_cast<std::size_t>(end - p));
      const char* stop = found ? static_cast<const char*>(found) : end;
      if (stop > p) {
        start_data();
        std::memcpy(w, p, static_cast<std::size_t>(stop - p));
        w += stop - p;
      }
      p = stop;
      if (p < end) {  // at a CR
        cr = true;
        ++p;
      }
      continue;
    }
    char c = *p++;
    if (c == ' ' || c == '\t') {
      space = true;
    } else if (c == '\r') {
      cr = true;
    } else {
      start_data();
      if (space) {
        *w++ = ' ';
        space = false;
      }
      *w++ = c;
      p = copy_relaxed_run<false>(p, end, w);  // fast path: what relaxed leaves unchanged
    }
  }
  line_has_data_ = has_data;
  pending_space_ = space;
  pending_cr_ = cr;
  auto n = static_cast<std::size_t>(w - begin);
  emitted_ += n;
  return {begin, n};
}

std::string_view BodyCanonicalizer::finish() {
  if (finished_) return {};
  finished_ = true;
  std::size_t bound = 8 + 2 * static_cast<std::size_t>(empty_lines_);  // held CRLFs, SP, CR, CRLF
  if (out_.size() < bound) out_.resize(bound);
  char* const begin = out_.data();
  char* w = begin;
  if (pending_cr_) {  // a CR as the very last byte: data
    pending_cr_ = false;
    if (!line_has_data_) {
      for (std::uint64_t i = 0; i < empty_lines_; ++i) {
        *w++ = '\r';
        *w++ = '\n';
      }
      empty_lines_ = 0;
      line_has_data_ = true;
    }
    if (canon_ == Canon::relaxed && pending_space_) *w++ = ' ';
    pending_space_ = false;
    *w++ = '\r';
  }
  // A last line without CRLF gets one (§3.4.3; for relaxed we interpret §3.4.4 the same way, as
  // every widely deployed implementation does). Held-back empty lines are dropped.
  if (line_has_data_) {
    *w++ = '\r';
    *w++ = '\n';
    line_has_data_ = false;
  }
  // §3.4.3: simple canonicalisation of an empty body is a single CRLF; relaxed is empty (§3.4.4).
  if (canon_ == Canon::simple && emitted_ == 0 && w == begin) {
    *w++ = '\r';
    *w++ = '\n';
  }
  auto n = static_cast<std::size_t>(w - begin);
  emitted_ += n;
  return {begin, n};
}

std::string_view BodyLimiter::take(std::string_view canonical) noexcept {
  std::uint64_t before = seen_;
  seen_ += canonical.size();
  if (!limit_) return canonical;
  if (before >= *limit_) return {};
  std::uint64_t room = *limit_ - before;
  if (canonical.size() > room) return canonical.substr(0, static_cast<std::size_t>(room));
  return canonical;
}

}  // namespace mailward::dkim
