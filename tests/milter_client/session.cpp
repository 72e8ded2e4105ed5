// The blocking milter session (see session.h): socket I/O around the pure codec, and the order of
// steps and replies of protocol 6 as Postfix's milter8.c drives it.
#include "tests/milter_client/session.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mailward::milter_client {

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::accept: return "accept";
    case Outcome::reject: return "reject";
    case Outcome::tempfail: return "tempfail";
    case Outcome::discard: return "discard";
    case Outcome::connection_fail: return "connection_fail";
    case Outcome::protocol_error: return "protocol_error";
    case Outcome::io_error: return "io_error";
  }
  return "?";
}

std::string_view to_string(Stage stage) noexcept {
  switch (stage) {
    case Stage::connect: return "connect";
    case Stage::helo: return "helo";
    case Stage::mail: return "mail";
    case Stage::rcpt: return "rcpt";
    case Stage::data: return "data";
    case Stage::header: return "header";
    case Stage::eoh: return "eoh";
    case Stage::body: return "body";
    case Stage::eom: return "eom";
  }
  return "?";
}

namespace {

bool has(std::uint32_t flags, std::uint32_t bit) { return (flags & bit) != 0; }

// Postfix hands header values to milters with LF folds and, unless SMFIP_HDR_LEADSPC was agreed,
// without the whitespace after the colon (cleanup_milter.c).
std::string wire_header_value(std::string_view value, bool leading_space) {
  std::string out;
  out.reserve(value.size());
  std::size_t i = 0;
  if (!leading_space)
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
  for (; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
    out.push_back(value[i]);
  }
  return out;
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                    std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

Session::Session() : Session(Options{}) {}
Session::Session(Options options) : options_(std::move(options)) {}
Session::~Session() { close(); }

bool Session::connect(const std::string& socket_path, std::string& error) {
  close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    error = "socket path too long: " + socket_path;
    return false;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    error = "connect " + socket_path + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  inbuf_.clear();
  connection_sent_ = false;
  negotiated_ = Negotiation{};
  return true;
}

void Session::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  inbuf_.clear();
  connection_sent_ = false;
}

void Session::quit() {
  if (fd_ >= 0) {
    std::string ignored;
    write_raw(encode_quit(), ignored);
  }
  close();
}

bool Session::write_raw(std::string_view bytes, std::string& error) {
  if (fd_ < 0) {
    error = "not connected";
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {  // EWOULDBLOCK is the same value on Linux
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
        error = "write timed out";
        return false;
      }
      continue;
    }
    error = std::string("write: ") + (n < 0 ? std::strerror(errno) : "closed");
    return false;
  }
  return true;
}

ReadResult Session::read_reply() {
  ReadResult r;
  if (fd_ < 0) {
    r.status = ReadStatus::closed;
    r.detail = "not connected";
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  for (;;) {
    FrameResult f = decode_frame(inbuf_, options_.max_reply_size);
    if (f.status == DecodeStatus::ok) {
      inbuf_.erase(0, f.consumed);
      ReplyResult p = parse_reply(f.frame);
      if (p.status != DecodeStatus::ok) {
        r.status = ReadStatus::bad_packet;
        r.detail = p.detail;
        return r;
      }
      r.status = ReadStatus::ok;
      r.reply = std::move(p.reply);
      return r;
    }
    if (f.status != DecodeStatus::need_more) {
      r.status = ReadStatus::bad_packet;
      r.detail = f.detail;
      return r;
    }
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      r.status = ReadStatus::timeout;
      r.detail = "no reply within " + std::to_string(options_.timeout.count()) + " ms";
      return r;
    }
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      r.status = ReadStatus::closed;
      r.detail = inbuf_.empty() ? "connection closed by the milter"
                                : "connection closed inside a reply packet";
      return r;
    }
    if (n < 0) {
      r.status = ReadStatus::io_error;
      r.detail = std::string("read: ") + std::strerror(errno);
      return r;
    }
    inbuf_.append(buf, static_cast<std::size_t>(n));
  }
}

bool Session::wait_closed(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;  // EOF or reset
    // Anything the milter still sends before closing is read and dropped.
  }
}

