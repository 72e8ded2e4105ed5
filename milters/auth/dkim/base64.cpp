// Base64 encoding and strict decoding for DKIM tag values (RFC 4648 §4, RFC 6376 §2.4).
#include "milters/auth/dkim/base64.h"

#include <array>
#include <cstdint>

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
  std::string out(text.size() / 4 * 3 + 3, '\0');
  char* w = out.data();
  std::uint32_t acc = 0;
  int bits = 0;
  int padding = 0;
  std::size_t i = 0;
  const std::size_t n = text.size();
  const auto* u = reinterpret_cast<const unsigned char*>(text.data());
  for (;;) {
    // Fast path, at a quantum boundary: whole quanta of four alphabet characters (the bulk of any
    // b= or p= value, between the FWS of its folds).
    while (bits == 0 && padding == 0 && i + 4 <= n) {
      std::int8_t a = kTable[u[i]], b = kTable[u[i + 1]], c = kTable[u[i + 2]], d = kTable[u[i + 3]];
      if ((a | b | c | d) < 0) break;  // FWS, padding or junk: the careful step below decides
      auto v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
               (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
      *w++ = static_cast<char>(v >> 16);
      *w++ = static_cast<char>((v >> 8) & 0xFF);
      *w++ = static_cast<char>(v & 0xFF);
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
