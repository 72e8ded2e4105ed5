// RFC 5322 §3.4 address lists and RFC 5321 §4.1.2 envelope paths: a lexer that turns the value
// into atoms, quoted strings, domain literals and specials (dropping CFWS, RFC 5322 §3.2.2), then a
// recursive-descent parser over those tokens. See address.h for what is accepted.
#include "common/mail/address.h"

#include <cstdint>
#include <optional>

#include "common/util/text.h"

namespace mailward::mail {
namespace {

enum class Kind : std::uint8_t { atom, quoted, literal, special, end };

struct Token {
  Kind kind = Kind::end;
  char special = 0;          // for Kind::special
  std::string raw;           // as written (quotes / brackets included), folds removed
  std::string decoded;       // quoted strings: content without quotes and backslashes
  bool space_before = false; // CFWS precedes this token
  std::size_t offset = 0;
};

// RFC 5322 §3.2.3 atext, plus UTF8-non-ascii (RFC 6532 §3.2).
bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;
  if (text::is_alpha(static_cast<char>(c)) || text::is_digit(static_cast<char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_control(unsigned char c) { return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f; }

std::string at(std::size_t offset) { return " at offset " + std::to_string(offset); }

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  // Fills `out`; returns an error message or "".
  std::string run(std::vector<Token>& out) {
    bool space = false;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (text::is_fws(static_cast<char>(c))) {
        space = true;
        ++i_;
      } else if (c == '(') {
        if (std::string e = comment(); !e.empty()) return e;
        space = true;
      } else if (c == '"') {
        Token t;
        t.kind = Kind::quoted;
        t.offset = i_;
        if (std::string e = quoted(t); !e.empty()) return e;
        push(out, std::move(t), space);
      } else if (c == '[') {
        Token t;
        t.kind = Kind::literal;
        t.offset = i_;
        if (std::string e = literal(t); !e.empty()) return e;
        push(out, std::move(t), space);
      } else if (c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '.') {
        Token t;
        t.kind = Kind::special;
        t.special = static_cast<char>(c);
        t.raw = std::string(1, static_cast<char>(c));
        t.offset = i_++;
        push(out, std::move(t), space);
      } else if (is_atext(c)) {
        Token t;
        t.kind = Kind::atom;
        t.offset = i_;
        while (i_ < s_.size() && is_atext(static_cast<unsigned char>(s_[i_]))) ++i_;
        t.raw = std::string(s_.substr(t.offset, i_ - t.offset));
        push(out, std::move(t), space);
      } else if (is_control(c)) {
        return "control character" + at(i_);
      } else {
        return std::string("unexpected '") + static_cast<char>(c) + "'" + at(i_);
      }
    }
    Token end;
    end.offset = s_.size();
    push(out, std::move(end), space);
    return "";
  }

 private:
  static void push(std::vector<Token>& out, Token t, bool& space) {
    t.space_before = space;
    space = false;
    out.push_back(std::move(t));
  }

  // RFC 5322 §3.2.2 comment: nested, with quoted-pairs.
  std::string comment() {
    const std::size_t start = i_;
    std::size_t depth = 0;
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '\\') {
        if (i_ < s_.size()) ++i_;
      } else if (c == '(') {
        if (++depth > kMaxCommentDepth) return "comments nested too deeply" + at(start);
      } else if (c == ')') {
        if (--depth == 0) return "";
      }
    }
    return "unterminated comment" + at(start);
  }

