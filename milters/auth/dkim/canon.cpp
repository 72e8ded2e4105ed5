// DKIM header and body canonicalisation, RFC 6376 §3.4 (see canon.h for the line model).
#include "milters/auth/dkim/canon.h"

#include <cstring>
#include <tuple>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MAILWARD_HAVE_AVX2_PATH 1
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
// `begin` (optional) is where the readable bytes before `p` start: when the 16 bytes before `end`
// are readable, the last part (under 17 bytes) is classified in one 16-byte window ending at `end`
// instead of byte by byte.
template <bool kHeader>
const char* copy_relaxed_run(const char* p, const char* end, char*& w, const char* begin = nullptr) noexcept {
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
  if (begin != nullptr && p < end && end - begin >= 16) {
    const char* base = end - 16;  // p - base is in [0, 15]: fewer than 17 bytes are left
    const auto skip = static_cast<unsigned>(p - base);
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base));
    // The byte after each one; after the last comes the end, which makes a SP there special.
    const __m128i next = _mm_or_si128(_mm_srli_si128(x, 1), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ' '));
    const __m128i next_ws = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(next, sp), _mm_cmpeq_epi8(next, tab)),
                                         _mm_or_si128(_mm_cmpeq_epi8(next, cr), _mm_cmpeq_epi8(next, cr2)));
    const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, tab), _mm_cmpeq_epi8(x, cr2)),
                                         _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_and_si128(_mm_cmpeq_epi8(x, sp), next_ws)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special)) >> skip;
    const unsigned n = mask != 0 ? static_cast<unsigned>(__builtin_ctz(mask)) : 16U - skip;
    std::memcpy(w, p, n);
    w += n;
    return p + n;
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
  // Case-insensitive (see canon.h).
  if (text::iequals(word, "simple")) return Canon::simple;
  if (text::iequals(word, "relaxed")) return Canon::relaxed;
  return std::nullopt;
}

namespace {

// ASCII lowercase of 8 bytes at once (bytes >= 0x80 unchanged): a byte gets 0x20 added iff it is
// in 'A'..'Z'.
inline std::uint64_t lower8(std::uint64_t x) noexcept {
  constexpr std::uint64_t k7f = 0x7F7F7F7F7F7F7F7FULL, k80 = 0x8080808080808080ULL, k01 = 0x0101010101010101ULL;
  const std::uint64_t low7 = x & k7f;
  const std::uint64_t ge_a = low7 + k01 * (0x80 - 'A');  // bit 7 set where low7 >= 'A'
  const std::uint64_t gt_z = low7 + k01 * (0x7F - 'Z');  // bit 7 set where low7 > 'Z'
  const std::uint64_t upper = ge_a & ~gt_z & ~x & k80;   // and the byte itself is ASCII
  return x | (upper >> 2);
}

// Writes `n` lowercased; names of 8 bytes or more go 8 at a time (the last word overlaps).
inline char* write_lower(char* w, std::string_view n) noexcept {
  if (n.size() < 8) {
    for (char c : n) *w++ = text::ascii_lower(c);
    return w;
  }
  std::uint64_t x;
  for (std::size_t i = 0; i + 8 <= n.size(); i += 8) {
    std::memcpy(&x, n.data() + i, 8);
    x = lower8(x);
    std::memcpy(w + i, &x, 8);
  }
  std::memcpy(&x, n.data() + n.size() - 8, 8);
  x = lower8(x);
  std::memcpy(w + n.size() - 8, &x, 8);
  return w + n.size();
}

}  // namespace

void append_canonical_header(std::string& out, Canon canon, std::string_view name, std::string_view value) {
  const std::size_t old = out.size();
  out.resize(old + canonical_header_room(name, value));
  char* w = write_canonical_header(out.data() + old, canon, name, value);
  out.resize(static_cast<std::size_t>(w - out.data()));
}

