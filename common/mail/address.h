// RFC 5322 addresses: the address-list / mailbox-list grammar of From, Sender, To and Cc (§3.4),
// and the domain of an RFC 5321 envelope path (§4.1.2).
//
// parse_address_list() accepts what RFC 5322 §3.4 allows plus the obsolete forms of §4.4 that real
// mail still carries (empty list elements, source routes in angle brackets, CFWS around dots,
// obs-phrase with dots), nested comments, quoted strings, domain literals, groups (members are
// flattened into the list), and UTF-8 in atoms and quoted strings (RFC 6532 §3.2). It never decodes
// RFC 2047 encoded words. Work is bounded: input longer than kMaxAddressListBytes, more than
// kMaxMailboxes mailboxes or comments nested deeper than kMaxCommentDepth are errors. Nothing throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailward::mail {

inline constexpr std::size_t kMaxAddressListBytes = 65536;
inline constexpr std::size_t kMaxMailboxes = 1024;
inline constexpr std::size_t kMaxCommentDepth = 32;

struct Mailbox {
  std::string display_name;  // phrase words joined by single spaces, quoted strings unquoted; may be empty
  std::string local_part;    // as written, CFWS removed; a quoted local part keeps its quotes and escapes
  std::string domain;        // lowercased; a domain literal keeps its brackets ("[192.0.2.1]")
  // local_part "@" domain
  std::string address() const { return local_part + "@" + domain; }
  friend bool operator==(const Mailbox&, const Mailbox&) = default;
};

struct AddressList {
  std::vector<Mailbox> mailboxes;  // on error: the mailboxes parsed before the error (informative only)
  std::string error;               // empty when the whole value parsed
  bool ok() const { return error.empty(); }
};

// RFC 5322 §3.4 address-list (a mailbox-list is a subset of it) from an unfolded header value; CR and
// LF left in the value are treated as folding whitespace.
AddressList parse_address_list(std::string_view value);

// An SMTP envelope path ("<a@b>", "a@b", "<@relay:a@b>", "<>") -> its domain, lowercased, without a
// trailing dot; "" for the null path and for a path without '@' (RFC 5321 §4.1.2, §4.5.5).
std::string envelope_domain(std::string_view path);

}  // namespace mailward::mail
