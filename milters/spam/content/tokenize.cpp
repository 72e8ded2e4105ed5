// Token extraction for the classifier (see tokenize.h for the token forms).
//
// Words are split on anything that is not a letter, digit or combining mark (Unicode general
// categories approximated by block ranges: punctuation, symbols, currency, emoji and private use
// separate words); zero-width characters and soft hyphens are ignored inside words, so
// "V&shy;IAGRA" or "fr\u200Bee" tokenizes as the plain word. Tokens are hashed with 64-bit FNV-1a
// fed piece by piece, so pair tokens need no string building unless strings are asked for.
#include "milters/spam/content/tokenize.h"

#include <algorithm>

#include "common/util/text.h"
#include "milters/spam/content/utf8.h"

namespace mailward::spam {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t fnv_feed(std::uint64_t h, std::string_view s) noexcept {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

// Distinct tokens, as hashes (and as strings when asked).
class Collector {
 public:
  Collector(bool keep_strings, std::size_t max_tokens) : keep_strings_(keep_strings), max_(max_tokens) {
    slots_.assign(1024, 0);
  }

  // Adds the concatenation of `parts`; `always` tokens ignore the cap. False once the cap is hit.
  bool add(std::initializer_list<std::string_view> parts, bool always) {
    if (!always && count_ >= max_) return false;
    std::uint64_t h = kFnvOffset;
    for (std::string_view p : parts) h = fnv_feed(h, p);
    if (!insert(h)) return true;
    ++count_;
    if (keep_strings_) {
      std::string s;
      for (std::string_view p : parts) s.append(p);
      strings_.push_back(std::move(s));
    } else {
      hashes_.push_back(h);
    }
    return true;
  }
  bool full() const { return count_ >= max_; }

  std::vector<std::uint64_t> take_hashes() {
    std::sort(hashes_.begin(), hashes_.end());
    return std::move(hashes_);
  }
  std::vector<std::string> take_strings() {
    std::sort(strings_.begin(), strings_.end());
    return std::move(strings_);
  }

 private:
  // Open addressing; the value 0 is "empty", so a real hash of 0 is tracked apart.
  bool insert(std::uint64_t h) {
    if (h == 0) {
      if (has_zero_) return false;
      has_zero_ = true;
      return true;
    }
    if ((used_ + 1) * 2 > slots_.size()) grow();
    std::size_t mask = slots_.size() - 1;
    std::size_t i = static_cast<std::size_t>(h ^ (h >> 29)) & mask;
    while (slots_[i] != 0) {
      if (slots_[i] == h) return false;
      i = (i + 1) & mask;
    }
    slots_[i] = h;
    ++used_;
    return true;
  }
  void grow() {
    std::vector<std::uint64_t> old = std::move(slots_);
    slots_.assign(old.size() * 2, 0);
    std::size_t mask = slots_.size() - 1;
    for (std::uint64_t h : old) {
      if (h == 0) continue;
      std::size_t i = static_cast<std::size_t>(h ^ (h >> 29)) & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = h;
    }
  }