bool Session::negotiate(std::string& error) {
  Negotiation offer;
  offer.actions = options_.actions;
  offer.protocol = options_.protocol;
  if (!write_raw(encode_optneg(offer), error)) return false;
  ReadResult r = read_reply();
  if (r.status != ReadStatus::ok) {
    error = "OPTNEG: " + r.detail;
    return false;
  }
  if (r.reply.code != ReplyCode::optneg) {
    error = "OPTNEG answered with " + std::string(to_string(r.reply.code));
    return false;
  }
  const Negotiation& n = r.reply.negotiation;
  // The milter may only take what we offered (libmilter enforces the same on its side).
  if (n.version < 2 || n.version > kProtocolVersion) {
    error = "milter speaks protocol version " + std::to_string(n.version);
    return false;
  }
  if ((n.actions & ~options_.actions) != 0 ||
      (n.protocol & ~(options_.protocol | protocol_flag::mds_256k | protocol_flag::mds_1m)) != 0) {
    error = "milter asked for actions or protocol steps that were not offered";
    return false;
  }
  negotiated_ = n;
  return true;
}

bool Session::send(Stage stage, std::string_view bytes, Result& result) {
  result.stage = stage;
  std::string error;
  if (write_raw(bytes, error)) return true;
  result.outcome = Outcome::io_error;
  result.detail = error;
  close();
  return false;
}

// Reads the reply to one step. True: the message goes on (CONTINUE, or no reply expected).
// False: `result` holds the outcome (a final action, or an error).
bool Session::await_step(Stage stage, bool reply_expected, Result& result) {
  result.stage = stage;
  if (!reply_expected) return true;
  for (;;) {
    ReadResult r = read_reply();
    if (r.status != ReadStatus::ok) {
      result.outcome = r.status == ReadStatus::bad_packet ? Outcome::protocol_error : Outcome::io_error;
      result.detail = std::string(to_string(stage)) + ": " + r.detail;
      close();  // after a bad packet the byte stream cannot be trusted
      return false;
    }
    const Reply& reply = r.reply;
    const bool eom = stage == Stage::eom;
    const std::uint32_t acts = negotiated_.actions;
    auto not_allowed = [&](std::uint32_t flag) {
      if (eom && has(acts, flag)) return false;
      result.outcome = Outcome::protocol_error;
      result.detail = std::string(to_string(reply.code)) + " at " + std::string(to_string(stage)) +
                      (eom ? " without the negotiated action" : ": only allowed at end of message");
      close();
      return true;
    };
    switch (reply.code) {
      case ReplyCode::continue_:
        if (eom) {
          result.outcome = Outcome::accept;
          return false;
        }
        return true;
      case ReplyCode::skip:
        if (stage == Stage::body && has(negotiated_.protocol, protocol_flag::skip)) return true;
        result.outcome = Outcome::protocol_error;
        result.detail = "SKIP at " + std::string(to_string(stage));
        close();
        return false;
      case ReplyCode::accept:
        result.outcome = Outcome::accept;
        return false;
      case ReplyCode::reject:
        result.outcome = Outcome::reject;
        return false;
      case ReplyCode::tempfail:
        result.outcome = Outcome::tempfail;
        return false;
      case ReplyCode::discard:
        result.outcome = Outcome::discard;
        return false;
      case ReplyCode::reply_code:
        result.reply = reply.text;
        result.outcome = reply_code_is_temporary(reply.text) ? Outcome::tempfail : Outcome::reject;
        return false;
      case ReplyCode::connection_fail:
      case ReplyCode::shutdown:
        result.outcome = Outcome::connection_fail;
        close();
        return false;
      case ReplyCode::progress:
        ++result.progress;
        continue;
      case ReplyCode::add_header:
      case ReplyCode::insert_header:
        if (not_allowed(action_flag::add_headers)) return false;
        result.edits.push_back({reply.code == ReplyCode::add_header ? HeaderEdit::Kind::add
                                                                    : HeaderEdit::Kind::insert,
                                reply.index, reply.name, reply.value});
        continue;
      case ReplyCode::change_header:
        if (not_allowed(action_flag::change_headers)) return false;
        result.edits.push_back({HeaderEdit::Kind::change, reply.index, reply.name, reply.value});
        continue;
      case ReplyCode::quarantine:
        if (not_allowed(action_flag::quarantine)) return false;
        result.quarantine_reason = reply.text;
        continue;
      case ReplyCode::add_rcpt:
        if (not_allowed(action_flag::add_rcpt)) return false;
        result.added_recipients.push_back(reply.text);
        continue;
      case ReplyCode::add_rcpt_with_args:
        if (not_allowed(action_flag::add_rcpt_with_args)) return false;
        result.added_recipients.push_back(reply.text);
        continue;
      case ReplyCode::delete_rcpt:
        if (not_allowed(action_flag::delete_rcpt)) return false;
        result.deleted_recipients.push_back(reply.text);
        continue;
      case ReplyCode::change_from:
        if (not_allowed(action_flag::change_from)) return false;
        result.new_sender = reply.text;
        continue;
      case ReplyCode::replace_body:
        if (not_allowed(action_flag::change_body)) return false;
        if (!result.new_body) result.new_body.emplace();
        result.new_body->append(reply.text);
        continue;
      case ReplyCode::set_symbol_list:
      case ReplyCode::optneg:
        result.outcome = Outcome::protocol_error;
        result.detail = std::string(to_string(reply.code)) + " at " + std::string(to_string(stage));
        close();
        return false;
    }
  }
}

