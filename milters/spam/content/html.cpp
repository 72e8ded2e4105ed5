// HTML to visible text (see html.h). A single left-to-right pass in the spirit of the HTML Living
// Standard tokenizer (§13.2.5): data, tag open, attributes with quoted/unquoted values, comments,
// raw-text elements (script, style) and character references (§13.2.5.72, with the legacy
// windows-1252 remapping of &#128;-&#159;). No tree is built; an open-element stack (bounded)
// only tracks hidden elements. Every loop advances the input position, so time is linear.
#include "milters/spam/content/html.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "common/util/text.h"
#include "milters/spam/content/utf8.h"

namespace mailward::spam {
namespace {

using detail::append_utf8;

struct NamedEntity {
  std::string_view name;
  std::uint32_t cp;
};
// A common subset of the HTML named character references; 0 means "drop" (zero-width/soft hyphen).
constexpr NamedEntity kEntities[] = {
    {"amp", '&'},       {"lt", '<'},         {"gt", '>'},        {"quot", '"'},      {"apos", '\''},
    {"nbsp", ' '},      {"ensp", ' '},       {"emsp", ' '},      {"thinsp", ' '},    {"shy", 0},
    {"zwnj", 0},        {"zwj", 0},          {"lrm", 0},         {"rlm", 0},         {"copy", 0xA9},
    {"reg", 0xAE},      {"trade", 0x2122},   {"hellip", 0x2026}, {"mdash", 0x2014},  {"ndash", 0x2013},
    {"lsquo", 0x2018},  {"rsquo", 0x2019},   {"sbquo", 0x201A},  {"ldquo", 0x201C},  {"rdquo", 0x201D},
    {"bdquo", 0x201E},  {"bull", 0x2022},    {"middot", 0xB7},   {"euro", 0x20AC},   {"pound", 0xA3},
    {"yen", 0xA5},      {"cent", 0xA2},      {"sect", 0xA7},     {"deg", 0xB0},      {"plusmn", 0xB1},
    {"times", 0xD7},    {"divide", 0xF7},    {"laquo", 0xAB},    {"raquo", 0xBB},    {"iexcl", 0xA1},
    {"iquest", 0xBF},   {"para", 0xB6},      {"micro", 0xB5},    {"frac12", 0xBD},   {"frac14", 0xBC},
    {"frac34", 0xBE},   {"sup2", 0xB2},      {"sup3", 0xB3},     {"ordf", 0xAA},     {"ordm", 0xBA},
    {"dagger", 0x2020}, {"larr", 0x2190},    {"rarr", 0x2192},   {"uarr", 0x2191},   {"darr", 0x2193},
    {"hearts", 0x2665}, {"check", 0x2713},   {"star", 0x2606},   {"szlig", 0xDF},    {"Agrave", 0xC0},
    {"Aacute", 0xC1},   {"Acirc", 0xC2},     {"Atilde", 0xC3},   {"Auml", 0xC4},     {"Aring", 0xC5},
    {"AElig", 0xC6},    {"Ccedil", 0xC7},    {"Egrave", 0xC8},   {"Eacute", 0xC9},   {"Ecirc", 0xCA},
    {"Euml", 0xCB},     {"Igrave", 0xCC},    {"Iacute", 0xCD},   {"Icirc", 0xCE},    {"Iuml", 0xCF},
    {"ETH", 0xD0},      {"Ntilde", 0xD1},    {"Ograve", 0xD2},   {"Oacute", 0xD3},   {"Ocirc", 0xD4},
    {"Otilde", 0xD5},   {"Ouml", 0xD6},      {"Oslash", 0xD8},   {"Ugrave", 0xD9},   {"Uacute", 0xDA},
    {"Ucirc", 0xDB},    {"Uuml", 0xDC},      {"Yacute", 0xDD},   {"THORN", 0xDE},    {"agrave", 0xE0},
    {"aacute", 0xE1},   {"acirc", 0xE2},     {"atilde", 0xE3},   {"auml", 0xE4},     {"aring", 0xE5},
    {"aelig", 0xE6},    {"ccedil", 0xE7},    {"egrave", 0xE8},   {"eacute", 0xE9},   {"ecirc", 0xEA},
    {"euml", 0xEB},     {"igrave", 0xEC},    {"iacute", 0xED},   {"icirc", 0xEE},    {"iuml", 0xEF},
    {"eth", 0xF0},      {"ntilde", 0xF1},    {"ograve", 0xF2},   {"oacute", 0xF3},   {"ocirc", 0xF4},
    {"otilde", 0xF5},   {"ouml", 0xF6},      {"oslash", 0xF8},   {"ugrave", 0xF9},   {"uacute", 0xFA},
    {"ucirc", 0xFB},    {"uuml", 0xFC},      {"yacute", 0xFD},   {"thorn", 0xFE},    {"yuml", 0xFF},
    {"OElig", 0x152},   {"oelig", 0x153},    {"Scaron", 0x160},  {"scaron", 0x161},  {"Yuml", 0x178},
};

// kEntities sorted by name, for binary search (built once, thread-safe static initialisation).
const std::vector<NamedEntity>& sorted_entities() {
  static const std::vector<NamedEntity> table = [] {
    std::vector<NamedEntity> t(std::begin(kEntities), std::end(kEntities));
    std::sort(t.begin(), t.end(), [](const NamedEntity& a, const NamedEntity& b) { return a.name < b.name; });
    return t;
  }();
  return table;
}

bool is_alnum(char c) { return text::is_alpha(c) || text::is_digit(c); }
bool is_html_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Decodes one character reference starting at s[i] == '&'. On success appends the character and
// returns the number of bytes consumed; returns 0 if this is not a reference (caller copies '&').
std::size_t decode_reference(std::string_view s, std::size_t i, std::string& out) {
  std::size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    std::size_t start = j;
    std::uint32_t v = 0;
    while (j < s.size() && j - start < 16) {
      char c = s[j];
      std::uint32_t d = 0;
      if (text::is_digit(c)) {
        d = static_cast<std::uint32_t>(c - '0');
      } else if (hex && c >= 'a' && c <= 'f') {
        d = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (hex && c >= 'A' && c <= 'F') {
        d = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        break;
      }
      if (v <= 0x10FFFF) v = v * (hex ? 16u : 10u) + d;
      ++j;
    }
    if (j == start) return 0;
    while (j < s.size() && j - start < 64 && (text::is_digit(s[j]) || (hex && is_alnum(s[j])))) ++j;
    if (j < s.size() && s[j] == ';') ++j;
    // §13.2.5.80 numeric character reference end state.
    if (v >= 0x80 && v <= 0x9F) v = detail::cp1252_to_unicode(static_cast<unsigned char>(v));
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) v = 0xFFFD;
    if (v == 0xA0 || v == 0x2002 || v == 0x2003 || v == 0x2009) v = ' ';
    if (v == 0xAD || (v >= 0x200B && v <= 0x200F) || v == 0xFEFF) return j - i;  // invisible
    append_utf8(out, v);
    return j - i;
  }
  std::size_t start = j;
  while (j < s.size() && j - start < 10 && is_alnum(s[j])) ++j;
  std::string_view name = s.substr(start, j - start);
  if (name.empty()) return 0;
  bool semi = j < s.size() && s[j] == ';';
  const std::vector<NamedEntity>& table = sorted_entities();
  auto it = std::lower_bound(table.begin(), table.end(), name,
                             [](const NamedEntity& e, std::string_view n) { return e.name < n; });
  if (it == table.end() || it->name != name) return 0;
  // Without ';' only the legacy names are references (the spec's list is longer).
  if (!semi && name != "amp" && name != "lt" && name != "gt" && name != "quot" && name != "nbsp")
    return 0;
  if (it->cp != 0) append_utf8(out, it->cp);
  return j - i + (semi ? 1 : 0);
}

void decode_into(std::string_view s, std::string& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t amp = s.find('&', i);
    if (amp == std::string_view::npos) amp = s.size();
    out.append(s.substr(i, amp - i));
    i = amp;
    if (i >= s.size()) break;
    std::size_t n = decode_reference(s, i, out);
    if (n == 0) {
      out.push_back('&');
      ++i;
    } else {
      i += n;
    }
  }
}

