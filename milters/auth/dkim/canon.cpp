// DKIM header and body canonicalisation, RFC 6376 §3.4 (see canon.h for the line model).
#include "milters/auth/dkim/canon.h"

#include <cstring>

#include "common/util/text.h"

namespace mailward::dkim {

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
  // value nor around the colon.
  std::string_view n = name;
  while (!n.empty() && text::is_space_or_tab(n.back())) n.remove_suffix(1);
  for (char c : n) out.push_back(text::ascii_lower(c));
  out.push_back(':');
  bool space = false;
  bool started = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;  // unfold: CRLF removed, the WSP after it stays
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && started) out.push_back(' ');
    space = false;
    started = true;
    out.push_back(c);
  }
}

void BodyCanonicalizer::flush_pending(char*& w) {
  // Only reached when a line with data starts, so held-back empty lines were not trailing.
  for (std::uint64_t i = 0; i < empty_lines_; ++i) {
    *w++ = '\r';
    *w++ = '\n';
  }
  empty_lines_ = 0;
}

void BodyCanonicalizer::end_line(char*& w) {
  pending_space_ = false;  // relaxed: WSP at the end of a line is dropped (§3.4.4)
  if (line_has_data_) {
    *w++ = '\r';
    *w++ = '\n';
    line_has_data_ = false;
  } else {
    ++empty_lines_;
  }
}

std::string_view BodyCanonicalizer::update(std::string_view chunk) {
  if (finished_) return {};
  // Output never exceeds: held-back CRLFs + a held CR + one space + the chunk + one CRLF.
  std::size_t bound = chunk.size() + 4 + 2 * static_cast<std::size_t>(empty_lines_);
  if (out_.size() < bound) out_.resize(bound);
  char* const begin = out_.data();
  char* w = begin;
  const char* p = chunk.data();
  const char* const end = p + chunk.size();

  auto data_starts = [&] {
    if (!line_has_data_) {
      flush_pending(w);
      line_has_data_ = true;
    }
  };

  while (p < end) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (*p == '\n') {
        ++p;
        end_line(w);
        continue;
      }
      // A lone CR is data.
      if (canon_ == Canon::relaxed && pending_space_) {
        data_starts();
        *w++ = ' ';
        pending_space_ = false;
      }
      data_starts();
      *w++ = '\r';
    }
    if (canon_ == Canon::simple) {
      const void* cr = std::memchr(p, '\r', static_cast<std::size_t>(end - p));
      const char* stop = cr ? static_cast<const char*>(cr) : end;
      if (stop > p) {
        data_starts();
        std::memcpy(w, p, static_cast<std::size_t>(stop - p));
        w += stop - p;
      }
      p = stop;
      if (p < end) {  // at a CR
        pending_cr_ = true;
        ++p;
      }
      continue;
    }
    // relaxed
    char c = *p++;
    if (c == '\r') {
      pending_cr_ = true;
    } else if (c == ' ' || c == '\t') {
      pending_space_ = true;
    } else {
      data_starts();
      if (pending_space_) {
        *w++ = ' ';
        pending_space_ = false;
      }
      *w++ = c;
    }
  }
  auto n = static_cast<std::size_t>(w - begin);
  emitted_ += n;
  return {begin, n};
}

std::string_view BodyCanonicalizer::finish() {
  if (finished_) return {};
  finished_ = true;
  if (out_.size() < 8) out_.resize(8);
  char* const begin = out_.data();
  char* w = begin;
  if (pending_cr_) {  // a CR as the very last byte: data
    pending_cr_ = false;
    if (!line_has_data_) {
      flush_pending(w);
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
