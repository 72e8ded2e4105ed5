// The milter protocol, version 6, as the MTA speaks it: a pure codec (no I/O).
//
// Wire format (libmilter's mfdef.h and Postfix's milter8.c describe the same thing): every packet is
// a 4-byte big-endian length, then one command or reply byte, then length - 1 bytes of payload.
// Strings in payloads are NUL-terminated; 32-bit integers are big-endian.
//
//   encode_*()      build the MTA's command packets (OPTNEG, MACRO, CONNECT, HELO, MAIL, RCPT,
//                   DATA, HEADER, EOH, BODY, BODYEOB, ABORT, QUIT, QUIT_NC, UNKNOWN);
//   decode_frame()  splits one packet off the front of a byte buffer (need_more when incomplete);
//   parse_reply()   reads a reply packet's payload into a Reply (every SMFIR_* code);
//   encode_reply()  the inverse, for fake milters in tests and for the fuzzer's round trip.
//
// Errors are values: a DecodeStatus and a detail string, never an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailward::milter_client {

inline constexpr std::uint32_t kProtocolVersion = 6;
// libmilter refuses (drops the connection on) any packet of this size or more unless a larger
// size was negotiated (SMFIP_MDS_256K / SMFIP_MDS_1M).
inline constexpr std::size_t kDefaultMaxDataSize = 65535;
inline constexpr std::size_t kBodyChunkSize = 65535;  // MILTER_CHUNK_SIZE

namespace command {
inline constexpr char abort = 'A', body = 'B', connect = 'C', macro = 'D', body_eob = 'E',
                      helo = 'H', quit_nc = 'K', header = 'L', mail = 'M', eoh = 'N',
                      optneg = 'O', quit = 'Q', rcpt = 'R', data = 'T', unknown = 'U';
}

// Action flags (SMFIF_*): what the milter may do at end of message.
namespace action_flag {
inline constexpr std::uint32_t add_headers = 0x01, change_body = 0x02, add_rcpt = 0x04,
                               delete_rcpt = 0x08, change_headers = 0x10, quarantine = 0x20,
                               change_from = 0x40, add_rcpt_with_args = 0x80,
                               set_symbol_list = 0x100;
inline constexpr std::uint32_t all = 0x1FF;
}  // namespace action_flag

// Protocol flags (SMFIP_*): steps the MTA leaves out, replies the milter leaves out.
namespace protocol_flag {
inline constexpr std::uint32_t no_connect = 0x1, no_helo = 0x2, no_mail = 0x4, no_rcpt = 0x8,
                               no_body = 0x10, no_headers = 0x20, no_eoh = 0x40,
                               no_header_reply = 0x80, no_unknown = 0x100, no_data = 0x200,
                               skip = 0x400, rcpt_rejected = 0x800, nr_connect = 0x1000,
                               nr_helo = 0x2000, nr_mail = 0x4000, nr_rcpt = 0x8000,
                               nr_data = 0x10000, nr_unknown = 0x20000, nr_eoh = 0x40000,
                               nr_body = 0x80000, header_leading_space = 0x100000,
                               mds_256k = 0x10000000, mds_1m = 0x20000000;
// What Postfix 3.7 offers in protocol 6 (milter8.c: every step may be skipped, every reply may be
// left out, SKIP understood, leading space kept on request).
inline constexpr std::uint32_t postfix_offer = 0x1FFFFF;
}  // namespace protocol_flag

// Macro stages for the symbol lists a milter may ask for in its OPTNEG reply (SMFIM_*).
enum class MacroStage : std::uint32_t { connect = 0, helo = 1, envfrom = 2, envrcpt = 3, data = 4,
                                        eom = 5, eoh = 6 };

struct Negotiation {
  std::uint32_t version = kProtocolVersion;
  std::uint32_t actions = 0;
  std::uint32_t protocol = 0;
  // The milter's requested macro lists: (stage, space-separated names). Only in OPTNEG replies.
  std::vector<std::pair<std::uint32_t, std::string>> symbol_lists;
  friend bool operator==(const Negotiation&, const Negotiation&) = default;
};

enum class Family : char { unknown = 'U', unix_socket = 'L', inet = '4', inet6 = '6' };