// Elements whose start or end is a line break in the rendered text.
bool is_block(std::string_view n) {
  static constexpr std::string_view kBlock[] = {
      "p",     "div",     "br",      "tr",    "li",         "h1",     "h2",       "h3",   "h4",
      "h5",    "h6",      "table",   "ul",    "ol",         "dl",     "dt",       "dd",   "hr",
      "pre",   "center",  "form",    "blockquote", "section", "article", "header", "footer",
      "title", "address", "fieldset", "tbody", "thead",     "tfoot",  "caption",  "nav",  "main",
      "aside", "figure",  "body",    "html"};
  return std::find(std::begin(kBlock), std::end(kBlock), n) != std::end(kBlock);
}
// Void elements (HTML §13.1.2) never have content.
bool is_void(std::string_view n) {
  static constexpr std::string_view kVoid[] = {"br",    "img",   "hr",     "meta",  "link",
                                               "input", "area",  "base",   "col",   "embed",
                                               "param", "source", "track", "wbr"};
  return std::find(std::begin(kVoid), std::end(kVoid), n) != std::end(kVoid);
}
// Elements whose end tag is so often omitted that tracking them would only fill the stack; they
// are tracked only when they hide their content.
bool end_often_omitted(std::string_view n) {
  static constexpr std::string_view kOpt[] = {"p", "li", "td", "th", "tr", "dt", "dd", "option", "font"};
  return std::find(std::begin(kOpt), std::end(kOpt), n) != std::end(kOpt);
}

