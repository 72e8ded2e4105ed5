// Base64 encoding and strict decoding for DKIM tag values (RFC 4648 §4, RFC 6376 §2.4).
#include "milters/auth/dkim/base64.h"

#include <array>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MAILWARD_HAVE_AVX2_PATH 1
#endif

namespace mailward::dkim {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kTable = make_table();

// The same alphabet values pre-shifted to their place in a 24-bit quantum (modp_b64's idea): a
// whole quantum is d0[a] | d1[b] | d2[c] | d3[d] with no shifts, and any byte outside the alphabet
// sets bit 24 (kBad), so one test decides the four characters.
constexpr std::uint32_t kBad = 0x01000000;
constexpr std::array<std::uint32_t, 256> make_shifted(int shift) {
  std::array<std::uint32_t, 256> t{};
  for (std::size_t c = 0; c < 256; ++c)
    t[c] = kTable[c] < 0 ? kBad : static_cast<std::uint32_t>(kTable[c]) << shift;
  return t;
}
constexpr auto kD0 = make_shifted(18);
constexpr auto kD1 = make_shifted(12);
constexpr auto kD2 = make_shifted(6);
constexpr auto kD3 = make_shifted(0);

#if defined(MAILWARD_HAVE_AVX2_PATH)
bool cpu_has_avx2() noexcept {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
}

// Decodes 32 alphabet characters at `in` into 24 bytes at `out` (32 bytes are written: the caller
// leaves 8 bytes of slack); false, writing nothing, when any of them is outside the alphabet (FWS,
// '=', junk), so that the caller's careful path decides. The alphabet check and the translation
// use the classic nibble lookups (Muła & Lemire, "Faster Base64 Encoding and Decoding using AVX2
// Instructions", 2018): every byte's low and high nibbles index two bit tables whose AND is zero
// exactly for A-Z a-z 0-9 + /; a third table, by high nibble ('/' apart), holds what to add to
// get the 6-bit value. Then multiply-adds pack 4x6 bits into 3 bytes per quantum.
__attribute__((target("avx2"))) bool decode_block_avx2(const unsigned char* in, char* out) noexcept {
  const __m256i str = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
  // Bit tables: a character is valid iff (lut_lo[low nibble] & lut_hi[high nibble]) == 0.
  const __m256i lut_lo = _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A,
                                          0x1B, 0x1B, 0x1B, 0x1A, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                          0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
  const __m256i lut_hi = _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
                                          0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
                                          0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
  // What to add, by high nibble ('/' uses entry 1: its nibble 2 minus the 0xFF of the compare).
  const __m256i lut_roll = _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 19, 4,
                                            -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i mask_2f = _mm256_set1_epi8(0x2F);  // keeps the nibble and clears bit 7 (pshufb's zeroing bit)
  const __m256i hi_nibbles = _mm256_and_si256(_mm256_srli_epi32(str, 4), mask_2f);
  const __m256i lo_nibbles = _mm256_and_si256(str, mask_2f);
  const __m256i lo = _mm256_shuffle_epi8(lut_lo, lo_nibbles);
  const __m256i hi = _mm256_shuffle_epi8(lut_hi, hi_nibbles);
  if (!_mm256_testz_si256(lo, hi)) return false;
  const __m256i eq_2f = _mm256_cmpeq_epi8(str, mask_2f);
  const __m256i roll = _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(eq_2f, hi_nibbles));
  const __m256i values = _mm256_add_epi8(str, roll);
  // 00aaaaaa 00bbbbbb -> aaaaaabbbbbb (16 bits), then two of those -> 24 bits per 32-bit lane.
  const __m256i ab_bc = _mm256_maddubs_epi16(values, _mm256_set1_epi32(0x01400140));
  __m256i packed = _mm256_madd_epi16(ab_bc, _mm256_set1_epi32(0x00011000));
  packed = _mm256_shuffle_epi8(packed, _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2, 1,
                                                        0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
  packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), packed);
  return true;
}
#endif

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.append("==");
  } else if (rest == 2) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // +3: the careful path's partial quantum; +8: slack for the 32-byte stores of the AVX2 blocks.
  std::string out(text.size() / 4 * 3 + 3 + 8, '\0');
  char* w = out.data();
#if defined(MAILWARD_HAVE_AVX2_PATH)
  const bool avx2 = text.size() >= 32 && cpu_has_avx2();
#endif
  std::uint32_t acc = 0;
  int bits = 0;
  int padding = 0;
  std::size_t i = 0;
  const std::size_t n = text.size();
  const auto* u = reinterpret_cast<const unsigned char*>(text.data());
  for (;;) {
    // Fast path, at a quantum boundary: whole quanta of four alphabet characters (the bulk of any
    // b= or p= value, between the FWS of its folds).
#if defined(MAILWARD_HAVE_AVX2_PATH)
    if (avx2 && bits == 0 && padding == 0 && i < n && kTable[u[i]] >= 0)  // (not on each FWS byte of a fold)
      while (i + 32 <= n && decode_block_avx2(u + i, w)) {
        w += 24;
        i += 32;
      }
#endif
    while (bits == 0 && padding == 0 && i + 4 <= n) {
      const std::uint32_t v = kD0[u[i]] | kD1[u[i + 1]] | kD2[u[i + 2]] | kD3[u[i + 3]];
      if (v >= kBad) break;  // FWS, padding or junk: the careful step below decides
      w[0] = static_cast<char>(v >> 16);
      w[1] = static_cast<char>((v >> 8) & 0xFF);
      w[2] = static_cast<char>(v & 0xFF);
      w += 3;
      i += 4;
    }
    if (i >= n) break;
    // Careful step: one character (FWS skipped, '=' counted); the fast path resumes once a quantum
    // is complete again.
    const char c = text[i++];
    std::int8_t v = kTable[static_cast<unsigned char>(c)];
    if (v >= 0) {
      if (padding > 0) return std::nullopt;  // data after padding
      acc = (acc << 6) | static_cast<std::uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        *w++ = static_cast<char>((acc >> bits) & 0xFF);
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c != '=') return std::nullopt;
    ++padding;
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
  // 6 leftover bits can never form a byte; 2 or 4 leftover bits must be zero.
  if (bits == 6) return std::nullopt;
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  if (padding > 2) return std::nullopt;
  if (padding > 0 && padding != (bits == 4 ? 2 : bits == 2 ? 1 : -1)) return std::nullopt;
  return out;
}

}  // namespace mailward::dkim
