// The milter protocol codec (see codec.h): packet framing, the MTA's commands, the milter's replies.
//
// Reply payload layouts follow libmilter's smfi_* senders (mfapi.h, mfdef.h): strings NUL-terminated,
// integers 32-bit big-endian. We interpret the layouts strictly (no trailing bytes, every string
// terminated), so a decoded reply encodes back to exactly the bytes it came from; Postfix is more
// lenient in places, but a test client that is strict catches more bugs in the milter.
#include "tests/milter_client/codec.h"

namespace mailward::milter_client {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xFF));
  out.push_back(static_cast<char>((v >> 16) & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

std::uint32_t get_u32(std::string_view s, std::size_t at) {
  auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

void put_cstr(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

// Reads NUL-terminated strings from a payload, strictly.
class CStrings {
 public:
  explicit CStrings(std::string_view data) : data_(data) {}
  bool next(std::string& out) {
    if (pos_ >= data_.size()) return false;
    std::size_t nul = data_.find('\0', pos_);
    if (nul == std::string_view::npos) return false;
    out.assign(data_.substr(pos_, nul - pos_));
    pos_ = nul + 1;
    return true;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

std::string joined_cstrs(const std::vector<std::string>& args) {
  std::string payload;
  for (const std::string& a : args) put_cstr(payload, a);
  return payload;
}

ReplyResult malformed(ReplyCode code, std::string detail) {
  ReplyResult r;
  r.status = DecodeStatus::malformed;
  r.reply.code = code;
  r.detail = std::string(to_string(code)) + ": " + std::move(detail);
  return r;
}

}  // namespace

std::string encode_frame(char code, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 5);
  put_u32(out, static_cast<std::uint32_t>(payload.size() + 1));
  out.push_back(code);
  out.append(payload);
  return out;
}

std::string encode_optneg(const Negotiation& offer) {
  std::string payload;
  put_u32(payload, offer.version);
  put_u32(payload, offer.actions);
  put_u32(payload, offer.protocol);
  return encode_frame(command::optneg, payload);
}

std::string encode_macros(char for_command,
                          const std::vector<std::pair<std::string, std::string>>& macros) {
  std::string payload(1, for_command);
  for (const auto& [name, value] : macros) {
    put_cstr(payload, name);
    put_cstr(payload, value);
  }
  return encode_frame(command::macro, payload);
}

std::string encode_connect(std::string_view hostname, Family family, std::uint16_t port,
                           std::string_view address) {
  std::string payload;
  put_cstr(payload, hostname);
  payload.push_back(static_cast<char>(family));
  if (family != Family::unknown) {
    payload.push_back(static_cast<char>((port >> 8) & 0xFF));
    payload.push_back(static_cast<char>(port & 0xFF));
    put_cstr(payload, address);
  }
  return encode_frame(command::connect, payload);
}

std::string encode_helo(std::string_view name) {
  std::string payload;
  put_cstr(payload, name);
  return encode_frame(command::helo, payload);
}

std::string encode_mail(const std::vector<std::string>& args) {
  return encode_frame(command::mail, joined_cstrs(args));
}
std::string encode_rcpt(const std::vector<std::string>& args) {
  return encode_frame(command::rcpt, joined_cstrs(args));
}
std::string encode_data() { return encode_frame(command::data, {}); }

std::string encode_header(std::string_view name, std::string_view value) {
  std::string payload;
  put_cstr(payload, name);
  put_cstr(payload, value);
  return encode_frame(command::header, payload);
}

std::string encode_eoh() { return encode_frame(command::eoh, {}); }
std::string encode_body(std::string_view chunk) { return encode_frame(command::body, chunk); }
std::string encode_body_eob() { return encode_frame(command::body_eob, {}); }
std::string encode_abort() { return encode_frame(command::abort, {}); }
std::string encode_quit() { return encode_frame(command::quit, {}); }
std::string encode_quit_nc() { return encode_frame(command::quit_nc, {}); }
std::string encode_unknown(std::string_view smtp_command) {
  std::string payload;
  put_cstr(payload, smtp_command);
  return encode_frame(command::unknown, payload);
}

bool is_known_reply_code(char c) noexcept {
  switch (c) {
    case '+': case '-': case '2': case '4': case 'a': case 'b': case 'c': case 'd': case 'e':
    case 'f': case 'h': case 'i': case 'l': case 'm': case 'p': case 'q': case 'r': case 's':
    case 't': case 'y': case 'O':
      return true;
    default:
      return false;
  }
}

std::string_view to_string(ReplyCode code) noexcept {
  switch (code) {
    case ReplyCode::add_rcpt: return "ADDRCPT";
    case ReplyCode::delete_rcpt: return "DELRCPT";
    case ReplyCode::add_rcpt_with_args: return "ADDRCPT_PAR";
    case ReplyCode::shutdown: return "SHUTDOWN";
    case ReplyCode::accept: return "ACCEPT";
    case ReplyCode::replace_body: return "REPLBODY";
    case ReplyCode::continue_: return "CONTINUE";
    case ReplyCode::discard: return "DISCARD";
    case ReplyCode::change_from: return "CHGFROM";
    case ReplyCode::connection_fail: return "CONN_FAIL";
    case ReplyCode::add_header: return "ADDHEADER";
    case ReplyCode::insert_header: return "INSHEADER";
    case ReplyCode::set_symbol_list: return "SETSYMLIST";
    case ReplyCode::change_header: return "CHGHEADER";
    case ReplyCode::progress: return "PROGRESS";
    case ReplyCode::quarantine: return "QUARANTINE";
    case ReplyCode::reject: return "REJECT";
    case ReplyCode::skip: return "SKIP";
    case ReplyCode::tempfail: return "TEMPFAIL";
    case ReplyCode::reply_code: return "REPLYCODE";
    case ReplyCode::optneg: return "OPTNEG";
  }
  return "?";
}

std::string_view to_string(DecodeStatus status) noexcept {
  switch (status) {
    case DecodeStatus::ok: return "ok";
    case DecodeStatus::need_more: return "need_more";
    case DecodeStatus::oversized: return "oversized";
    case DecodeStatus::empty_frame: return "empty_frame";
    case DecodeStatus::unknown_code: return "unknown_code";
    case DecodeStatus::malformed: return "malformed";
  }
  return "?";
}

FrameResult decode_frame(std::string_view buffer, std::size_t max_size) {
  FrameResult r;
  if (buffer.size() < 4) return r;  // need_more
  std::uint32_t length = get_u32(buffer, 0);
  if (length == 0) {
    r.status = DecodeStatus::empty_frame;
    r.detail = "packet length 0";
    return r;
  }
  if (length > max_size) {
    r.status = DecodeStatus::oversized;
    r.detail = "packet length " + std::to_string(length) + " exceeds " + std::to_string(max_size);
    return r;
  }
  if (buffer.size() - 4 < length) return r;  // need_more
  r.status = DecodeStatus::ok;
  r.consumed = 4 + static_cast<std::size_t>(length);
  r.frame.code = buffer[4];
  r.frame.payload.assign(buffer.substr(5, length - 1));
  return r;
}

bool reply_code_is_temporary(std::string_view text) noexcept { return !text.empty() && text[0] == '4'; }

ReplyResult parse_reply(const Frame& frame) {
  ReplyResult r;
  if (!is_known_reply_code(frame.code)) {
    r.status = DecodeStatus::unknown_code;
    r.detail = "unknown reply code 0x" + [](unsigned char c) {
      const char* hex = "0123456789abcdef";
      return std::string{hex[c >> 4], hex[c & 15]};
    }(static_cast<unsigned char>(frame.code));
    return r;
  }
  const ReplyCode code = static_cast<ReplyCode>(frame.code);
  const std::string_view p = frame.payload;
  r.reply.code = code;
  CStrings strings(p);
  switch (code) {
    case ReplyCode::shutdown: case ReplyCode::accept: case ReplyCode::continue_:
    case ReplyCode::discard: case ReplyCode::connection_fail: case ReplyCode::progress:
    case ReplyCode::reject: case ReplyCode::skip: case ReplyCode::tempfail:
      if (!p.empty()) return malformed(code, "unexpected payload of " + std::to_string(p.size()) + " bytes");
      return r;
    case ReplyCode::replace_body:
      r.reply.text.assign(p);
      return r;
    case ReplyCode::reply_code: {
      if (!strings.next(r.reply.text) || !strings.done())
        return malformed(code, "not one NUL-terminated string");
      const std::string& t = r.reply.text;
      // RFC 5321 §4.2: three digits; a milter may only choose 4xx or 5xx (libmilter smfi_setreply).
      if (t.size() < 3 || (t[0] != '4' && t[0] != '5') || t[1] < '0' || t[1] > '9' || t[2] < '0' ||
          t[2] > '9' || (t.size() > 3 && t[3] != ' ' && t[3] != '-'))
        return malformed(code, "not a 4xx/5xx SMTP reply: '" + t.substr(0, 40) + "'");
      return r;
    }
    case ReplyCode::quarantine:
    case ReplyCode::add_rcpt:
    case ReplyCode::delete_rcpt:
      if (!strings.next(r.reply.text) || !strings.done())
        return malformed(code, "not one NUL-terminated string");
      return r;
    case ReplyCode::add_rcpt_with_args:
    case ReplyCode::change_from:
      if (!strings.next(r.reply.text)) return malformed(code, "missing address");
      if (!strings.done()) {
        if (!strings.next(r.reply.args) || !strings.done())
          return malformed(code, "arguments not one NUL-terminated string");
        r.reply.has_args = true;
      }
      return r;
    case ReplyCode::add_header:
      if (!strings.next(r.reply.name) || !strings.next(r.reply.value) || !strings.done())
        return malformed(code, "not name and value, NUL-terminated");
      return r;
    case ReplyCode::insert_header:
    case ReplyCode::change_header: {
      if (p.size() < 4) return malformed(code, "no index");
      r.reply.index = get_u32(p, 0);
      CStrings rest(p.substr(4));
      if (!rest.next(r.reply.name) || !rest.next(r.reply.value) || !rest.done())
        return malformed(code, "not index, name and value");
      if (r.reply.name.empty()) return malformed(code, "empty header name");
      return r;
    }
    case ReplyCode::set_symbol_list: {
      if (p.size() < 4) return malformed(code, "no stage");
      r.reply.stage = get_u32(p, 0);
      CStrings rest(p.substr(4));
      if (!rest.next(r.reply.text) || !rest.done()) return malformed(code, "not stage and list");
      return r;
    }
    case ReplyCode::optneg: {
      if (p.size() < 12) return malformed(code, "shorter than 12 bytes");
      Negotiation& n = r.reply.negotiation;
      n.version = get_u32(p, 0);
      n.actions = get_u32(p, 4);
      n.protocol = get_u32(p, 8);
      std::size_t pos = 12;
      while (pos < p.size()) {
        if (p.size() - pos < 5) return malformed(code, "truncated symbol list");
        std::uint32_t stage = get_u32(p, pos);
        std::size_t nul = p.find('\0', pos + 4);
        if (nul == std::string_view::npos) return malformed(code, "unterminated symbol list");
        n.symbol_lists.emplace_back(stage, std::string(p.substr(pos + 4, nul - pos - 4)));
        pos = nul + 1;
      }
      return r;
    }
  }
  r.status = DecodeStatus::unknown_code;
  r.detail = "unhandled reply code";
  return r;
}

std::string encode_reply(const Reply& reply) {
  std::string payload;
  switch (reply.code) {
    case ReplyCode::shutdown: case ReplyCode::accept: case ReplyCode::continue_:
    case ReplyCode::discard: case ReplyCode::connection_fail: case ReplyCode::progress:
    case ReplyCode::reject: case ReplyCode::skip: case ReplyCode::tempfail:
      break;
    case ReplyCode::replace_body:
      payload = reply.text;
      break;
    case ReplyCode::reply_code: case ReplyCode::quarantine: case ReplyCode::add_rcpt:
    case ReplyCode::delete_rcpt:
      put_cstr(payload, reply.text);
      break;
    case ReplyCode::add_rcpt_with_args: case ReplyCode::change_from:
      put_cstr(payload, reply.text);
      if (reply.has_args) put_cstr(payload, reply.args);
      break;
    case ReplyCode::add_header:
      put_cstr(payload, reply.name);
      put_cstr(payload, reply.value);
      break;
    case ReplyCode::insert_header: case ReplyCode::change_header:
      put_u32(payload, reply.index);
      put_cstr(payload, reply.name);
      put_cstr(payload, reply.value);
      break;
    case ReplyCode::set_symbol_list:
      put_u32(payload, reply.stage);
      put_cstr(payload, reply.text);
      break;
    case ReplyCode::optneg:
      put_u32(payload, reply.negotiation.version);
      put_u32(payload, reply.negotiation.actions);
      put_u32(payload, reply.negotiation.protocol);
      for (const auto& [stage, list] : reply.negotiation.symbol_lists) {
        put_u32(payload, stage);
        put_cstr(payload, list);
      }
      break;
  }
  return encode_frame(static_cast<char>(reply.code), payload);
}

}  // namespace mailward::milter_client
