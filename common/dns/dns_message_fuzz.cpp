// Fuzz target dns_message: decode_response over arbitrary bytes must never crash, hang or throw,
// and must keep its own invariants. The first input byte picks the expected question type; the
// rest is the message. Also a round trip: a query built from the input's bytes as a name, with QR
// set, decodes as a matching, empty, ok response for that name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/dns/wire.h"

using namespace mailward::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr RecordType kTypes[] = {RecordType::a,   RecordType::aaaa, RecordType::mx,
                                          RecordType::txt, RecordType::ptr,  RecordType::ns,
                                          RecordType::cname};
  if (size == 0) {
    decode_response(data, size, "example.com", RecordType::a);
    return 0;
  }
  RecordType type = kTypes[data[0] % 7];
  DecodedResponse d = decode_response(data + 1, size - 1, "example.com", type);
  if (!d.question_matches && d.error.empty()) std::abort();
  if (!d.error.empty() && d.answer.status != Status::server_failure) std::abort();
  if (d.answer.status == Status::server_failure && d.answer.error.empty()) std::abort();
  if (d.answer.status == Status::nxdomain && d.answer.has_records()) std::abort();
  if (d.answer.status != Status::ok && d.answer.status != Status::nxdomain && d.answer.has_records())
    std::abort();
  // Any name in the answer for this question type is of the field that type fills.
  if (type != RecordType::txt && !d.answer.texts.empty()) std::abort();

  // Round trip: the input as a dotted name (only when it encodes).
  std::string name(reinterpret_cast<const char*>(data + 1), size - 1 > 300 ? 300 : size - 1);
  std::vector<std::uint8_t> q = encode_query(0x1234, name, type, (data[0] & 0x80) != 0);
  if (!q.empty()) {
    q[2] |= 0x80;  // QR: make it a response with no records
    DecodedResponse r = decode_response(q.data(), q.size(), name, type);
    // A name whose labels hold '.' or '\' bytes cannot be written in text form unambiguously;
    // only names without those bytes must round-trip.
    bool plain = name.find('\\') == std::string::npos;
    if (plain && (!r.question_matches || r.id != 0x1234 || r.answer.status != Status::ok ||
                  r.answer.has_records()))
      std::abort();
  }
  return 0;
}