char* write_canonical_header(char* w, Canon canon, std::string_view name, std::string_view value,
                             std::string_view value2) noexcept {
  if (canon == Canon::simple) {  // RFC 6376 §3.4.1: no change at all
    std::memcpy(w, name.data(), name.size());
    w += name.size();
    *w++ = ':';
    if (!value.empty()) std::memcpy(w, value.data(), value.size());
    w += value.size();
    if (!value2.empty()) std::memcpy(w, value2.data(), value2.size());
    return w + value2.size();
  }
  // RFC 6376 §3.4.2: lowercase the name; unfold; WSP runs -> one SP; no WSP at the end of the
  // value nor around the colon. The two value pieces share one state (a WSP run may span them).
  std::string_view n = name;
  while (!n.empty() && text::is_space_or_tab(n.back())) n.remove_suffix(1);
  w = write_lower(w, n);
  *w++ = ':';
  bool space = false;
  bool started = false;
  for (std::string_view piece : {value, value2}) {
    const char* p = piece.data();
    const char* const end = p + piece.size();
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
      p = copy_relaxed_run<true>(p, end, w, piece.data());  // bytes that stay as they are
    }
  }
  return w;
}

namespace {

constexpr std::size_t kStageSize = 2048;   // staging buffer for short and rewritten pieces
constexpr std::size_t kDirectRun = 256;    // unchanged runs at least this long skip the staging

// Collects canonical output for a sink: long runs of input bytes go to the sink as they are
// (hashing them straight from the caller's buffer), short pieces and rewritten bytes are copied
// into the staging buffer first so that the sink sees few, large writes. Order is preserved.
class Emitter {
 public:
  Emitter(CanonSink& sink, char* stage, std::size_t capacity) noexcept : sink_(sink), stage_(stage), cap_(capacity) {}
  void piece(const char* p, std::size_t n) {
    if (n == 0) return;
    total_ += n;
    if (n >= kDirectRun || n > cap_) {
      flush();
      sink_.write({p, n});
      return;
    }
    if (cap_ - used_ < n) flush();
    std::memcpy(stage_ + used_, p, n);
    used_ += n;
  }
  void byte(char c) {
    if (used_ == cap_) flush();
    stage_[used_++] = c;
    ++total_;
  }
  void crlfs(std::uint64_t k) {
    for (; k > 0; --k) {
      byte('\r');
      byte('\n');
    }
  }
  // Room for n bytes written straight into the staging buffer (n <= capacity), then commit().
  char* reserve(std::size_t n) {
    if (cap_ - used_ < n) flush();
    return stage_ + used_;
  }
  void commit(std::size_t n) noexcept {
    used_ += n;
    total_ += n;
  }
  // The whole free part of the staging buffer, at least `n` bytes (flushing first when less is
  // free), for a writer that keeps its own cursor and commits once: its per-write bookkeeping then
  // stays in registers instead of going through this object.
  std::pair<char*, char*> reserve_all(std::size_t n) {
    reserve(n);
    return {stage_ + used_, stage_ + cap_};
  }
  void flush() {
    if (used_ > 0) sink_.write({stage_, used_});
    used_ = 0;
  }
  std::uint64_t total() const noexcept { return total_; }

 private:
  CanonSink& sink_;
  char* stage_;
  std::size_t cap_;
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
};

#if defined(MAILWARD_HAVE_AVX2_PATH)
bool cpu_has_avx2() noexcept {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
}

// Left-packing table: entry m lists, in ascending order, the positions of the bits set in m (the
// bytes of an 8-byte group that are kept), then 0x80 (a shuffle gives 0 there; never stored past
// the kept count that matters).
struct PackTable {
  std::uint8_t idx[256][8];
};
constexpr PackTable make_pack_table() noexcept {
  PackTable t{};
  for (unsigned m = 0; m < 256; ++m) {
    unsigned n = 0;
    for (unsigned b = 0; b < 8; ++b)
      if ((m >> b) & 1U) t.idx[m][n++] = static_cast<std::uint8_t>(b);
    for (; n < 8; ++n) t.idx[m][n] = 0x80;
  }
  return t;
}
constexpr PackTable kPackTable = make_pack_table();

// Relaxed body canonicalisation (RFC 6376 §3.4.4) of text dense in WSP runs, 64 bytes at a time
// with bit operations across the block instead of one step per run. Called at a WSP run inside a
// line that has data, with no WSP run pending (so q[-1] is not WSP). Of each block, the part taken
// is the longest prefix whose line structure is trivial: every CR in it is a CRLF followed by a
// data byte (neither WSP nor CR), no WSP stands right before a CR (no run is trailing), and its
// last byte is neither WSP nor CR (no run or CRLF crosses its end; the CRLF and the byte after it
// must lie in the block, so at most 62 bytes are taken). Then every WSP run in it is interior and
// becomes one SP: a WSP preceded by WSP is dropped, a kept TAB becomes SP, CRLFs pass as they are,
// and every line that starts in it has data. Kept bytes are left-packed 8 at a time (pshufb with a
// 256-entry table) into the staging buffer (16 at a time where none goes). Returns the position
// after the last part taken (q itself when none, or when a byte that stops the block comes first):
// the state there is "inside a line with data, no WSP pending" again (the byte there is data when
// the part ended with a CRLF).
__attribute__((target("avx2"))) inline std::uint64_t mask64(__m256i lo, __m256i hi) noexcept {
  return std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(lo))} |
         (std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(hi))} << 32);
}

