// The Postfix socketmap protocol (socketmap_table(5), originally Sendmail's): each request and
// each reply is a netstring (`LEN:DATA,` with LEN in decimal, as in djb's netstrings).
//   request:  "<name> <key>"                     e.g. "relayhost @ex.org"
//   reply:    "OK <data>" | "NOTFOUND " | "TEMP <reason>" | "TIMEOUT <reason>" | "PERM <reason>"
// Postfix limits a reply to 100000 bytes; we accept requests up to `max_request` bytes.
//
// SocketmapParser is pure and incremental like RequestParser: bytes in, (name, key) pairs out; a
// malformed netstring is an error after which nothing more is accepted (the daemon answers
// "PERM malformed request" and closes).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailward::policy {

struct SocketmapQuery {
  std::string name;  // the map name in `socketmap:unix:PATH:NAME`
  std::string key;
};

class SocketmapParser {
 public:
  explicit SocketmapParser(std::size_t max_request = 10000) : max_(max_request) {}
  // Returns false on a malformed netstring (failed() then stays true; detail() says why).
  bool feed(std::string_view bytes, std::vector<SocketmapQuery>& out);
  bool failed() const noexcept { return failed_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  bool fail(std::string detail);
  std::size_t max_;
  std::string buf_;
  bool failed_ = false;
  std::string detail_;
};

// Netstring encoding of a reply payload: "OK value" -> "8:OK value,".
std::string netstring(std::string_view payload);

}  // namespace mailward::policy
