// The DNS interface every mail-authentication library in mailward asks through.
//
// SPF, DKIM and DMARC never open sockets: they are handed a Resolver. Production code uses
// dns::StubResolver (wire protocol to configured servers) wrapped in dns::CachingResolver;
// tests use dns::StaticResolver (names and records from plain maps).
//
// Outcomes follow what the RFCs need to tell apart:
//   ok + records       an answer;
//   ok + no records    NODATA (the name exists, not this type): a "void lookup" in RFC 7208 §4.6.4;
//   nxdomain           RCODE 3: also a void lookup;
//   server_failure     any other RCODE, or a malformed reply: a temporary error for SPF/DKIM/DMARC;
//   timeout            no reply within the configured time and retries: a temporary error too.
// Implementations must be safe to call from several threads at once (libmilter's worker pool).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/ip_address.h"

namespace mailward::dns {

enum class RecordType : std::uint16_t {
  a = 1,
  ns = 2,
  cname = 5,
  ptr = 12,
  mx = 15,
  txt = 16,
  aaaa = 28,
};

enum class Status : std::uint8_t { ok, nxdomain, server_failure, timeout };

std::string_view to_string(RecordType type) noexcept;
std::string_view to_string(Status status) noexcept;

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;  // normalised: lowercase, no trailing dot
  friend bool operator==(const MxRecord&, const MxRecord&) = default;
};

struct Answer {
  Status status = Status::ok;
  // TXT: one entry per record, its character-strings concatenated without separators
  // (RFC 7208 §3.3, RFC 6376 §3.6.2.2). Bytes are passed through unchanged.
  std::vector<std::string> texts;
  std::vector<net::IpAddress> addresses;  // A or AAAA
  std::vector<MxRecord> mx;
  std::vector<std::string> names;  // PTR, NS or CNAME targets, normalised
  std::uint32_t ttl = 0;           // smallest TTL in the answer (negative TTL for nxdomain/NODATA)
  std::string error;               // what went wrong, for logs; empty when status is ok

  bool has_records() const noexcept {
    return !texts.empty() || !addresses.empty() || !mx.empty() || !names.empty();
  }
  // RFC 7208 §4.6.4: NXDOMAIN or an empty answer.
  bool is_void() const noexcept {
    return status == Status::nxdomain || (status == Status::ok && !has_records());
  }
  bool is_temporary_failure() const noexcept {
    return status == Status::server_failure || status == Status::timeout;
  }

  static Answer failure(Status status, std::string error) {
    Answer a;
    a.status = status;
    a.error = std::move(error);
    return a;
  }
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // `name` may carry a trailing dot and any letter case; CNAME chains are followed by the
  // implementation (the records of the final name are returned).
  virtual Answer lookup(std::string_view name, RecordType type) = 0;
};

}  // namespace mailward::dns