  // RFC 5322 §3.2.4 quoted-string; CR and LF (folding) are dropped.
  std::string quoted(Token& t) {
    const std::size_t start = i_++;
    t.raw = "\"";
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '\r' || c == '\n') continue;
      if (c == '"') {
        t.raw.push_back('"');
        return "";
      }
      t.raw.push_back(c);
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        const char q = s_[i_++];
        t.raw.push_back(q);
        t.decoded.push_back(q);
      } else {
        t.decoded.push_back(c);
      }
    }
    return "unterminated quoted string" + at(start);
  }

  // RFC 5322 §3.4.1 domain-literal (with obs-dtext quoted-pairs); folding whitespace removed.
  std::string literal(Token& t) {
    const std::size_t start = i_++;
    t.raw = "[";
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (text::is_fws(c)) continue;
      if (c == ']') {
        t.raw.push_back(']');
        return "";
      }
      if (c == '[') return "'[' inside a domain literal" + at(i_ - 1);
      t.raw.push_back(c);
      if (c == '\\' && i_ < s_.size()) t.raw.push_back(s_[i_++]);
    }
    return "unterminated domain literal" + at(start);
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, AddressList& out) : t_(tokens), out_(out) {}

  // address-list = (address *("," address)) / obs-addr-list   (RFC 5322 §3.4, §4.4)
  std::string address_list() {
    for (;;) {
      while (is(',')) ++p_;  // obs-addr-list: empty elements
      if (cur().kind == Kind::end) return "";
      if (std::string e = address(true); !e.empty()) return e;
      if (cur().kind == Kind::end) return "";
      if (!is(',')) return "expected ','" + at(cur().offset);
    }
  }

 private:
  const Token& cur() const { return t_[p_]; }
  bool is(char special) const { return cur().kind == Kind::special && cur().special == special; }
  bool is_word() const { return cur().kind == Kind::atom || cur().kind == Kind::quoted; }

  // address = mailbox / group; mailbox = name-addr / addr-spec
  std::string address(bool group_allowed) {
    const std::size_t start = p_;
    std::string phrase;
    bool first = true;
    // display-name = phrase; obs-phrase also allows "." after the first word (RFC 5322 §4.1)
    while (is_word() || (!first && is('.'))) {
      const Token& w = cur();
      if (!first && w.space_before) phrase.push_back(' ');
      phrase += w.kind == Kind::quoted ? w.decoded : w.raw;
      first = false;
      ++p_;
    }
    if (is('<')) return angle_addr(std::string(text::trim(phrase)));
    if (is(':') && !first) {
      if (!group_allowed) return "group inside a group" + at(cur().offset);
      return group();
    }
    p_ = start;
    Mailbox m;
    if (std::string e = addr_spec(m); !e.empty()) return e;
    return add(std::move(m));
  }

  std::string add(Mailbox m) {
    if (out_.mailboxes.size() >= kMaxMailboxes) return "more than " + std::to_string(kMaxMailboxes) + " mailboxes";
    out_.mailboxes.push_back(std::move(m));
    return "";
  }

  // group = display-name ":" [group-list] ";" [CFWS]
  std::string group() {
    ++p_;  // ':'
    for (;;) {
      while (is(',')) ++p_;  // obs-mbox-list / obs-group-list: empty elements
      if (is(';')) {
        ++p_;
        return "";
      }
      // Interpretation: a group missing its final ';' at the very end of the value
      // ("undisclosed-recipients:") is accepted; such fields are common and unambiguous.
      if (cur().kind == Kind::end) return "";
      if (std::string e = address(false); !e.empty()) return e;
      if (!is(',') && !is(';') && cur().kind != Kind::end) return "expected ',' or ';' in group" + at(cur().offset);
    }
  }

  // angle-addr = [CFWS] "<" [obs-route] addr-spec ">" [CFWS]
  std::string angle_addr(std::string display_name) {
    ++p_;  // '<'
    if (is('>')) return "empty address '<>'" + at(cur().offset);
    if (is('@') || is(',')) {
      // obs-route = obs-domain-list ":"; obs-domain-list = *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain])
      while (is(',') || is('@')) {
        if (is('@')) {
          ++p_;
          std::string ignored;
          if (std::string e = domain(ignored); !e.empty()) return e;
        } else {
          ++p_;
        }
      }
      if (!is(':')) return "expected ':' after source route" + at(cur().offset);
      ++p_;
    }
    Mailbox m;
    m.display_name = std::move(display_name);
    if (std::string e = addr_spec(m); !e.empty()) return e;
    if (!is('>')) return "expected '>'" + at(cur().offset);
    ++p_;
    return add(std::move(m));
  }

  // addr-spec = local-part "@" domain
  std::string addr_spec(Mailbox& m) {
    // local-part = dot-atom / quoted-string / obs-local-part (word *("." word)). Interpretation: empty
    // words ("a..b", "a.") are tolerated here; such local parts occur in real mail and do not affect
    // the domain, which is all the authentication checks use.
    bool any_word = false, after_word = false;
    while ((is_word() && !after_word) || is('.')) {
      after_word = is_word();
      any_word = any_word || after_word;
      m.local_part += cur().raw;
      ++p_;
    }
    if (!any_word) return "expected a local part" + at(cur().offset);
    if (!is('@')) return "expected '@'" + at(cur().offset);
    ++p_;
    return domain(m.domain);
  }

  // domain = dot-atom / domain-literal / obs-domain (atom *("." atom))
  std::string domain(std::string& out) {
    if (cur().kind == Kind::literal) {
      out = text::to_lower(cur().raw);
      ++p_;
      return "";
    }
    if (cur().kind != Kind::atom) return "expected a domain" + at(cur().offset);
    out = text::to_lower(cur().raw);
    ++p_;
    while (is('.')) {
      ++p_;
      if (cur().kind != Kind::atom) return "expected a domain label after '.'" + at(cur().offset);
      out.push_back('.');
      out += text::to_lower(cur().raw);
      ++p_;
    }
    return "";
  }

  const std::vector<Token>& t_;
  AddressList& out_;
  std::size_t p_ = 0;
};

}  // namespace

AddressList parse_address_list(std::string_view value) {
  AddressList out;
  if (value.size() > kMaxAddressListBytes) {
    out.error = "address list longer than " + std::to_string(kMaxAddressListBytes) + " bytes";
    return out;
  }
  std::vector<Token> tokens;
  if (std::string e = Lexer(value).run(tokens); !e.empty()) {
    out.error = std::move(e);
    return out;
  }
  Parser parser(tokens, out);
  out.error = parser.address_list();
  if (out.ok() && out.mailboxes.empty()) out.error = "no mailbox";
  return out;
}

std::string envelope_domain(std::string_view path) {
  path = text::trim(path);
  if (!path.empty() && path.front() == '<') {
    path.remove_prefix(1);
    if (!path.empty() && path.back() == '>') path.remove_suffix(1);
  }
  // RFC 5321 §4.1.2 A-d-l (source route, "@relay,@relay:"), to be ignored (§C).
  if (!path.empty() && path.front() == '@') {
    const std::size_t colon = path.find(':');
    if (colon == std::string_view::npos) return "";
    path.remove_prefix(colon + 1);
  }
  // The last '@' outside a quoted local part separates the domain.
  std::size_t at_sign = std::string_view::npos;
  bool in_quotes = false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (in_quotes && c == '\\') {
      ++i;
    } else if (c == '"') {
      in_quotes = !in_quotes;
    } else if (c == '@' && !in_quotes) {
      at_sign = i;
    }
  }
  if (at_sign == std::string_view::npos) return "";
  return text::normalize_domain(text::trim(path.substr(at_sign + 1)));
}

}  // namespace mailward::mail
