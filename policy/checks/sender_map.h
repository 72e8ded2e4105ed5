// The sender ownership table: which SASL users may use which envelope senders. Postfix `key value`
// style (like smtpd_sender_login_maps in a hash: table):
//   # comment
//   alice@ex.org        alice@ex.org, alice      an address and its owners
//   sales@ex.org        alice@ex.org bob@ex.org  an alias several users may send as
//   @ex.org             admin@ex.org             a whole domain
// A line starting with white space continues the previous one (postmap(1) style). Keys and owners
// are compared ASCII-case-insensitively.
//
// Interpretation: Postfix's own lookup stops at the first key found (address, then @domain). We
// take the union: a user owns a sender if listed for the address OR for its @domain, so a domain
// administrator may also send as addresses that have their own entry. Documented in the README.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mailward::policy {

class SenderMap {
 public:
  // Parses the table; false with `error` ("FILE:LINE: problem") on the first bad line.
  static bool parse(std::string_view text, const std::string& file_name, SenderMap& out,
                    std::string& error);
  static bool load_file(const std::string& path, SenderMap& out, std::string& error);

  // True when `user` may use `sender`. `delimiter` ('\0' for none) strips an address extension
  // (alice+tag@ex.org -> alice@ex.org) before the lookup.
  bool owns(std::string_view user, std::string_view sender, char delimiter) const;
  std::size_t size() const noexcept { return owners_.size(); }

 private:
  std::unordered_map<std::string, std::vector<std::string>> owners_;  // lowercase key -> owners
};

}  // namespace mailward::policy