// Is this style value one that hides its element? (CSS: display:none, visibility:hidden,
// font-size:0 / 1px; whitespace and case ignored.)
bool style_hides(std::string_view style) {
  std::string s;
  s.reserve(std::min<std::size_t>(style.size(), 512));
  for (char c : style.substr(0, 512))
    if (!is_html_space(c)) s.push_back(text::ascii_lower(c));
  return s.find("display:none") != std::string::npos ||
         s.find("visibility:hidden") != std::string::npos ||
         s.find("font-size:0") != std::string::npos || s.find("font-size:1px") != std::string::npos;
}

class Reducer {
 public:
  Reducer(std::string_view html, std::size_t max_urls, HtmlText& out)
      : s_(html), max_urls_(max_urls), out_(out) {
    out_.text.reserve(html.size() / 2);
  }

  void run() {
    std::size_t i = 0;
    while (i < s_.size()) {
      char c = s_[i];
      if (c == '<') {
        i = tag(i);
      } else if (c == '&') {
        std::string& tmp = entity_buf_;
        tmp.clear();
        std::size_t n = decode_reference(s_, i, tmp);
        if (n == 0) {
          emit_char('&');
          ++i;
        } else {
          emit_text(tmp);
          i += n;
        }
      } else {
        std::size_t j = i;
        while (j < s_.size() && s_[j] != '<' && s_[j] != '&') ++j;
        emit_text(s_.substr(i, j - i));
        i = j;
      }
    }
    finish();
  }

 private:
  struct Open {
    std::string name;
    bool hidden;
  };

  void emit_char(char c) { emit_text(std::string_view(&c, 1)); }

  // Appends text with whitespace collapsed; hidden text is only counted.
  void emit_text(std::string_view t) {
    for (char c : t) {
      if (hidden_ > 0) {
        if (!is_html_space(c)) ++out_.hidden_chars;
        continue;
      }
      if (is_html_space(c)) {
        pending_space_ = true;
        continue;
      }
      if (pending_space_ && !out_.text.empty() && out_.text.back() != '\n') out_.text.push_back(' ');
      pending_space_ = false;
      out_.text.push_back(c);
    }
  }

  // A block boundary ends the line (no empty line); <br> (hard) may leave one empty line.
  void line_break(bool hard) {
    pending_space_ = false;
    if (hidden_ > 0 || out_.text.empty()) return;
    std::size_t n = out_.text.size();
    if (out_.text[n - 1] == '\n' && (!hard || (n >= 2 && out_.text[n - 2] == '\n'))) return;
    out_.text.push_back('\n');
  }

  void add_url(std::string_view raw) {
    std::string v;
    decode_into(text::trim(raw.substr(0, 8192)), v);
    std::string_view t = text::trim(v);
    if (t.empty() || t.front() == '#') return;
    if (out_.urls.size() >= max_urls_) return;
    out_.urls.emplace_back(t);
  }

  // Skips a raw-text element body (script/style) up to and including "</name...>".
  std::size_t skip_raw(std::size_t i, std::string_view name) {
    while (true) {
      std::size_t lt = s_.find("</", i);
      if (lt == std::string_view::npos) return s_.size();
      std::size_t k = lt + 2;
      if (k + name.size() <= s_.size() && text::iequals(s_.substr(k, name.size()), name)) {
        std::size_t gt = s_.find('>', k);
        return gt == std::string_view::npos ? s_.size() : gt + 1;
      }
      i = k;
    }
  }