__attribute__((target("avx2,popcnt"))) const char* compact_wsp_blocks(const char* q, const char* end,
                                                                      Emitter& e) {
  const __m256i vsp = _mm256_set1_epi8(' ');
  const __m256i vtab = _mm256_set1_epi8('\t');
  const __m256i vcr = _mm256_set1_epi8('\r');
  const __m256i vlf = _mm256_set1_epi8('\n');
  const __m256i tab_to_sp = _mm256_set1_epi8('\t' ^ ' ');
  constexpr std::uint64_t kInside = (std::uint64_t{1} << 62) - 1;  // bytes 0..61: CRLF + next in the block
  char* room;  // output: w moves through [room, room_end), committed once at the end
  char* room_end;
  std::tie(room, room_end) = e.reserve_all(64);
  char* w = room;
  while (end - q >= 64) {
    __m256i x[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)),
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32))};
    const __m256i et0 = _mm256_cmpeq_epi8(x[0], vtab), et1 = _mm256_cmpeq_epi8(x[1], vtab);
    const std::uint64_t tab = mask64(et0, et1);
    const std::uint64_t wsp = mask64(_mm256_or_si256(et0, _mm256_cmpeq_epi8(x[0], vsp)),
                                     _mm256_or_si256(et1, _mm256_cmpeq_epi8(x[1], vsp)));
    const std::uint64_t cr = mask64(_mm256_cmpeq_epi8(x[0], vcr), _mm256_cmpeq_epi8(x[1], vcr));
    const std::uint64_t lf = mask64(_mm256_cmpeq_epi8(x[0], vlf), _mm256_cmpeq_epi8(x[1], vlf));
    x[0] = _mm256_xor_si256(x[0], _mm256_and_si256(et0, tab_to_sp));  // TAB -> SP
    x[1] = _mm256_xor_si256(x[1], _mm256_and_si256(et1, tab_to_sp));
    const std::uint64_t ws_or_cr = wsp | cr;
    // Bytes that stop the block: a CR that is not CRLF + data byte, a WSP right before a CR. Only
    // bytes 0..61 are judged (their CRLF and the byte after it are in the block); the part taken
    // ends inside them, and the next block starts there.
    const std::uint64_t bad = ((cr & ~((lf >> 1) & ~(ws_or_cr >> 2))) | (wsp & (cr >> 1))) & kInside;
    const std::uint64_t before_bad = bad == 0 ? kInside : (std::uint64_t{1} << __builtin_ctzll(bad)) - 1;
    // The part taken ends after its last byte that is neither WSP nor CR (before any bad byte).
    const std::uint64_t ends = ~ws_or_cr & before_bad;
    if (ends == 0) break;
    const unsigned n = 64U - static_cast<unsigned>(__builtin_clzll(ends));  // <= 62
    const std::uint64_t in = (std::uint64_t{1} << n) - 1;
    const std::uint64_t drop = wsp & (wsp << 1) & in;  // bit 0: q[-1] is not WSP
    if (room_end - w < 64) {  // the staging buffer is full: hand it on
      e.commit(static_cast<std::size_t>(w - room));
      std::tie(room, room_end) = e.reserve_all(64);
      w = room;
    }
    if ((drop | (tab & in)) == 0) {  // nothing changes: copied as it is
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(w), x[0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(w + 32), x[1]);
      w += n;
      q += n;
      if (bad != 0) break;
      continue;
    }
    const std::uint64_t keep = ~drop & in;
    const __m128i parts[4] = {_mm256_castsi256_si128(x[0]), _mm256_extracti128_si256(x[0], 1),
                              _mm256_castsi256_si128(x[1]), _mm256_extracti128_si256(x[1], 1)};
