// Tests for the milter protocol codec: exact bytes of the MTA's commands, framing, and every reply
// layout (well-formed and malformed), with the decode/encode round trip.
#include "tests/milter_client/codec.h"

#include <gtest/gtest.h>

#include <string>

namespace mailward::milter_client {
namespace {

using namespace std::string_literals;

TEST(Encode, CommandsHaveExactBytes) {
  struct Case {
    const char* what;
    std::string got;
    std::string want;
  };
  Negotiation offer;
  offer.actions = 0x1FF;
  offer.protocol = 0x1FFFFF;
  const Case cases[] = {
      {"optneg", encode_optneg(offer),
       "\0\0\0\x0d"s "O" "\0\0\0\x06" "\0\0\x01\xff" "\0\x1f\xff\xff"s},
      {"connect inet", encode_connect("h.example", Family::inet, 0x1234, "192.0.2.1"),
       "\0\0\0\x18"s "C" "h.example\0"s "4" "\x12\x34" "192.0.2.1\0"s},
      {"connect unknown", encode_connect("localhost", Family::unknown, 25, "ignored"),
       "\0\0\0\x0c"s "C" "localhost\0"s "U"},
      {"helo", encode_helo("x"), "\0\0\0\x03"s "H" "x\0"s},
      {"mail", encode_mail({"<a@b>", "SIZE=10"}), "\0\0\0\x0f"s "M" "<a@b>\0SIZE=10\0"s},
      {"rcpt", encode_rcpt({"<c@d>"}), "\0\0\0\x07"s "R" "<c@d>\0"s},
      {"macros", encode_macros('M', {{"i", "Q1"}, {"{auth_authen}", "u"}}),
       "\0\0\0\x17"s "D" "M" "i\0Q1\0{auth_authen}\0u\0"s},
      {"header", encode_header("Subject", "hi\n\tthere"), "\0\0\0\x13"s "L" "Subject\0hi\n\tthere\0"s},
      {"body", encode_body("ab\r\n"), "\0\0\0\x05"s "B" "ab\r\n"},
      {"body with NUL", encode_body("a\0b"s), "\0\0\0\x04"s "B" "a\0b"s},
      {"data", encode_data(), "\0\0\0\x01T"s},
      {"eoh", encode_eoh(), "\0\0\0\x01N"s},
      {"eob", encode_body_eob(), "\0\0\0\x01" "E"s},
      {"abort", encode_abort(), "\0\0\0\x01" "A"s},
      {"quit", encode_quit(), "\0\0\0\x01Q"s},
      {"quit_nc", encode_quit_nc(), "\0\0\0\x01K"s},
      {"unknown", encode_unknown("XYZZY"), "\0\0\0\x07U" "XYZZY\0"s},
  };
  for (const Case& c : cases) EXPECT_EQ(c.got, c.want) << c.what;
}

TEST(DecodeFrame, SplitsPacketsAndReportsIncompleteOrBadLengths) {
  struct Case {
    const char* what;
    std::string buffer;
    std::size_t max;
    DecodeStatus status;
    std::size_t consumed;
    char code;
    std::string payload;
  };
  const Case cases[] = {
      {"empty buffer", "", 100, DecodeStatus::need_more, 0, 0, ""},
      {"3 length bytes", "\0\0\0"s, 100, DecodeStatus::need_more, 0, 0, ""},
      {"length only", "\0\0\0\x01"s, 100, DecodeStatus::need_more, 0, 0, ""},
      {"short payload", "\0\0\0\x03y4"s, 100, DecodeStatus::need_more, 0, 0, ""},
      {"continue", "\0\0\0\x01" "c"s, 100, DecodeStatus::ok, 5, 'c', ""},
      {"two packets", "\0\0\0\x01" "c" "\0\0\0\x01" "a"s, 100, DecodeStatus::ok, 5, 'c', ""},
      {"zero length", "\0\0\0\0c"s, 100, DecodeStatus::empty_frame, 0, 0, ""},
      {"length above max", "\0\0\0\x65"s, 100, DecodeStatus::oversized, 0, 0, ""},
      {"length at max", "\0\0\0\x03qab"s, 3, DecodeStatus::ok, 7, 'q', "ab"},
      {"4 GB length", "\xff\xff\xff\xff"s, 1 << 20, DecodeStatus::oversized, 0, 0, ""},
  };
  for (const Case& c : cases) {
    FrameResult r = decode_frame(c.buffer, c.max);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.detail;
    EXPECT_EQ(r.consumed, c.consumed) << c.what;
    EXPECT_EQ(r.frame.code, c.code) << c.what;
    EXPECT_EQ(r.frame.payload, c.payload) << c.what;
  }
}

Reply make(ReplyCode code) {
  Reply r;
  r.code = code;
  return r;
}

TEST(ParseReply, EveryWellFormedReplyRoundTrips) {
  std::vector<std::pair<std::string, Reply>> cases;
  for (ReplyCode c : {ReplyCode::accept, ReplyCode::continue_, ReplyCode::reject, ReplyCode::tempfail,
                      ReplyCode::discard, ReplyCode::skip, ReplyCode::progress,
                      ReplyCode::connection_fail, ReplyCode::shutdown})
    cases.emplace_back("\0\0\0\x01"s + static_cast<char>(c), make(c));
  Reply y = make(ReplyCode::reply_code);
  y.text = "550 5.7.1 rejected by DMARC policy";
  cases.emplace_back("\0\0\0\x24y550 5.7.1 rejected by DMARC policy\0"s, y);
  Reply ins = make(ReplyCode::insert_header);
  ins.index = 0;
  ins.name = "Authentication-Results";
  ins.value = "mx; spf=pass";
  cases.emplace_back("\0\0\0\x29i\0\0\0\0Authentication-Results\0mx; spf=pass\0"s, ins);
  Reply chg = make(ReplyCode::change_header);
  chg.index = 2;
  chg.name = "X-A";
  cases.emplace_back("\0\0\0\x0am\0\0\0\x02X-A\0\0"s, chg);
  Reply add = make(ReplyCode::add_header);
  add.name = "X-B";
  add.value = "v";
  cases.emplace_back("\0\0\0\x07hX-B\0v\0"s, add);
  Reply q = make(ReplyCode::quarantine);
  q.text = "dmarc";
  cases.emplace_back("\0\0\0\x07qdmarc\0"s, q);
  Reply plus = make(ReplyCode::add_rcpt);
  plus.text = "<x@y>";
  cases.emplace_back("\0\0\0\x07+<x@y>\0"s, plus);
  Reply par = make(ReplyCode::add_rcpt_with_args);
  par.text = "<x@y>";
  par.args = "NOTIFY=NEVER";
  par.has_args = true;
  cases.emplace_back("\0\0\0\x14" "2<x@y>\0NOTIFY=NEVER\0"s, par);
  Reply from = make(ReplyCode::change_from);
  from.text = "<>";
  cases.emplace_back("\0\0\0\x04" "e<>\0"s, from);
  Reply body = make(ReplyCode::replace_body);
  body.text = "new\0body\r\n"s;
  cases.emplace_back("\0\0\0\x0b" "bnew\0body\r\n"s, body);
  Reply neg = make(ReplyCode::optneg);
  neg.negotiation = {6, 0x31, 0x100300, {{2, "i {auth_authen}"}}};
  cases.emplace_back("\0\0\0\x21O\0\0\0\x06\0\0\0\x31\0\x10\x03\0\0\0\0\x02i {auth_authen}\0"s, neg);

  for (const auto& [bytes, want] : cases) {
    const std::string what(to_string(want.code));
    FrameResult f = decode_frame(bytes, 1 << 20);
    ASSERT_EQ(f.status, DecodeStatus::ok) << what << ": " << f.detail;
    EXPECT_EQ(f.consumed, bytes.size()) << what;
    ReplyResult p = parse_reply(f.frame);
    ASSERT_EQ(p.status, DecodeStatus::ok) << what << ": " << p.detail;
    EXPECT_EQ(p.reply, want) << what;
    EXPECT_EQ(encode_reply(p.reply), bytes) << what;
  }
}

TEST(ParseReply, MalformedRepliesAreErrorsNotGuesses) {
  struct Case {
    const char* what;
    char code;
    std::string payload;
    DecodeStatus status;
  };
  const Case cases[] = {
      {"unknown code", 'Z', "", DecodeStatus::unknown_code},
      {"NUL code", '\0', "", DecodeStatus::unknown_code},
      {"command code, not a reply", 'L', "", DecodeStatus::unknown_code},
      {"accept with payload", 'a', "x", DecodeStatus::malformed},
      {"replycode unterminated", 'y', "550 no", DecodeStatus::malformed},
      {"replycode 2xx", 'y', "250 ok\0"s, DecodeStatus::malformed},
      {"replycode not digits", 'y', "5x0 no\0"s, DecodeStatus::malformed},
      {"replycode too short", 'y', "55\0"s, DecodeStatus::malformed},
      {"replycode bad separator", 'y', "550x\0"s, DecodeStatus::malformed},
      {"replycode trailing bytes", 'y', "550 no\0x"s, DecodeStatus::malformed},
      {"insheader no index", 'i', "\0\0"s, DecodeStatus::malformed},
      {"insheader no value", 'i', "\0\0\0\0X\0"s, DecodeStatus::malformed},
      {"insheader empty name", 'i', "\0\0\0\0\0v\0"s, DecodeStatus::malformed},
      {"chgheader unterminated", 'm', "\0\0\0\x01X\0v"s, DecodeStatus::malformed},
      {"addheader one string", 'h', "X\0"s, DecodeStatus::malformed},
      {"addheader three strings", 'h', "X\0v\0w\0"s, DecodeStatus::malformed},
      {"quarantine empty", 'q', "", DecodeStatus::malformed},
      {"chgfrom three strings", 'e', "<a>\0b\0c\0"s, DecodeStatus::malformed},
      {"optneg short", 'O', "\0\0\0\x06\0\0\0\0"s, DecodeStatus::malformed},
      {"optneg truncated list", 'O', "\0\0\0\x06\0\0\0\0\0\0\0\0\0\0"s, DecodeStatus::malformed},
      {"optneg unterminated list", 'O', "\0\0\0\x06\0\0\0\0\0\0\0\0\0\0\0\x01i j"s,
       DecodeStatus::malformed},
      {"setsymlist no stage", 'l', "ab"s, DecodeStatus::malformed},
  };
  for (const Case& c : cases) {
    ReplyResult r = parse_reply(Frame{c.code, c.payload});
    EXPECT_EQ(r.status, c.status) << c.what;
    EXPECT_FALSE(r.detail.empty()) << c.what;
  }
}

TEST(ReplyCodeText, FirstDigitDecidesTemporary) {
  EXPECT_TRUE(reply_code_is_temporary("451 4.3.0 try later"));
  EXPECT_FALSE(reply_code_is_temporary("550 5.7.1 no"));
  EXPECT_FALSE(reply_code_is_temporary(""));
}

}  // namespace
}  // namespace mailward::milter_client
