// The milter client against real libmilter (Debian's libmilter, the library mailward-milter uses): a
// small milter in this process answers according to the message, and the client must read every
// kind of reply correctly. This is the oracle for the codec: libmilter, not our own encoder.
#include <gtest/gtest.h>
#include <libmilter/mfapi.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/milter_client/session.h"

namespace mailward::milter_client {
namespace {

using namespace std::string_literals;

struct Counts {
  unsigned headers = 0;
  std::size_t header_bytes = 0;
  std::size_t body_bytes = 0;
  unsigned body_calls = 0;
  std::string subject;
  std::string auth;
};

Counts* counts(SMFICTX* ctx) { return static_cast<Counts*>(smfi_getpriv(ctx)); }

sfsistat t_connect(SMFICTX* ctx, char*, _SOCK_ADDR*) {
  smfi_setpriv(ctx, new Counts);
  return SMFIS_CONTINUE;
}
sfsistat t_envfrom(SMFICTX* ctx, char** argv) {
  Counts* c = counts(ctx);
  *c = Counts{};
  const char* auth = smfi_getsymval(ctx, const_cast<char*>("{auth_authen}"));
  c->auth = auth ? auth : "";
  if (argv[0] && std::strcmp(argv[0], "<reject@example.org>") == 0) {
    smfi_setreply(ctx, const_cast<char*>("550"), const_cast<char*>("5.7.1"),
                  const_cast<char*>("no thanks"));
    return SMFIS_REJECT;
  }
  return SMFIS_CONTINUE;
}
sfsistat t_header(SMFICTX* ctx, char* name, char* value) {
  Counts* c = counts(ctx);
  ++c->headers;
  c->header_bytes += std::strlen(name) + std::strlen(value);
  if (std::strcmp(name, "Subject") == 0) c->subject = value;
  return SMFIS_CONTINUE;
}
sfsistat t_body(SMFICTX* ctx, unsigned char*, size_t size) {
  Counts* c = counts(ctx);
  c->body_bytes += size;
  ++c->body_calls;
  return SMFIS_CONTINUE;
}
sfsistat t_eom(SMFICTX* ctx) {
  Counts* c = counts(ctx);
  std::string seen = "headers=" + std::to_string(c->headers) + " body=" + std::to_string(c->body_bytes) +
                     " calls=" + std::to_string(c->body_calls) + " auth=" + c->auth;
  smfi_insheader(ctx, 0, const_cast<char*>("X-Seen"), seen.data());
  if (c->subject == "later") {
    smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"),
                  const_cast<char*>("try again"));
    return SMFIS_TEMPFAIL;
  }
  if (c->subject == "hold") smfi_quarantine(ctx, const_cast<char*>("held for review"));
  if (c->subject == "delete") smfi_chgheader(ctx, const_cast<char*>("Subject"), 1, nullptr);
  if (c->subject == "discard") return SMFIS_DISCARD;
  return SMFIS_ACCEPT;
}
sfsistat t_close(SMFICTX* ctx) {
  delete counts(ctx);
  smfi_setpriv(ctx, nullptr);
  return SMFIS_CONTINUE;
}

std::string g_socket;

class LibmilterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    char tmpl[] = "/tmp/mb-libmilter-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    g_socket = dir_ + "/m.sock";
    static char name[] = "interop";
    smfiDesc desc{};
    desc.xxfi_name = name;
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
    desc.xxfi_connect = t_connect;
    desc.xxfi_envfrom = t_envfrom;
    desc.xxfi_header = t_header;
    desc.xxfi_body = t_body;
    desc.xxfi_eom = t_eom;
    desc.xxfi_close = t_close;
    ASSERT_EQ(smfi_register(desc), MI_SUCCESS);
    std::string conn = "unix:" + g_socket;
    ASSERT_EQ(smfi_setconn(conn.data()), MI_SUCCESS);
    ASSERT_EQ(smfi_opensocket(true), MI_SUCCESS);
    std::thread([] { smfi_main(); }).detach();  // runs until the process exits
  }
  void TearDown() override {
    smfi_stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  std::string dir_;
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new LibmilterEnvironment);

Envelope envelope(const std::string& from = "alice@example.org") {
  Envelope e;
  e.mail_from = from;
  e.recipients = {"bob@example.net"};
  return e;
}

