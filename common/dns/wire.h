// DNS wire format (RFC 1035 §4): building one query and decoding the reply into a dns::Answer.
//
// Pure functions, no I/O; decode_response() is the parser that faces the network, so it is fuzzed
// (dns_message) and must stay total: any byte string gives a value, never a crash, a hang or an
// exception. What the decoder does with a reply:
//   - header and question are checked first: QR set, QDCOUNT 1, class IN, and the question name and
//     type equal to what was asked (ASCII case-insensitively, RFC 4343 §3). A reply that fails these
//     is *mismatched* (question_matches == false): the stub ignores it, as a spoofed datagram;
//   - RCODE 3 → nxdomain; RCODE 0 → CNAME chain inside the answer section followed from the question
//     name (at most kMaxCnameLinks links, a loop is a server failure) and the records of the asked
//     type owned by the final name collected; any other RCODE, or a malformed section, → server_failure;
//   - TTL: smallest TTL over the records used (CNAMEs included); for NXDOMAIN and NODATA the negative
//     TTL of RFC 2308 §5 (min of the SOA record's TTL and its MINIMUM field) when the authority section
//     has an SOA, else 0; capped at kMaxNegativeTtl. TTLs with the top bit set count as 0 (RFC 2181 §8).
// Names come out lowercased without the trailing dot; a '.' or '\' byte inside a label is written
// "\." / "\\" (RFC 4343 §2.1) so that text names never confuse label boundaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/dns/resolver.h"

namespace mailward::dns {

inline constexpr std::uint16_t kEdnsUdpSize = 1232;        // DNS flag day 2020 recommendation
inline constexpr unsigned kMaxCnameLinks = 16;
inline constexpr std::uint32_t kMaxNegativeTtl = 10800;     // RFC 2308 §5: "one to three hours"

// A query with RD set for `name` (trailing dot optional; "" or "." is the root). With `edns`, an OPT
// record (RFC 6891 §6) advertises kEdnsUdpSize. Returns an empty vector when `name` is not a valid
// DNS name (empty label, label over 63 bytes, name over 255 bytes in wire form).
std::vector<std::uint8_t> encode_query(std::uint16_t id, std::string_view name, RecordType type,
                                       bool edns);

struct DecodedResponse {
  std::uint16_t id = 0;
  bool truncated = false;            // TC bit
  unsigned rcode = 0;                // header RCODE (4 bits)
  std::string question_name;         // as echoed by the server, normalised
  RecordType question_type{};        // as echoed by the server
  // True when the header and question parsed and match what was asked: QR=1, QDCOUNT=1, class IN,
  // same name and type. The message id is not checked here (the caller knows it).
  bool question_matches = false;
  Answer answer;                     // the outcome; meaningful when question_matches
  std::string error;                 // why the message is unusable (malformed or mismatched); else ""
};

DecodedResponse decode_response(const std::uint8_t* data, std::size_t size,
                                std::string_view expected_name, RecordType expected_type);

}  // namespace mailward::dns