  bool keep_strings_;
  std::size_t max_;
  std::size_t count_ = 0;
  std::size_t used_ = 0;
  bool has_zero_ = false;
  std::vector<std::uint64_t> slots_;
  std::vector<std::uint64_t> hashes_;
  std::vector<std::string> strings_;
};

// Characters that vanish inside words (no separation): soft hyphen, zero-width space/joiners,
// word joiner, BOM, variation selectors.
bool is_invisible(std::uint32_t cp) {
  return cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) || cp == 0x2060 || cp == 0xFEFF ||
         (cp >= 0xFE00 && cp <= 0xFE0F);
}

bool is_word_cp(std::uint32_t cp) {
  if (cp < 0x80) return text::is_alpha(static_cast<char>(cp)) || text::is_digit(static_cast<char>(cp));
  if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
  if (cp == 0xD7 || cp == 0xF7) return false;
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, currency, symbols, arrows, boxes
  if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
  if (cp >= 0xE000 && cp <= 0xF8FF) return false;  // private use
  if (cp >= 0xFF00 && cp <= 0xFF0F) return false;  // fullwidth punctuation
  if ((cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65))
    return false;
  if (cp == 0xFFFD) return false;
  if (cp >= 0x1F000) return false;  // emoji and other symbols
  return true;
}

// Simple case folding for the scripts mail is mostly written in.
std::uint32_t fold(std::uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;
  if (cp >= 0x100 && cp <= 0x137 && cp % 2 == 0) return cp + 1;
  if (cp >= 0x139 && cp <= 0x148 && cp % 2 == 1) return cp + 1;
  if (cp >= 0x14A && cp <= 0x177 && cp % 2 == 0) return cp + 1;
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 0x20;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 0x20;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
  return cp;
}

// Splits UTF-8 text into folded words and calls on_word(word, chars) for each (chars = code
// points, digits runs counted as one "N").
template <typename F>
void for_each_word(std::string_view s, F&& on_word) {
  std::string word;
  std::size_t chars = 0;
  bool in_digits = false;
  auto end_word = [&] {
    if (!word.empty()) on_word(std::string_view(word), chars);
    word.clear();
    chars = 0;
    in_digits = false;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = b;
    std::size_t n = 1;
    if (b >= 0x80) {
      n = detail::utf8_sequence(s, i, cp);
      if (n == 0) {
        cp = 0xFFFD;
        n = 1;
      }
    }
    i += n;
    if (cp < 0x80) {
      char c = static_cast<char>(cp);
      if (text::is_digit(c)) {
        if (!in_digits) {
          word.push_back('N');
          ++chars;
          in_digits = true;
        }
        continue;
      }
      if (text::is_alpha(c)) {
        word.push_back(text::ascii_lower(c));
        ++chars;
        in_digits = false;
        continue;
      }
      end_word();
      continue;
    }
    if (is_invisible(cp)) continue;
    if (!is_word_cp(cp)) {
      end_word();
      continue;
    }
    detail::append_utf8(word, fold(cp));
    ++chars;
    in_digits = false;
    if (word.size() > 256) {  // absurd run: keep counting, stop growing
      word.resize(252);
      while (!word.empty() && (static_cast<unsigned char>(word.back()) & 0xC0) == 0x80) word.pop_back();
      if (!word.empty() && static_cast<unsigned char>(word.back()) >= 0xC0) word.pop_back();
    }
  }
  end_word();
}

std::string_view first_char(std::string_view w) {
  if (w.empty()) return w;
  std::uint32_t cp = 0;
  std::size_t n = detail::utf8_sequence(w, 0, cp);
  return w.substr(0, n == 0 ? 1 : n);
}

class Tokenizer {
 public:
  Tokenizer(const TokenizerOptions& o, Collector& c) : o_(o), c_(c) {}

  void run(const ParsedMail& m) {
    if (o_.header_tokens) headers(m);
    if (o_.header_tokens && o_.more_headers) more_headers(m);
    if (o_.url_paths) url_paths(m);
    for (const std::string& host : m.url_hosts) url_host(host);
    for (const Attachment& a : m.attachments) attachment(a);
    for (const std::string& a : m.anomalies) c_.add({"M:", a}, true);
    if (m.html_only) c_.add({"M:html-only"}, true);
    body(m);
  }

 private:
  // Words of one header (prefix "H:name:"), with pairs for the subject.
  void header_words(std::string_view prefix, std::string_view value, bool pairs) {
    std::string prev;
    for_each_word(value.substr(0, 4096), [&](std::string_view w, std::size_t chars) {
      if (chars < o_.min_word_chars || w == "N") return;
      if (chars > o_.max_word_chars) {
        c_.add({prefix, "skip:", first_char(w), " ", std::to_string(chars / 10 * 10)}, true);
        prev.clear();
        return;
      }
      c_.add({prefix, w}, true);
      if (pairs && !prev.empty()) c_.add({prefix, prev, " ", w}, true);
      prev.assign(w);
    });
  }

  static std::string_view unfolded_trim(const mail::HeaderField* f, std::string& buf) {
    buf.clear();
    if (f == nullptr) return {};
    for (char ch : f->value)
      if (ch != '\r' && ch != '\n') buf.push_back(ch);
    return text::trim(buf);
  }