#pragma GCC unroll 4
    for (unsigned h = 0; h < 4; ++h) {  // 16-byte parts: whole when nothing in them goes
      const auto bits = static_cast<unsigned>(keep >> (16 * h)) & 0xFFFFU;
      if (bits == 0xFFFFU) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(w), parts[h]);
        w += 16;
        continue;
      }
      const unsigned lo = bits & 0xFFU, hi = bits >> 8;  // 8-byte groups
      _mm_storel_epi64(reinterpret_cast<__m128i*>(w),
                       _mm_shuffle_epi8(parts[h], _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kPackTable.idx[lo]))));
      w += __builtin_popcount(lo);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(w),
                       _mm_shuffle_epi8(_mm_srli_si128(parts[h], 8),
                                        _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kPackTable.idx[hi]))));
      w += __builtin_popcount(hi);
    }
    q += n;
    if (bad != 0) break;  // the general loop deals with what stopped the block
  }
  e.commit(static_cast<std::size_t>(w - room));
  return q;
}
#endif

class StringSink final : public CanonSink {
 public:
  explicit StringSink(std::string& out) noexcept : out_(out) {}
  void write(std::string_view canonical) override { out_.append(canonical); }

 private:
  std::string& out_;
};

// Relaxed body scan (RFC 6376 §3.4.4): finds, at or after a position, the first byte where
// relaxed canonicalisation may change something or where the line structure matters: a TAB, a
// SP followed by SP/TAB/CR, or a CR, each where the bytes needed to decide are in the chunk. The
// one CR that is not special is that of a CRLF followed by a data byte (neither WSP nor CR): the
// scan is only started inside a line that has data, so such a CRLF ends a non-empty line and the
// next line has data too; nothing is held back or rewritten there. Every byte before the found
// one passes unchanged. The chunk is classified 64 bytes at a time into a bit mask that later
// calls reuse, so dense whitespace does not rescan the same bytes.
class RelaxedScanner {
 public:
  explicit RelaxedScanner(const char* end) noexcept : end_(end) {}

  const char* next(const char* p) noexcept {
    if (base_ != nullptr && p >= base_ && p < base_ + 64) {  // inside the block classified last
      std::uint64_t m = mask_ & (~std::uint64_t{0} << static_cast<unsigned>(p - base_));
      if (m != 0) return base_ + __builtin_ctzll(m);
      p = base_ + 64;
    }
    base_ = nullptr;
#if defined(MAILWARD_HAVE_AVX2_PATH)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) {
      p = find_avx2(p, end_, base_, mask_);
      if (base_ != nullptr) return p;
      return tail(p);
    }
#endif
    for (; end_ - p >= 66; p += 64) {  // the block and the two bytes after it must be in the chunk
      const std::uint64_t m = classify_portable(p);
      if (m != 0) {
        base_ = p;
        mask_ = m;
        return p + __builtin_ctzll(m);
      }
    }
    return tail(p);
  }

 private:
  // The three masks combined into the special-byte mask (see the class comment).
  static std::uint64_t combine(std::uint64_t sp, std::uint64_t ws, std::uint64_t crlf, const char* p) noexcept {
    const auto w64 = static_cast<std::uint64_t>(is_wsp_or_cr(p[64]));
    const auto w65 = static_cast<std::uint64_t>(is_wsp_or_cr(p[65]));
    const std::uint64_t next_ws = (ws >> 1) | (w64 << 63);
    const std::uint64_t next2_ws = (ws >> 2) | (w64 << 62) | (w65 << 63);
    // TAB or CR, except a CRLF followed by a data byte; SP before SP/TAB/CR.
    return (ws & ~sp & ~(crlf & ~next2_ws)) | (sp & next_ws);
  }

