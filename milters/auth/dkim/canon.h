// DKIM canonicalisation (RFC 6376 §3.4), shared by DKIM and ARC (RFC 8617 §5.1.2 reuses it).
//
// Pure: bytes in, canonical bytes out; no hashing, no OpenSSL.
//   append_canonical_header()  one header field, "simple" (§3.4.1) or "relaxed" (§3.4.2), without
//                              the CRLF that ends it (callers add CRLF, except for the signature
//                              field itself, §3.7).
//   BodyCanonicalizer          streaming body canonicalisation (§3.4.3, §3.4.4): update() with
//                              chunks split anywhere (even inside CRLF), then finish(). Each call
//                              returns the canonical bytes that are final so far; trailing empty
//                              lines are held back until a later non-empty line proves they are
//                              not trailing (§3.4.3, §3.4.4 "ignore all empty lines at the end").
//                              The sink overloads do the same without one output buffer: bytes
//                              that canonicalisation leaves unchanged go to the sink straight from
//                              the input in long runs, the rest through a small staging buffer.
//   BodyLimiter                applies l= (§3.5): passes on at most `limit` canonical bytes.
//
// Line model: a line ends at CRLF. A lone CR or lone LF is an ordinary byte of the line
// (interpretation: the RFC defines the body as CRLF-terminated lines and says nothing of bare
// CR/LF; keeping them as data keeps "simple" byte-exact). Callers holding LF-only text convert
// it with mail::to_crlf first.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mailward::dkim {

enum class Canon : std::uint8_t { simple, relaxed };

std::string_view to_string(Canon c) noexcept;
// "simple" / "relaxed" (case-insensitive, RFC 6376 §3.5 c=); nullopt for anything else.
std::optional<Canon> parse_canon(std::string_view word) noexcept;

// Appends "name:value" canonicalised; `value` is the exact bytes after the colon (CRLF in folds).
void append_canonical_header(std::string& out, Canon canon, std::string_view name, std::string_view value);

// The same written at `w`, which must have room for canonical_header_room() bytes (more than is
// written: slack for 16-byte stores); returns the end of what was written. The value is `value`
// followed by `value2`, canonicalised as one string (the verifier passes the DKIM-Signature value
// before and after its b= value, RFC 6376 §3.7, without joining them first).
constexpr std::size_t canonical_header_room(std::string_view name, std::string_view value,
                                            std::string_view value2 = {}) noexcept {
  return name.size() + 1 + value.size() + value2.size() + 16;
}
char* write_canonical_header(char* w, Canon canon, std::string_view name, std::string_view value,
                             std::string_view value2 = {}) noexcept;

// Receives canonical body bytes in order (the concatenation is the canonical body). A view passed
// to write() is valid only during that call.
class CanonSink {
 public:
  virtual ~CanonSink() = default;
  virtual void write(std::string_view canonical) = 0;
};

class BodyCanonicalizer {
 public:
  explicit BodyCanonicalizer(Canon canon) noexcept : canon_(canon) {}
  // The returned view stays valid until the next call on this object.
  std::string_view update(std::string_view chunk);
  std::string_view finish();
  // Streaming to a sink (no copy of long unchanged runs); every canonical byte that update() has
  // decided is written before it returns. Mixing these with the overloads above is allowed.
  void update(std::string_view chunk, CanonSink& sink);
  void finish(CanonSink& sink);
  Canon canon() const noexcept { return canon_; }
  // Canonical bytes returned so far (updated by update/finish).
  std::uint64_t emitted() const noexcept { return emitted_; }

 private:
  Canon canon_;
  bool pending_cr_ = false;     // a CR was the last byte seen; is it followed by LF?
  bool pending_space_ = false;  // relaxed: a run of WSP awaits the next non-WSP byte
  bool line_has_data_ = false;  // the current line has emitted bytes
  bool finished_ = false;
  std::uint64_t empty_lines_ = 0;  // empty lines held back
  std::uint64_t emitted_ = 0;
  std::string out_;                 // output of the view-returning overloads
  std::unique_ptr<char[]> stage_;   // staging buffer of the sink overloads when the thread's is in use
};

// Applies a body length limit (RFC 6376 §3.5 l=): take() returns the part of each canonical chunk
// that still falls inside the limit. Without a limit everything passes.
class BodyLimiter {
 public:
  explicit BodyLimiter(std::optional<std::uint64_t> limit) noexcept : limit_(limit) {}
  std::string_view take(std::string_view canonical) noexcept;
  std::uint64_t seen() const noexcept { return seen_; }  // canonical bytes offered in total
  std::optional<std::uint64_t> limit() const noexcept { return limit_; }

 private:
  std::optional<std::uint64_t> limit_;
  std::uint64_t seen_ = 0;
};

}  // namespace mailward::dkim