// A message that ended before BODYEOB: ABORT resets the milter for the next one.
void Session::finish_early(Result& result) {
  if (fd_ < 0) return;
  if (result.outcome == Outcome::protocol_error || result.outcome == Outcome::io_error ||
      result.outcome == Outcome::connection_fail)
    return;
  std::string error;
  if (!write_raw(encode_abort(), error)) close();
}

Result Session::connect_steps(const Envelope& env) {
  Result result;
  result.outcome = Outcome::accept;
  const std::uint32_t proto = negotiated_.protocol;
  if (!has(proto, protocol_flag::no_connect)) {
    if (!send(Stage::connect, encode_macros(command::connect, {{"j", options_.daemon_name},
                                               {"{daemon_name}", "smtpd"},
                                               {"v", "Postfix 3.7.11"},
                                               {"_", env.client_name + " [" + env.client_address + "]"}}),
              result) ||
        !send(Stage::connect, encode_connect(env.client_name, env.family, env.client_port, env.client_address), result))
      return result;
    if (!await_step(Stage::connect, !has(proto, protocol_flag::nr_connect), result)) return result;
  }
  if (!has(proto, protocol_flag::no_helo)) {
    if (!send(Stage::helo, encode_helo(env.helo), result)) return result;
    if (!await_step(Stage::helo, !has(proto, protocol_flag::nr_helo), result)) return result;
  }
  result.outcome = Outcome::accept;
  result.stage = Stage::helo;
  return result;
}