#if defined(MAILWARD_HAVE_AVX2_PATH)
  // The same classification on CPUs that have AVX2 (chosen at run time: the build targets baseline
  // x86-64), as one loop over 64-byte blocks: the common case (prose without special bytes) costs
  // about 40 instructions per block and no call per block. "WSP or CR" is one shuffle and one
  // compare: a table indexed by the low nibble holds the only byte of that nibble that qualifies
  // (0x20 at 0, TAB at 9, CR at 13; 0 elsewhere, which no byte of another nibble equals), and the
  // shuffle gives 0 for bytes >= 0x80. Returns the first special byte (and sets `base`/`mask` to
  // its block), or the position where fewer than 66 bytes are left (base untouched).
  __attribute__((target("avx2"))) static const char* find_avx2(const char* p, const char* end, const char*& base,
                                                               std::uint64_t& mask) noexcept {
    const __m256i table = _mm256_setr_epi8(0x20, 0, 0, 0, 0, 0, 0, 0, 0, '\t', 0, 0, 0, '\r', 0, 0,  //
                                           0x20, 0, 0, 0, 0, 0, 0, 0, 0, '\t', 0, 0, 0, '\r', 0, 0);
    const __m256i vsp = _mm256_set1_epi8(' ');
    const __m256i vtab = _mm256_set1_epi8('\t');
    const __m256i vcr = _mm256_set1_epi8('\r');
    const __m256i vlf = _mm256_set1_epi8('\n');
    for (; end - p >= 66; p += 64) {
      std::uint64_t m = 0;
      for (unsigned k = 0; k < 2; ++k) {  // 32 bytes; reads q[0..33]
        const char* q = p + 32 * k;
        const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
        const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 1));
        const __m256i x2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 2));
        const __m256i ws1 = _mm256_cmpeq_epi8(_mm256_shuffle_epi8(table, x1), x1);
        const __m256i ws2 = _mm256_cmpeq_epi8(_mm256_shuffle_epi8(table, x2), x2);
        // TAB; SP before SP/TAB/CR; CR unless it is a CRLF followed by a data byte.
        const __m256i crlf_data = _mm256_andnot_si256(ws2, _mm256_cmpeq_epi8(x1, vlf));
        const __m256i special =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x0, vtab), _mm256_and_si256(_mm256_cmpeq_epi8(x0, vsp), ws1)),
                            _mm256_andnot_si256(crlf_data, _mm256_cmpeq_epi8(x0, vcr)));
        m |= std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(special))} << (32 * k);
      }
      if (m != 0) {
        base = p;
        mask = m;
        return p + __builtin_ctzll(m);
      }
    }
    return p;
  }
#endif

  static std::uint64_t classify_portable(const char* p) noexcept {
    std::uint64_t sp, ws, crlf;  // SP; SP/TAB/CR; CR followed by LF
#if defined(__SSE2__)
    const __m128i vsp = _mm_set1_epi8(' ');
    const __m128i vtab = _mm_set1_epi8('\t');
    const __m128i vcr = _mm_set1_epi8('\r');
    const __m128i vlf = _mm_set1_epi8('\n');
    unsigned m_sp[4], m_ws[4], m_crlf[4];
    auto step = [&](unsigned k) {  // 16 bytes; the load at +1 sees the LF after a CR
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
      __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k + 1));
      __m128i esp = _mm_cmpeq_epi8(x, vsp);
      __m128i ecr = _mm_cmpeq_epi8(x, vcr);
      m_sp[k] = static_cast<unsigned>(_mm_movemask_epi8(esp));
      m_ws[k] = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(esp, ecr), _mm_cmpeq_epi8(x, vtab))));
      m_crlf[k] = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(ecr, _mm_cmpeq_epi8(x1, vlf))));
    };
    step(0);
    step(1);
    step(2);
    step(3);
    auto join = [](const unsigned* m) {
      return std::uint64_t{m[0]} | (std::uint64_t{m[1]} << 16) | (std::uint64_t{m[2]} << 32) | (std::uint64_t{m[3]} << 48);
    };
    sp = join(m_sp);
    ws = join(m_ws);
    crlf = join(m_crlf);
#else
    sp = ws = crlf = 0;
    for (unsigned k = 0; k < 64; ++k) {
      sp |= static_cast<std::uint64_t>(p[k] == ' ') << k;
      ws |= static_cast<std::uint64_t>(is_wsp_or_cr(p[k])) << k;
      crlf |= static_cast<std::uint64_t>(p[k] == '\r' && p[k + 1] == '\n') << k;
    }