// ---- commands (MTA -> milter) ------------------------------------------------------------------

std::string encode_frame(char code, std::string_view payload);
std::string encode_optneg(const Negotiation& offer);  // symbol_lists are not sent by the MTA
// Macros are sent right before the command they belong to; names go as given ("i", "{auth_authen}").
std::string encode_macros(char for_command,
                          const std::vector<std::pair<std::string, std::string>>& macros);
// For Family::unknown the port and address are left out, as libmilter expects.
std::string encode_connect(std::string_view hostname, Family family, std::uint16_t port,
                           std::string_view address);
std::string encode_helo(std::string_view name);
// args[0] is the address with angle brackets ("<a@b>", "<>"), then ESMTP parameters.
std::string encode_mail(const std::vector<std::string>& args);
std::string encode_rcpt(const std::vector<std::string>& args);
std::string encode_data();
std::string encode_header(std::string_view name, std::string_view value);
std::string encode_eoh();
std::string encode_body(std::string_view chunk);
std::string encode_body_eob();
std::string encode_abort();
std::string encode_quit();
std::string encode_quit_nc();
std::string encode_unknown(std::string_view smtp_command);

// ---- replies (milter -> MTA) -------------------------------------------------------------------

enum class ReplyCode : char {
  add_rcpt = '+', delete_rcpt = '-', add_rcpt_with_args = '2', shutdown = '4', accept = 'a',
  replace_body = 'b', continue_ = 'c', discard = 'd', change_from = 'e', connection_fail = 'f',
  add_header = 'h', insert_header = 'i', set_symbol_list = 'l', change_header = 'm',
  progress = 'p', quarantine = 'q', reject = 'r', skip = 's', tempfail = 't', reply_code = 'y',
  optneg = 'O'
};

bool is_known_reply_code(char c) noexcept;
std::string_view to_string(ReplyCode code) noexcept;

struct Reply {
  ReplyCode code = ReplyCode::continue_;
  // reply_code: "550 5.7.1 text" (may be multi-line, "\r\n"-separated); quarantine: the reason;
  // add/delete recipient: the address; change_from: the address; replace_body: the bytes.
  std::string text;
  std::string args;   // add_rcpt_with_args / change_from: the ESMTP parameters, if any
  std::string name;   // add/insert/change header
  std::string value;  // add/insert/change header (change with "" deletes the field)
  std::uint32_t index = 0;       // insert_header: position; change_header: 1-based occurrence
  std::uint32_t stage = 0;       // set_symbol_list
  Negotiation negotiation;       // optneg
  bool has_args = false;         // args present on the wire (add_rcpt_with_args, change_from)
  friend bool operator==(const Reply&, const Reply&) = default;
};

enum class DecodeStatus {
  ok,
  need_more,     // the buffer holds less than one whole packet
  oversized,     // the length field exceeds the limit: the stream cannot be trusted any further
  empty_frame,   // a length of 0 (no code byte)
  unknown_code,  // a code byte that is not an SMFIR_* reply
  malformed,     // the payload does not fit the code's layout
};
std::string_view to_string(DecodeStatus status) noexcept;

struct Frame {
  char code = 0;
  std::string payload;
};

struct FrameResult {
  DecodeStatus status = DecodeStatus::need_more;
  std::size_t consumed = 0;  // bytes of `buffer` the packet took (0 unless ok / unknown / malformed)
  Frame frame;
  std::string detail;
};
// Splits one packet off the front of `buffer`. A length above `max_size` is `oversized`.
FrameResult decode_frame(std::string_view buffer, std::size_t max_size);

struct ReplyResult {
  DecodeStatus status = DecodeStatus::ok;
  Reply reply;
  std::string detail;
};
ReplyResult parse_reply(const Frame& frame);

// The packet a milter would send for `reply` (fake milters in tests; the fuzzer's round trip).
std::string encode_reply(const Reply& reply);

// "550 5.7.1 text" -> true for 4xx and 5xx codes; the first digit decides the action (RFC 5321 §4.2).
bool reply_code_is_temporary(std::string_view reply_code_text) noexcept;

}  // namespace mailward::milter_client