  // Handles markup starting at s_[i] == '<'; returns the position after it.
  std::size_t tag(std::size_t i) {
    std::size_t j = i + 1;
    if (j >= s_.size()) {
      emit_char('<');
      return j;
    }
    char c = s_[j];
    if (c == '!') {
      if (s_.substr(j, 3) == "!--") {  // comment, §13.2.5.43
        std::size_t end = s_.find("-->", j + 3);
        return end == std::string_view::npos ? s_.size() : end + 3;
      }
      std::size_t end = s_.find('>', j);  // <!DOCTYPE>, <![CDATA[ ... (bogus comment)
      return end == std::string_view::npos ? s_.size() : end + 1;
    }
    if (c == '?') {
      std::size_t end = s_.find('>', j);
      return end == std::string_view::npos ? s_.size() : end + 1;
    }
    bool closing = c == '/';
    if (closing) ++j;
    if (j >= s_.size() || !text::is_alpha(s_[j])) {
      if (closing) {  // "</ >" etc.: bogus comment
        std::size_t end = s_.find('>', j);
        return end == std::string_view::npos ? s_.size() : end + 1;
      }
      emit_char('<');
      return i + 1;
    }
    std::size_t name_start = j;
    while (j < s_.size() && !is_html_space(s_[j]) && s_[j] != '>' && s_[j] != '/' && j - name_start < 32)
      ++j;
    std::string name = text::to_lower(s_.substr(name_start, j - name_start));
    while (j < s_.size() && !is_html_space(s_[j]) && s_[j] != '>' && s_[j] != '/') ++j;
    ++out_.tags;
    // Attributes, §13.2.5.32-39.
    bool hides = false;
    bool self_closing = false;
    while (j < s_.size() && s_[j] != '>') {
      char a = s_[j];
      if (is_html_space(a)) {
        ++j;
        continue;
      }
      if (a == '/') {
        self_closing = true;
        ++j;
        continue;
      }
      self_closing = false;
      std::size_t an = j;
      while (j < s_.size() && !is_html_space(s_[j]) && s_[j] != '>' && s_[j] != '=' &&
             s_[j] != '/')
        ++j;
      if (j == an) ++j;  // a lone '=' etc.
      std::string_view attr = s_.substr(an, j - an);
      while (j < s_.size() && is_html_space(s_[j])) ++j;
      std::string_view value;
      bool has_value = false;
      if (j < s_.size() && s_[j] == '=') {
        ++j;
        while (j < s_.size() && is_html_space(s_[j])) ++j;
        has_value = true;
        if (j < s_.size() && (s_[j] == '"' || s_[j] == '\'')) {
          char q = s_[j];
          std::size_t end = s_.find(q, j + 1);
          if (end == std::string_view::npos) end = s_.size();
          value = s_.substr(j + 1, end - j - 1);
          j = end < s_.size() ? end + 1 : end;
        } else {
          std::size_t vs = j;
          while (j < s_.size() && !is_html_space(s_[j]) && s_[j] != '>') ++j;
          value = s_.substr(vs, j - vs);
        }
      }
      if (closing) continue;
      if (has_value && (text::iequals(attr, "href") || text::iequals(attr, "src") ||
                        text::iequals(attr, "action") || text::iequals(attr, "background")))
        add_url(value);
      else if (has_value && text::iequals(attr, "style") && style_hides(value))
        hides = true;
      else if (text::iequals(attr, "hidden"))
        hides = true;
    }
    std::size_t after = j < s_.size() ? j + 1 : s_.size();

    if (is_block(name)) line_break(name == "br");
    if (name == "td" || name == "th" || name == "img") pending_space_ = true;
    if (closing) {
      close(name);
      return after;
    }
    if (name == "script" || name == "style" || name == "xml" || name == "template") {
      if (self_closing) return after;
      return skip_raw(after, name);
    }
    if (!self_closing && !is_void(name) && (hides || !end_often_omitted(name)) && stack_.size() < kMaxStack) {
      stack_.push_back({std::move(name), hides});
      if (hides) ++hidden_;
    }
    return after;
  }

  void close(const std::string& name) {
    // Pop to the nearest matching open element within a few levels; ignore stray end tags.
    std::size_t limit = std::min<std::size_t>(stack_.size(), 16);
    for (std::size_t k = 0; k < limit; ++k) {
      std::size_t idx = stack_.size() - 1 - k;
      if (stack_[idx].name != name) continue;
      while (stack_.size() > idx) {
        if (stack_.back().hidden) --hidden_;
        stack_.pop_back();
      }
      return;
    }
  }

  void finish() {
    while (!out_.text.empty() && (out_.text.back() == '\n' || out_.text.back() == ' '))
      out_.text.pop_back();
  }

  static constexpr std::size_t kMaxStack = 256;
  std::string_view s_;
  std::size_t max_urls_;
  HtmlText& out_;
  std::vector<Open> stack_;
  std::size_t hidden_ = 0;
  bool pending_space_ = false;
  std::string entity_buf_;
};

}  // namespace

std::string decode_html_entities(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  decode_into(s, out);
  return out;
}

HtmlText html_to_text(std::string_view html, std::size_t max_bytes, std::size_t max_urls) {
  HtmlText out;
  if (html.size() > max_bytes) {
    html = html.substr(0, max_bytes);
    out.truncated = true;
  }
  Reducer(html, max_urls, out).run();
  return out;
}

}  // namespace mailward::spam
