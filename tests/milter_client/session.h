// A blocking milter session over a unix socket: the MTA's side of protocol 6, in the order Postfix
// sends it (milter8.c), for tests and benchmarks that drive a milter daemon without Postfix.
//
//   Session s;                                   // Options: what we offer, timeouts, chunk size
//   s.connect("/run/x/milter.sock", error);      // then
//   s.negotiate(error);                          // OPTNEG: s.negotiated() holds what was agreed
//   Result r = s.send_message(envelope, headers, body);   // any number of times
//   s.quit();
//
// send_message() sends, on the first message of a connection, the macros for CONNECT ("j",
// "{daemon_name}", "v", "_"), CONNECT and HELO; then per message MAIL (macros "i",
// "{auth_authen}" when authenticated, "{mail_addr}"), RCPT per recipient ("{rcpt_addr}"), DATA if
// not refused, each HEADER, EOH, BODY chunks of at most Options::body_chunk bytes, BODYEOB ("i"),
// and reads every reply the negotiated protocol says will come. Steps the milter asked to skip
// (SMFIP_NO*) are not sent; replies it asked to leave out (SMFIP_NR_*) are not awaited.
// A message that ends before BODYEOB (reject at MAIL, accept at a header...) is followed by ABORT,
// so the session can carry the next message, as Postfix does.
//
// Nothing throws: every failure is an Outcome plus a detail string.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mail/message.h"
#include "tests/milter_client/codec.h"

namespace mailward::milter_client {

struct Envelope {
  std::string client_name = "client.example";  // reverse DNS name ("unknown" in Postfix if none)
  Family family = Family::inet;
  std::string client_address = "192.0.2.10";
  std::uint16_t client_port = 40000;
  std::string helo = "client.example";
  std::string mail_from;  // without angle brackets; "" for the null reverse-path
  std::vector<std::string> recipients;  // without angle brackets
  std::string auth_authen;              // {auth_authen}; empty: not authenticated (macro not sent)
  std::string queue_id = "4QUEUEID01";  // macro "i"
};

enum class Outcome {
  accept,           // SMFIR_ACCEPT, or CONTINUE at end of message: deliver (with the edits)
  reject,           // SMFIR_REJECT or a 5xx REPLYCODE
  tempfail,         // SMFIR_TEMPFAIL or a 4xx REPLYCODE
  discard,          // SMFIR_DISCARD
  connection_fail,  // SMFIR_CONN_FAIL or SMFIR_SHUTDOWN: the milter ends the connection
  protocol_error,   // a reply that is malformed, unknown, or not allowed at this point
  io_error,         // the socket closed, failed, or timed out (detail says which)
};
std::string_view to_string(Outcome outcome) noexcept;

enum class Stage { connect, helo, mail, rcpt, data, header, eoh, body, eom };
std::string_view to_string(Stage stage) noexcept;

struct HeaderEdit {
  enum class Kind { add, insert, change };  // ADDHEADER, INSHEADER, CHGHEADER ("" value: delete)
  Kind kind = Kind::add;
  std::uint32_t index = 0;
  std::string name;
  std::string value;
  friend bool operator==(const HeaderEdit&, const HeaderEdit&) = default;
};

struct Result {
  Outcome outcome = Outcome::protocol_error;
  Stage stage = Stage::connect;     // the step whose reply decided
  std::string reply;                // REPLYCODE text ("550 5.7.1 ..."), empty if none was sent
  std::vector<HeaderEdit> edits;    // in the order received
  std::optional<std::string> quarantine_reason;
  std::vector<std::string> added_recipients;
  std::vector<std::string> deleted_recipients;
  std::optional<std::string> new_sender;
  std::optional<std::string> new_body;  // REPLBODY chunks joined
  unsigned progress = 0;                // SMFIR_PROGRESS packets seen
  unsigned rejected_recipients = 0;
  std::string detail;                   // protocol or I/O error, for messages
};

enum class ReadStatus { ok, closed, timeout, io_error, bad_packet };
struct ReadResult {
  ReadStatus status = ReadStatus::io_error;
  Reply reply;
  std::string detail;
};

class Session {
 public:
  struct Options {
    std::uint32_t actions = action_flag::all;
    std::uint32_t protocol = protocol_flag::postfix_offer;
    std::chrono::milliseconds timeout{30000};  // per read or write
    std::size_t body_chunk = kBodyChunkSize;
    std::size_t max_reply_size = 1024 * 1024;  // a longer reply packet is a protocol error
    std::string daemon_name = "mx.example.net";  // macro "j"
    // Header values are sent as Postfix does: folds as "\n\t"-style LF, and the leading space
    // after the colon removed unless the milter negotiated SMFIP_HDR_LEADSPC.
  };

  Session();
  explicit Session(Options options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  bool connect(const std::string& socket_path, std::string& error);
  bool negotiate(std::string& error);
  const Negotiation& negotiated() const noexcept { return negotiated_; }
  bool is_open() const noexcept { return fd_ >= 0; }

  Result send_message(const Envelope& envelope, const std::vector<mail::HeaderField>& headers,
                      std::string_view body);
  // Sends QUIT (best effort) and closes.
  void quit();
  void close();

  // Low level, for hostile-input tests: raw bytes out, one reply packet in.
  bool write_raw(std::string_view bytes, std::string& error);
  ReadResult read_reply();
  // Waits up to `timeout` for the peer to close; true if it did (EOF or reset).
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  struct StepReply;
  bool send(Stage stage, std::string_view bytes, Result& result);
  // Reads the reply to one step; true when the message goes on (CONTINUE, or no reply expected).
  bool await_step(Stage stage, bool reply_expected, Result& result);
  void finish_early(Result& result);
  Result connect_steps(const Envelope& envelope);

  Options options_;
  int fd_ = -1;
  std::string inbuf_;
  Negotiation negotiated_;
  bool connection_sent_ = false;
};

}  // namespace mailward::milter_client