Result Session::send_message(const Envelope& env, const std::vector<mail::HeaderField>& headers,
                             std::string_view body) {
  Result result;
  if (fd_ < 0) {
    result.outcome = Outcome::io_error;
    result.detail = "not connected";
    return result;
  }
  const std::uint32_t proto = negotiated_.protocol;
  if (!connection_sent_) {
    connection_sent_ = true;
    // A connection-level verdict (reject at CONNECT or HELO) is returned for this message; the
    // caller decides whether to go on. (ACCEPT at CONNECT is treated as CONTINUE.)
    Result c = connect_steps(env);
    if (c.outcome != Outcome::accept || fd_ < 0) return c;
  }

  // MAIL
  std::vector<std::pair<std::string, std::string>> mail_macros{{"i", env.queue_id}};
  if (!env.auth_authen.empty()) {
    mail_macros.emplace_back("{auth_type}", "PLAIN");
    mail_macros.emplace_back("{auth_authen}", env.auth_authen);
  }
  mail_macros.emplace_back("{mail_addr}", env.mail_from);
  if (!has(proto, protocol_flag::no_mail)) {
    if (!send(Stage::mail, encode_macros(command::mail, mail_macros), result) ||
        !send(Stage::mail, encode_mail({"<" + env.mail_from + ">"}), result))
      return result;
    if (!await_step(Stage::mail, !has(proto, protocol_flag::nr_mail), result)) {
      finish_early(result);
      return result;
    }
  }

  // RCPT: a rejected recipient is dropped; the message goes on while one is left (Postfix).
  if (!has(proto, protocol_flag::no_rcpt)) {
    std::size_t accepted = 0;
    Result last_rejection;
    for (const std::string& rcpt : env.recipients) {
      if (!send(Stage::rcpt, encode_macros(command::rcpt, {{"{rcpt_addr}", rcpt}}), result) ||
          !send(Stage::rcpt, encode_rcpt({"<" + rcpt + ">"}), result))
        return result;
      Result step;
      step.outcome = Outcome::accept;
      if (await_step(Stage::rcpt, !has(proto, protocol_flag::nr_rcpt), step)) {
        ++accepted;
        continue;
      }
      if (step.outcome == Outcome::reject || step.outcome == Outcome::tempfail) {
        ++result.rejected_recipients;
        last_rejection = step;
        continue;
      }
      // accept, discard, or an error: the message ends here.
      step.rejected_recipients = result.rejected_recipients;
      finish_early(step);
      return step;
    }
    if (accepted == 0 && !env.recipients.empty()) {
      last_rejection.rejected_recipients = result.rejected_recipients;
      finish_early(last_rejection);
      return last_rejection;
    }
  }

  // DATA
  if (!has(proto, protocol_flag::no_data)) {
    if (!send(Stage::data, encode_macros(command::data, {{"i", env.queue_id}}), result) ||
        !send(Stage::data, encode_data(), result))
      return result;
    if (!await_step(Stage::data, !has(proto, protocol_flag::nr_data), result)) {
      finish_early(result);
      return result;
    }
  }

  // HEADER, EOH
  if (!has(proto, protocol_flag::no_headers)) {
    const bool leading_space = has(proto, protocol_flag::header_leading_space);
    for (const mail::HeaderField& h : headers) {
      if (!send(Stage::header, encode_header(h.name, wire_header_value(h.value, leading_space)), result)) return result;
      if (!await_step(Stage::header, !has(proto, protocol_flag::no_header_reply), result)) {
        finish_early(result);
        return result;
      }
    }
  }
  if (!has(proto, protocol_flag::no_eoh)) {
    if (!send(Stage::eoh, encode_eoh(), result)) return result;
    if (!await_step(Stage::eoh, !has(proto, protocol_flag::nr_eoh), result)) {
      finish_early(result);
      return result;
    }
  }

  // BODY chunks; SKIP (when negotiated) ends them early.
  if (!has(proto, protocol_flag::no_body)) {
    const std::size_t chunk = options_.body_chunk == 0 ? kBodyChunkSize : options_.body_chunk;
    for (std::size_t at = 0; at < body.size(); at += chunk) {
      if (!send(Stage::body, encode_body(body.substr(at, chunk)), result)) return result;
      const bool expect = !has(proto, protocol_flag::nr_body);
      if (!expect) continue;
      // SKIP (when negotiated) stops the body; anything but CONTINUE goes to await_step.
      ReadResult r = read_reply();
      if (r.status == ReadStatus::ok && r.reply.code == ReplyCode::skip &&
          has(proto, protocol_flag::skip))
        break;
      if (r.status == ReadStatus::ok && r.reply.code == ReplyCode::continue_) continue;
      // Anything else: push the packet back and let await_step judge it.
      if (r.status == ReadStatus::ok) inbuf_.insert(0, encode_reply(r.reply));
      else {
        result.stage = Stage::body;
        result.outcome = r.status == ReadStatus::bad_packet ? Outcome::protocol_error : Outcome::io_error;
        result.detail = "body: " + r.detail;
        close();
        return result;
      }
      if (!await_step(Stage::body, true, result)) {
        finish_early(result);
        return result;
      }
    }
  }

  // BODYEOB: modifications, progress, then the final action.
  if (!send(Stage::eom, encode_macros(command::body_eob, {{"i", env.queue_id}}), result) ||
      !send(Stage::eom, encode_body_eob(), result))
    return result;
  await_step(Stage::eom, true, result);
  return result;
}

}  // namespace mailward::milter_client
