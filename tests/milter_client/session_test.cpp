// Tests for the milter session against a scripted fake milter on a unix socket: the order of the
// MTA's commands, what each negotiated flag leaves out, and how every kind of reply ends a message.
#include "tests/milter_client/session.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace mailward::milter_client {
namespace {

using namespace std::string_literals;

// One connection, commands answered by a handler; every received command is recorded.
class FakeMilter {
 public:
  using Handler = std::function<std::vector<std::string>(const Frame&)>;  // raw packets to send

  explicit FakeMilter(Handler handler) : handler_(std::move(handler)) {
    char tmpl[] = "/tmp/mb-milter-client-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/s.sock";
    listen_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_, 1) != 0)
      std::abort();
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeMilter() {
    ::shutdown(listen_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listen_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  const std::string& path() const { return path_; }
  // The commands received, as codes ("OCHM...") with macro packets written as 'D' + target.
  std::string codes() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const Frame& f : frames_) {
      out.push_back(f.code);
      if (f.code == command::macro && !f.payload.empty()) out.push_back(f.payload[0]);
    }
    return out;
  }
  std::vector<Frame> frames() {
    std::lock_guard<std::mutex> lock(mutex_);
    return frames_;
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void serve() {
    int fd = ::accept(listen_, nullptr, nullptr);
    if (fd < 0) return;
    std::string buf;
    char chunk[65536];
    for (;;) {
      FrameResult f = decode_frame(buf, 16 * 1024 * 1024);
      if (f.status == DecodeStatus::ok) {
        buf.erase(0, f.consumed);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          frames_.push_back(f.frame);
        }
        if (f.frame.code == command::quit) break;
        for (const std::string& packet : handler_(f.frame))
          if (::send(fd, packet.data(), packet.size(), MSG_NOSIGNAL) < 0) break;
        continue;
      }
      if (f.status != DecodeStatus::need_more) break;
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
  }

  Handler handler_;
  std::string dir_, path_;
  int listen_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Frame> frames_;
};

std::string reply(ReplyCode code) {
  Reply r;
  r.code = code;
  return encode_reply(r);
}

std::string optneg_reply(std::uint32_t actions, std::uint32_t protocol) {
  Reply r;
  r.code = ReplyCode::optneg;
  r.negotiation = {6, actions, protocol, {}};
  return encode_reply(r);
}

// A well-behaved milter: CONTINUE to every step; at end of message the given packets, then `final`.
FakeMilter::Handler behaving(std::uint32_t actions, std::uint32_t protocol,
                             std::vector<std::string> at_eom, std::string final_packet,
                             std::function<std::vector<std::string>(const Frame&)> override_step = {}) {
  return [=](const Frame& f) -> std::vector<std::string> {
    if (override_step) {
      auto r = override_step(f);
      if (!r.empty()) return r;
    }
    switch (f.code) {
      case command::optneg: return {optneg_reply(actions, protocol)};
      case command::macro: case command::abort: return {};
      case command::body_eob: {
        auto out = at_eom;
        out.push_back(final_packet);
        return out;
      }
      case command::header:
        if (protocol & protocol_flag::no_header_reply) return {};
        return {reply(ReplyCode::continue_)};
      default: return {reply(ReplyCode::continue_)};
    }
  };
}

Envelope envelope() {
  Envelope e;
  e.mail_from = "alice@example.org";
  e.recipients = {"bob@example.net"};
  return e;
}

std::vector<mail::HeaderField> headers() {
  return {{"From", " alice@example.org"}, {"Subject", " hello\r\n\tworld"}};
}

struct Connected {
  explicit Connected(FakeMilter& milter) {
    std::string error;
    EXPECT_TRUE(session.connect(milter.path(), error)) << error;
    EXPECT_TRUE(session.negotiate(error)) << error;
  }
  Session session;
};

TEST(Session, FullMessageInPostfixOrderWithEditsAtEnd) {
  Reply ins;
  ins.code = ReplyCode::insert_header;
  ins.name = "Authentication-Results";
  ins.value = "mx; spf=pass";
  Reply chg;
  chg.code = ReplyCode::change_header;
  chg.index = 1;
  chg.name = "Authentication-Results";
  FakeMilter milter(behaving(action_flag::add_headers | action_flag::change_headers,
                             protocol_flag::no_unknown,
                             {encode_reply(ins), encode_reply(chg), reply(ReplyCode::progress)},
                             reply(ReplyCode::accept)));
  Connected c(milter);
  std::string body(150000, 'x');
  Result r = c.session.send_message(envelope(), headers(), body);
  EXPECT_EQ(r.outcome, Outcome::accept) << r.detail;
  EXPECT_EQ(r.stage, Stage::eom);
  EXPECT_EQ(r.progress, 1u);
  ASSERT_EQ(r.edits.size(), 2u);
  EXPECT_EQ(r.edits[0], (HeaderEdit{HeaderEdit::Kind::insert, 0, "Authentication-Results", "mx; spf=pass"}));
  EXPECT_EQ(r.edits[1], (HeaderEdit{HeaderEdit::Kind::change, 1, "Authentication-Results", ""}));
  c.session.quit();
  milter.join();
  // OPTNEG, macros+CONNECT, HELO, macros+MAIL, macros+RCPT, macros+DATA, 2 HEADER, EOH,
  // 3 BODY chunks (65535 + 65535 + 18930), macros+EOB, QUIT.
  EXPECT_EQ(milter.codes(), "ODCCHDMMDRRDTTLLNBBBDEEQ");
  auto frames = milter.frames();
  ASSERT_EQ(frames.size(), 19u);
  EXPECT_EQ(frames[10].payload, "From\0alice@example.org\0"s);  // leading space removed
  EXPECT_EQ(frames[11].payload, "Subject\0hello\n\tworld\0"s);  // LF folds
  EXPECT_EQ(frames[13].payload.size(), 65535u);
  EXPECT_EQ(frames[15].payload.size(), 150000u - 2 * 65535u);
  EXPECT_EQ(frames[5].payload, "<alice@example.org>\0"s);
  EXPECT_EQ(frames[4].payload, "Mi\0" "4QUEUEID01\0{mail_addr}\0alice@example.org\0"s);
}

TEST(Session, NegotiatedFlagsLeaveOutStepsAndReplies) {
  // The milter wants no DATA, no EOH, keeps the leading space, and sends no header replies.
  const std::uint32_t proto = protocol_flag::no_data | protocol_flag::no_eoh |
                              protocol_flag::header_leading_space | protocol_flag::no_header_reply |
                              protocol_flag::nr_rcpt;
  FakeMilter milter(behaving(0, proto, {}, reply(ReplyCode::continue_),
                             [](const Frame& f) -> std::vector<std::string> {
                               if (f.code == command::rcpt) return {""};  // no reply (NR_RCPT)
                               return {};
                             }));
  Connected c(milter);
  Envelope e = envelope();
  e.auth_authen = "alice";
  Result r = c.session.send_message(e, headers(), "");
  EXPECT_EQ(r.outcome, Outcome::accept) << r.detail;
  EXPECT_EQ(r.stage, Stage::eom);
  c.session.quit();
  milter.join();
  EXPECT_EQ(milter.codes(), "ODCCHDMMDRRLLDEEQ");  // no T, no N, no B for an empty body
  auto frames = milter.frames();
  ASSERT_EQ(frames.size(), 13u);
  EXPECT_EQ(frames[8].payload, "From\0 alice@example.org\0"s);
  EXPECT_NE(frames[4].payload.find("{auth_authen}\0alice\0"s), std::string::npos);
}

TEST(Session, EarlyVerdictsEndTheMessageWithAbort) {
  struct Case {
    const char* what;
    char step;            // the command whose reply decides
    std::string packet;   // the reply to it
    Outcome outcome;
    Stage stage;
    std::string reply_text;
    std::string codes;    // what the milter received
  };
  Reply y;
  y.code = ReplyCode::reply_code;
  y.text = "451 4.7.1 try later";
  const Case cases[] = {
      {"reject at MAIL", 'M', reply(ReplyCode::reject), Outcome::reject, Stage::mail, "",
       "ODCCHDMMAQ"},
      {"tempfail replycode at DATA", 'T', encode_reply(y), Outcome::tempfail, Stage::data,
       "451 4.7.1 try later", "ODCCHDMMDRRDTTAQ"},
      {"accept at header", 'L', reply(ReplyCode::accept), Outcome::accept, Stage::header, "",
       "ODCCHDMMDRRDTTLAQ"},
      {"discard at EOH", 'N', reply(ReplyCode::discard), Outcome::discard, Stage::eoh, "",
       "ODCCHDMMDRRDTTLLNAQ"},
      {"all recipients rejected", 'R', reply(ReplyCode::reject), Outcome::reject, Stage::rcpt, "",
       "ODCCHDMMDRRAQ"},
  };
  for (const Case& k : cases) {
    char step = k.step;
    std::string packet = k.packet;
    FakeMilter milter(behaving(0, 0, {}, reply(ReplyCode::accept),
                               [step, packet](const Frame& f) -> std::vector<std::string> {
                                 if (f.code == step) return {packet};
                                 return {};
                               }));
    Connected c(milter);
    Result r = c.session.send_message(envelope(), headers(), "body\r\n");
    EXPECT_EQ(r.outcome, k.outcome) << k.what << ": " << r.detail;
    EXPECT_EQ(r.stage, k.stage) << k.what;
    EXPECT_EQ(r.reply, k.reply_text) << k.what;
    c.session.quit();
    milter.join();
    EXPECT_EQ(milter.codes(), k.codes) << k.what;
  }
}

TEST(Session, OneRejectedRecipientOfTwoLetsTheMessageGoOn) {
  FakeMilter milter(behaving(0, 0, {}, reply(ReplyCode::continue_),
                             [](const Frame& f) -> std::vector<std::string> {
                               if (f.code == command::rcpt && f.payload == "<bad@example.net>\0"s)
                                 return {reply(ReplyCode::reject)};
                               return {};
                             }));
  Connected c(milter);
  Envelope e = envelope();
  e.recipients = {"bad@example.net", "bob@example.net"};
  Result r = c.session.send_message(e, headers(), "");
  EXPECT_EQ(r.outcome, Outcome::accept) << r.detail;
  EXPECT_EQ(r.rejected_recipients, 1u);
}

TEST(Session, SkipStopsTheBody) {
  FakeMilter milter(behaving(0, protocol_flag::skip, {}, reply(ReplyCode::accept),
                             [](const Frame& f) -> std::vector<std::string> {
                               if (f.code == command::body) return {reply(ReplyCode::skip)};
                               return {};
                             }));
  Session::Options o;
  o.body_chunk = 10;
  Session s(o);
  std::string error;
  ASSERT_TRUE(s.connect(milter.path(), error)) << error;
  ASSERT_TRUE(s.negotiate(error)) << error;
  Result r = s.send_message(envelope(), {}, std::string(100, 'b'));
  EXPECT_EQ(r.outcome, Outcome::accept) << r.detail;
  s.quit();
  milter.join();
  EXPECT_EQ(milter.codes(), "ODCCHDMMDRRDTTNBDEEQ");  // one BODY chunk only
}

TEST(Session, MilterMisbehaviourIsAnOutcomeNotACrash) {
  struct Case {
    const char* what;
    std::vector<std::string> at_eom;
    std::string final_packet;
    Outcome outcome;
  };
  Reply ins;
  ins.code = ReplyCode::insert_header;
  ins.name = "X";
  const Case cases[] = {
      {"unknown reply code", {}, encode_frame('Z', ""), Outcome::protocol_error},
      {"malformed replycode", {}, encode_frame('y', "250 fine\0"s), Outcome::protocol_error},
      {"oversized length", {}, "\x7f\xff\xff\xff"s, Outcome::protocol_error},
      {"edit not negotiated", {encode_reply(ins)}, reply(ReplyCode::accept), Outcome::protocol_error},
      {"closes mid-packet", {}, "\0\0\0\x09y45"s, Outcome::io_error},
      {"closes without a reply", {}, "", Outcome::io_error},
      {"shutdown", {}, reply(ReplyCode::shutdown), Outcome::connection_fail},
  };
  for (const Case& k : cases) {
    FakeMilter milter(behaving(0, 0, k.at_eom, k.final_packet,
                               [](const Frame& f) -> std::vector<std::string> {
                                 if (f.code == command::quit) return {};
                                 return {};
                               }));
    Session::Options o;
    o.timeout = std::chrono::milliseconds(500);
    Session s(o);
    std::string error;
    ASSERT_TRUE(s.connect(milter.path(), error)) << error;
    ASSERT_TRUE(s.negotiate(error)) << error;
    // The fake closes its end after the last reply when it sees EOB with an empty final packet:
    // emulate by quitting on our side after a short timeout.
    Result r = s.send_message(envelope(), headers(), "x\r\n");
    EXPECT_EQ(r.outcome, k.outcome) << k.what << ": " << r.detail;
    EXPECT_EQ(r.stage, Stage::eom) << k.what;
    EXPECT_FALSE(r.detail.empty() && k.outcome != Outcome::connection_fail) << k.what;
    s.close();
    milter.join();
  }
}

TEST(Session, NegotiationRefusesWhatWasNotOffered) {
  FakeMilter milter(behaving(action_flag::all, protocol_flag::postfix_offer, {}, ""));
  Session::Options o;
  o.actions = action_flag::add_headers;
  Session s(o);
  std::string error;
  ASSERT_TRUE(s.connect(milter.path(), error)) << error;
  EXPECT_FALSE(s.negotiate(error));
  EXPECT_NE(error.find("not offered"), std::string::npos) << error;
  s.close();
  milter.join();
}

TEST(Session, RawWritesAndReads) {
  FakeMilter milter([](const Frame& f) -> std::vector<std::string> {
    if (f.code == command::optneg) return {optneg_reply(0, 0)};
    return {reply(ReplyCode::tempfail)};
  });
  Session s;
  std::string error;
  ASSERT_TRUE(s.connect(milter.path(), error)) << error;
  ASSERT_TRUE(s.write_raw(encode_optneg({}), error)) << error;
  ReadResult r = s.read_reply();
  ASSERT_EQ(r.status, ReadStatus::ok) << r.detail;
  EXPECT_EQ(r.reply.code, ReplyCode::optneg);
  ASSERT_TRUE(s.write_raw(encode_helo("x"), error)) << error;
  r = s.read_reply();
  ASSERT_EQ(r.status, ReadStatus::ok) << r.detail;
  EXPECT_EQ(r.reply.code, ReplyCode::tempfail);
  s.quit();
  milter.join();
}

}  // namespace
}  // namespace mailward::milter_client