#endif
    return combine(sp, ws, crlf, p);
  }

  const char* tail(const char* p) const noexcept {
    for (; p < end_; ++p) {
      char c = *p;
      if (c == '\t') return p;
      if (c == '\r') {
        if (end_ - p >= 3 && p[1] == '\n' && !is_wsp_or_cr(p[2])) continue;  // CRLF, then data
        return p;
      }
      if (c == ' ' && (p + 1 == end_ || is_wsp_or_cr(p[1]))) return p;
    }
    return end_;
  }

  const char* end_;
  const char* base_ = nullptr;  // start of the classified block (64 bytes), if any
  std::uint64_t mask_ = 0;      // bit i: base_[i] is special
};

}  // namespace

std::string_view BodyCanonicalizer::update(std::string_view chunk) {
  out_.clear();
  StringSink sink(out_);
  update(chunk, sink);
  return out_;
}

std::string_view BodyCanonicalizer::finish() {
  out_.clear();
  StringSink sink(out_);
  finish(sink);
  return out_;
}

// The line model and the rules are those of canon.h: RFC 6376 §3.4.3 (simple) and §3.4.4
// (relaxed). `run` marks the start of input bytes that pass unchanged and are not yet emitted;
// whenever the output departs from the input, [run, p) is emitted first, then the rewritten
// bytes, and `run` moves on. Trailing empty lines are counted (empty_lines_), not emitted, until
// a later data byte proves they are not trailing.
namespace {

// One staging buffer per thread, shared by the thread's BodyCanonicalizers: update() empties it
// before it returns, so nothing stays in it between calls, and a message costs no 2 KB heap
// allocation. A call made while another is using it (a sink that feeds another canonicaliser)
// gets its object's own heap buffer instead.
struct ThreadStage {
  char buf[kStageSize];
  bool busy = false;
};
thread_local ThreadStage t_stage;

class StageLease {
 public:
  explicit StageLease(std::unique_ptr<char[]>& own) noexcept {
    if (!t_stage.busy) {
      t_stage.busy = true;
      leased_ = true;
      buf_ = t_stage.buf;
      return;
    }
    if (!own) own.reset(new char[kStageSize]);
    buf_ = own.get();
  }
  ~StageLease() {
    if (leased_) t_stage.busy = false;
  }
  StageLease(const StageLease&) = delete;
  StageLease& operator=(const StageLease&) = delete;
  char* get() const noexcept { return buf_; }

 private:
  char* buf_ = nullptr;
  bool leased_ = false;
};

}  // namespace

