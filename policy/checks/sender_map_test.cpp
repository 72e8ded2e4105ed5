// Tests for the sender ownership table.
#include "policy/checks/sender_map.h"

#include <gtest/gtest.h>

namespace mailward::policy {
namespace {

const char* kMap =
    "# senders\n"
    "alice@ex.org      alice@ex.org, alice\n"
    "sales@ex.org      alice@ex.org bob@ex.org\n"
    "Info@Ex.Org       bob@ex.org,\n"
    "   carol@ex.org\n"
    "@admin.ex.org     root@ex.org\n"
    "@ex.org           admin@ex.org\n";

TEST(SenderMap, Ownership) {
  SenderMap m;
  std::string error;
  ASSERT_TRUE(SenderMap::parse(kMap, "senders", m, error)) << error;
  EXPECT_EQ(m.size(), 5u);
  struct Case {
    const char* user;
    const char* sender;
    char delimiter;
    bool owns;
  };
  const std::vector<Case> cases = {
      {"alice@ex.org", "alice@ex.org", '\0', true},
      {"alice", "alice@ex.org", '\0', true},
      {"ALICE@EX.ORG", "Alice@Ex.Org", '\0', true},
      {"alice@ex.org", "sales@ex.org", '\0', true},
      {"bob@ex.org", "sales@ex.org", '\0', true},
      {"bob@ex.org", "alice@ex.org", '\0', false},
      {"carol@ex.org", "info@ex.org", '\0', true},  // continuation line
      {"admin@ex.org", "alice@ex.org", '\0', true},  // domain owner, union with the address
      {"admin@ex.org", "anyone@ex.org", '\0', true},
      {"admin@ex.org", "x@admin.ex.org", '\0', false},  // @domain does not cover subdomains
      {"root@ex.org", "x@admin.ex.org", '\0', true},
      {"alice@ex.org", "alice+tag@ex.org", '+', true},
      {"alice@ex.org", "alice+tag@ex.org", '\0', false},
      {"alice@ex.org", "alice@other.example", '\0', false},
      {"alice@ex.org", "alice", '\0', false},
      {"alice@ex.org", "@ex.org", '\0', false},
      {"", "alice@ex.org", '\0', false},
  };
  for (const Case& c : cases)
    EXPECT_EQ(m.owns(c.user, c.sender, c.delimiter), c.owns) << c.user << " " << c.sender;
}

TEST(SenderMap, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"alice@ex.org\n", "f:1: expected"},
      {"# c\n\nalice ex\n", "f:3: key 'alice' is not an address"},
      {"  alice@ex.org alice\n", "f:1: continuation line without a key"},
      {"a@b@c x\n", "not an address"},
      {"ex.org@ x\n", "not an address"},
  };
  for (const auto& [text, expected] : cases) {
    SenderMap m;
    std::string error;
    EXPECT_FALSE(SenderMap::parse(text, "f", m, error)) << text;
    EXPECT_NE(error.find(expected), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace mailward::policy