  void headers(const ParsedMail& m) {
    header_words("H:subject:", m.subject, true);
    header_words("H:from:", m.from, false);
    header_words("H:to:", m.to, false);
    // The From address itself, and the Message-ID domain (RFC 5322 §3.6.4 id-right).
    std::string_view from = m.from;
    std::size_t lt = from.rfind('<');
    std::string_view addr = from;
    if (lt != std::string_view::npos) {
      std::size_t gt = from.find('>', lt);
      addr = from.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
    }
    addr = text::trim(addr);
    if (addr.find('@') != std::string_view::npos && addr.size() < 256)
      c_.add({"H:from-addr:", text::to_lower(addr)}, true);
    std::string buf;
    for (std::string_view name : {"reply-to", "x-mailer", "user-agent", "content-type"}) {
      std::string_view v = unfolded_trim(m.header(name), buf);
      if (v.empty()) continue;
      std::string prefix = "H:" + std::string(name) + ":";
      header_words(prefix, v, false);
    }
    std::string_view mid = unfolded_trim(m.header("message-id"), buf);
    std::size_t at = mid.rfind('@');
    if (at != std::string_view::npos) {
      std::string_view dom = mid.substr(at + 1);
      if (!dom.empty() && dom.back() == '>') dom.remove_suffix(1);
      if (!dom.empty() && dom.size() < 256) c_.add({"H:msgid-domain:", text::to_lower(dom)}, true);
    } else if (m.header("message-id") == nullptr) {
      c_.add({"H:no-message-id"}, true);
    }
  }

  // Every other top-level field (the first kMaxFields): "N:<name>" for its presence, the words of
  // its value as "H:<name>:word" (first 512 bytes), and for Received the relay host names
  // ("H:rcvd-host:", "H:rcvd-dom:" two labels) and IPv4 /24 and /16 prefixes ("H:rcvd-ip:").
  // Fields a reader's own software adds (X-Spam-*, Status, X-Keywords, Delivery-Date, ...) and the
  // Date are left out: they say nothing about the sender and could be forged to look like a verdict.
  void more_headers(const ParsedMail& m) {
    static constexpr std::size_t kMaxFields = 100;
    static constexpr std::size_t kMaxReceived = 6;
    std::size_t received = 0;
    std::string buf;
    for (std::size_t i = 0; i < m.headers.size() && i < kMaxFields; ++i) {
      const mail::HeaderField& f = m.headers[i];
      if (f.name.empty() || f.name.size() > 64) continue;
      std::string name = text::to_lower(f.name);
      if (skip_field(name)) continue;
      c_.add({"N:", name}, true);
      if (handled_field(name)) continue;
      std::string_view v = unfolded_trim(&f, buf);
      if (name == "received") {
        if (received++ < kMaxReceived) received_tokens(v);
        continue;
      }
      header_words("H:" + name + ":", v.substr(0, 512), false);
    }
  }

  static bool skip_field(std::string_view name) {
    if (name.substr(0, 6) == "x-spam" || name.substr(0, 7) == "x-virus") return true;
    for (std::string_view n : {"date", "delivery-date", "status", "x-status", "x-keywords", "x-uid",
                               "x-uidl", "content-length", "lines", "x-mozilla-status",
                               "x-mozilla-status2", "x-original-to", "envelope-to", "x-envelope-to"})
      if (name == n) return true;
    return false;
  }
  static bool handled_field(std::string_view name) {
    for (std::string_view n : {"subject", "from", "to", "reply-to", "x-mailer", "user-agent",
                               "content-type", "message-id"})
      if (name == n) return true;
    return false;
  }

  void received_tokens(std::string_view v) {
    std::size_t i = 0;
    while (i < v.size()) {
      while (i < v.size() && is_rcvd_sep(v[i])) ++i;
      std::size_t start = i;
      while (i < v.size() && !is_rcvd_sep(v[i])) ++i;
      std::string_view w = v.substr(start, i - start);
      while (!w.empty() && w.back() == '.') w.remove_suffix(1);
      if (w.size() < 3 || w.size() > 253) continue;
      bool digits_dots = std::all_of(w.begin(), w.end(), [](char ch) { return text::is_digit(ch) || ch == '.'; });
      if (digits_dots) {
        if (std::count(w.begin(), w.end(), '.') != 3) continue;
        std::string_view p24 = w.substr(0, w.rfind('.'));
        std::string_view p16 = p24.substr(0, p24.rfind('.'));
        c_.add({"H:rcvd-ip:", p24}, true);
        c_.add({"H:rcvd-ip:", p16}, true);
        continue;
      }
      if (w.find('.') != std::string_view::npos && w.find('@') == std::string_view::npos) {
        std::string host = text::to_lower(w);
        if (!std::all_of(host.begin(), host.end(), [](char ch) { return text::is_alpha(ch) || text::is_digit(ch) || ch == '.' || ch == '-'; }))
          continue;
        c_.add({"H:rcvd-host:", host}, true);
        std::size_t last = host.rfind('.');
        std::size_t second = last == 0 || last == std::string::npos ? std::string::npos : host.rfind('.', last - 1);
        if (second != std::string::npos) c_.add({"H:rcvd-dom:", std::string_view(host).substr(second + 1)}, true);
        continue;
      }
      if (std::all_of(w.begin(), w.end(), [](char ch) { return text::is_alpha(ch) || ch == '-'; }))
        c_.add({"H:received:", text::to_lower(w)}, true);
    }
  }
  static bool is_rcvd_sep(char ch) {
    return ch == ' ' || ch == '\t' || ch == '(' || ch == ')' || ch == '[' || ch == ']' || ch == ';' ||
           ch == '<' || ch == '>' || ch == '=' || ch == ',' || ch == '"' || ch == '/';
  }