void BodyCanonicalizer::update(std::string_view chunk, CanonSink& sink) {
  if (finished_ || chunk.empty()) return;
  const StageLease stage(stage_);
  Emitter e(sink, stage.get(), kStageSize);
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  const char* run = p;
  // State lives in locals inside the loop (members would be reloaded after every sink call).
  bool has_data = line_has_data_;
  bool space = pending_space_;
  std::uint64_t empty_lines = empty_lines_;
  const bool relaxed = canon_ == Canon::relaxed;
  RelaxedScanner scanner(end);
  // Held-back empty lines that are literal CRLFs at [held, p), inside the pending run: a data byte
  // after them just lets the run go on (the input has the same bytes as the output). Anything else
  // settles them first: the run is emitted up to `held`, the CRLFs stay counted in empty_lines.
  const char* held = nullptr;
  auto settle = [&] {
    if (held == nullptr) return;
    e.piece(run, static_cast<std::size_t>(held - run));
    run = p;
    held = nullptr;
  };

  // A data byte at p begins or continues a line: held-back empty lines are not trailing after all.
  auto start_data = [&] {
    if (has_data) return;
    has_data = true;
    if (empty_lines == 0) return;
    if (held != nullptr) {  // the CRLFs are part of the run
      held = nullptr;
      empty_lines = 0;
      return;
    }
    e.piece(run, static_cast<std::size_t>(p - run));
    run = p;
    e.crlfs(empty_lines);
    empty_lines = 0;
  };

  if (pending_cr_) {  // the previous chunk ended with a CR: CRLF split across chunks, or a lone CR
    pending_cr_ = false;
    if (*p == '\n') {
      ++p;
      space = false;  // relaxed: WSP at the end of a line is dropped (§3.4.4)
      if (has_data) {
        e.byte('\r');
        e.byte('\n');
        has_data = false;
      } else {
        ++empty_lines;
      }
    } else {  // a lone CR is data (a WSP run before it is interior, so it stays as one SP)
      start_data();
      if (space) e.byte(' ');
      space = false;
      e.byte('\r');
    }
    run = p;
  }

  while (p < end) {
    const char c = *p;
    if (c == '\r') {
      if (p + 1 == end) {  // CRLF or lone CR? The next chunk tells.
        settle();
        e.piece(run, static_cast<std::size_t>(p - run));
        pending_cr_ = true;
        run = p = end;
        break;
      }
      if (p[1] == '\n') {  // end of line
        space = false;     // (relaxed: a pending WSP run is trailing and goes; run == p then)
        if (has_data) {    // CRLF passes unchanged
          has_data = false;
        } else if (held != nullptr) {  // another literal empty line right after the held ones
          ++empty_lines;
        } else if (empty_lines == 0) {  // the first empty line: [run, p) is pending output
          held = p;
          ++empty_lines;
        } else {           // an empty line: held back
          e.piece(run, static_cast<std::size_t>(p - run));
          ++empty_lines;
          run = p + 2;
        }
        p += 2;
        continue;
      }
      // A lone CR: data.
      start_data();
      if (space) {  // relaxed: interior WSP run before it, one SP (run == p here)
        e.byte(' ');
        space = false;
      }
      ++p;
      continue;
    }
    if (!relaxed) {  // simple (§3.4.3): nothing changes inside a line
      start_data();
      const void* found = std::memchr(p, '\r', static_cast<std::size_t>(end - p));
      p = found ? static_cast<const char*>(found) : end;
      continue;
    }
    if (c == ' ' || c == '\t') {
      if (!space && c == ' ' && p + 1 < end && !is_wsp_or_cr(p[1])) {  // a lone SP: unchanged
        start_data();
        ++p;
        continue;
      }
      // A WSP run: it becomes one SP before the next data byte, or nothing at the end of the line.
      settle();
#if defined(MAILWARD_HAVE_AVX2_PATH)
      if (has_data && !space && end - p >= 64 && cpu_has_avx2()) {  // dense WSP: whole blocks at once
        e.piece(run, static_cast<std::size_t>(p - run));
        run = p;
        const char* q = compact_wsp_blocks(p, end, e);
        if (q != p) {
          run = p = q;
          continue;
        }
      }
#endif
      const char* ws = p;
      while (p < end && (*p == ' ' || *p == '\t')) ++p;
      if (!space && c == ' ' && has_data && p < end && *p != '\r') {
        // Interior run that starts with a SP: that SP is the one kept (same bytes, fewer pieces).
        e.piece(run, static_cast<std::size_t>(ws + 1 - run));
        run = p;
        p = scanner.next(p + 1);  // *p is a data byte of a line with data: nothing to do for it
        continue;
      }
      e.piece(run, static_cast<std::size_t>(ws - run));
      space = true;
      run = p;
      continue;
    }
    // A data byte.
    start_data();
    if (space) {  // run == p here
      e.byte(' ');
      space = false;
    }
    p = scanner.next(p + 1);
  }
  settle();
  e.piece(run, static_cast<std::size_t>(end - run));
  e.flush();
  line_has_data_ = has_data;
  pending_space_ = space;
  empty_lines_ = empty_lines;
  emitted_ += e.total();
}

void BodyCanonicalizer::finish(CanonSink& sink) {
  if (finished_) return;
  finished_ = true;
  char stage[16];  // at most: SP, CR, CRLF (held-back CRLFs flush as it fills)
  Emitter e(sink, stage, sizeof stage);
  if (pending_cr_) {  // a CR as the very last byte: data
    pending_cr_ = false;
    if (!line_has_data_) {
      e.crlfs(empty_lines_);
      empty_lines_ = 0;
      line_has_data_ = true;
    }
    if (canon_ == Canon::relaxed && pending_space_) e.byte(' ');
    pending_space_ = false;
    e.byte('\r');
  }
  // A last line without CRLF gets one (§3.4.3; for relaxed we interpret §3.4.4 the same way, as
  // every widely deployed implementation does). Held-back empty lines are dropped.
  if (line_has_data_) {
    e.byte('\r');
    e.byte('\n');
    line_has_data_ = false;
  }
  // §3.4.3: simple canonicalisation of an empty body is a single CRLF; relaxed is empty (§3.4.4).
  if (canon_ == Canon::simple && emitted_ == 0 && e.total() == 0) {
    e.byte('\r');
    e.byte('\n');
  }
  e.flush();
  emitted_ += e.total();
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