std::vector<mail::HeaderField> headers(const std::string& subject) {
  return {{"From", " alice@example.org"}, {"Subject", " " + subject}};
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(session.connect(g_socket, error)) << error;
    ASSERT_TRUE(session.negotiate(error)) << error;
  }
  void TearDown() override { session.quit(); }
  Session session;
};

TEST_F(Interop, NegotiatesWhatLibmilterWants) {
  const Negotiation& n = session.negotiated();
  EXPECT_EQ(n.version, 6u);
  EXPECT_EQ(n.actions, action_flag::add_headers | action_flag::change_headers | action_flag::quarantine);
  // libmilter leaves out the steps it has no callback for: HELO, RCPT, EOH, DATA, UNKNOWN.
  EXPECT_TRUE(n.protocol & protocol_flag::no_helo);
  EXPECT_TRUE(n.protocol & protocol_flag::no_rcpt);
  EXPECT_FALSE(n.protocol & protocol_flag::no_body);
}

TEST_F(Interop, BodyChunksHeadersAndMacrosArriveIntact) {
  std::string body = "line one\r\n"s + std::string(200000, 'b') + "\0nul\r\n"s;
  Envelope e = envelope();
  e.auth_authen = "alice";
  Result r = session.send_message(e, headers("hi"), body);
  ASSERT_EQ(r.outcome, Outcome::accept) << r.detail;
  ASSERT_EQ(r.edits.size(), 1u);
  EXPECT_EQ(r.edits[0], (HeaderEdit{HeaderEdit::Kind::insert, 0, "X-Seen",
                                    "headers=2 body=" + std::to_string(body.size()) +
                                        " calls=4 auth=alice"}));
}

TEST_F(Interop, RepliesOfEveryKind) {
  struct Case {
    const char* what;
    std::string from;
    std::string subject;
    Outcome outcome;
    Stage stage;
    std::string reply;
    std::size_t edits;
  };
  const Case cases[] = {
      {"reject at MAIL", "reject@example.org", "x", Outcome::reject, Stage::mail, "550 5.7.1 no thanks", 0},
      {"accept after a reject", "alice@example.org", "x", Outcome::accept, Stage::eom, "", 1},
      {"tempfail at EOM", "alice@example.org", "later", Outcome::tempfail, Stage::eom,
       "451 4.3.0 try again", 1},
      {"discard", "alice@example.org", "discard", Outcome::discard, Stage::eom, "", 1},
      {"delete a header", "alice@example.org", "delete", Outcome::accept, Stage::eom, "", 2},
      {"empty body", "alice@example.org", "x", Outcome::accept, Stage::eom, "", 1},
  };
  for (const Case& c : cases) {
    Result r = session.send_message(envelope(c.from), headers(c.subject), "");
    EXPECT_EQ(r.outcome, c.outcome) << c.what << ": " << r.detail;
    EXPECT_EQ(r.stage, c.stage) << c.what;
    EXPECT_EQ(r.reply, c.reply) << c.what;
    EXPECT_EQ(r.edits.size(), c.edits) << c.what;
  }
}

TEST_F(Interop, Quarantine) {
  Result r = session.send_message(envelope(), headers("hold"), "x\r\n");
  ASSERT_EQ(r.outcome, Outcome::accept) << r.detail;
  ASSERT_TRUE(r.quarantine_reason.has_value());
  EXPECT_EQ(*r.quarantine_reason, "held for review");
}

TEST_F(Interop, OversizedCommandMakesLibmilterDropTheConnection) {
  // libmilter refuses packets of MILTER_MAX_DATA_SIZE (65535) bytes or more unless a larger size
  // was negotiated: a 1 MB header line ends the connection, it does not get a reply.
  Result r = session.send_message(envelope(), {{"X-Big", " " + std::string(1 << 20, 'h')}}, "");
  EXPECT_EQ(r.outcome, Outcome::io_error) << to_string(r.outcome);
  EXPECT_EQ(r.stage, Stage::header);
  std::string error;
  ASSERT_TRUE(session.connect(g_socket, error)) << error;
  ASSERT_TRUE(session.negotiate(error)) << error;
  r = session.send_message(envelope(), headers("x"), "ok\r\n");
  EXPECT_EQ(r.outcome, Outcome::accept) << r.detail;
}

}  // namespace
}  // namespace mailward::milter_client