  // Words of each URL's path and query ("UP:word"), the first 100 URLs, 256 bytes each.
  void url_paths(const ParsedMail& m) {
    std::size_t n = 0;
    for (const std::string& u : m.urls) {
      if (n++ >= 100) break;
      std::string_view s = u;
      std::size_t scheme = s.find("://");
      if (scheme == std::string_view::npos) continue;
      std::size_t slash = s.find('/', scheme + 3);
      if (slash == std::string_view::npos) continue;
      for_each_word(s.substr(slash, 256), [&](std::string_view w, std::size_t chars) {
        if (chars < o_.min_word_chars || w == "N" || chars > o_.max_word_chars) return;
        c_.add({"UP:", w}, true);
      });
    }
  }

  // "U:host" and each parent down to two labels (the registrable part for most suffixes).
  void url_host(std::string_view host) {
    c_.add({"U:", host}, true);
    bool ip = std::all_of(host.begin(), host.end(), [](char ch) { return text::is_digit(ch) || ch == '.'; }) ||
              host.find(':') != std::string_view::npos;
    if (ip) {
      c_.add({"U:ip-literal"}, true);
      return;
    }
    std::string_view h = host;
    for (int k = 0; k < 8; ++k) {
      std::size_t dot = h.find('.');
      if (dot == std::string_view::npos) break;
      std::string_view parent = h.substr(dot + 1);
      if (parent.find('.') == std::string_view::npos) break;  // stop at two labels
      c_.add({"U:", parent}, true);
      h = parent;
    }
  }

  void attachment(const Attachment& a) {
    c_.add({"A:", a.content_type}, true);
    std::size_t dot = a.filename.rfind('.');
    if (dot == std::string::npos) return;
    std::string ext = text::to_lower(std::string_view(a.filename).substr(dot + 1));
    if (ext.empty() || ext.size() > 10 ||
        !std::all_of(ext.begin(), ext.end(), [](char ch) { return text::is_alpha(ch) || text::is_digit(ch); }))
      return;
    c_.add({"A:ext:", ext}, true);
  }

  void body(const ParsedMail& m) {
    std::size_t budget = o_.max_body_bytes;
    std::string prev;
    std::string bucket;
    for (const TextPart& t : m.texts) {
      if (budget == 0 || c_.full()) break;
      std::string_view s = std::string_view(t.text).substr(0, std::min(budget, t.text.size()));
      budget -= s.size();
      for_each_word(s, [&](std::string_view w, std::size_t chars) {
        if (chars < o_.min_word_chars || w == "N") return;
        if (chars > o_.max_word_chars) {
          bucket = std::to_string(chars / 10 * 10);
          c_.add({"skip:", first_char(w), " ", bucket}, false);
          prev.clear();
          return;
        }
        c_.add({w}, false);
        if (o_.bigrams && !prev.empty()) c_.add({"B:", prev, " ", w}, false);
        prev.assign(w);
      });
      prev.clear();  // no pairs across parts
    }
  }

  const TokenizerOptions& o_;
  Collector& c_;
};

}  // namespace

std::uint64_t token_hash(std::string_view token) noexcept { return fnv_feed(kFnvOffset, token); }

std::vector<std::uint64_t> tokenize(const ParsedMail& mail, const TokenizerOptions& options) {
  Collector c(false, options.max_tokens);
  Tokenizer(options, c).run(mail);
  return c.take_hashes();
}

std::vector<std::string> token_strings(const ParsedMail& mail, const TokenizerOptions& options) {
  Collector c(true, options.max_tokens);
  Tokenizer(options, c).run(mail);
  return c.take_strings();
}

}  // namespace mailward::spam
