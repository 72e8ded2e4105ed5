#include "milters/milter/authres.h"

#include <gtest/gtest.h>

using namespace mailward::milter;

TEST(AuthResults, FormatsEntriesOnFoldedLines) {
  std::vector<AuthResultEntry> entries{
      {"spf", "pass", "", {{"smtp.mailfrom", "bob@example.com"}}},
      {"dkim", "fail", "body hash mismatch", {{"header.d", "example.com"}, {"header.s", "s1"}}},
      {"dmarc", "pass", "p=reject dis=none", {{"header.from", "example.com"}}},
  };
  EXPECT_EQ(format_authentication_results("mx.example.net", entries),
            " mx.example.net;\r\n\tspf=pass smtp.mailfrom=bob@example.com;\r\n"
            "\tdkim=fail (body hash mismatch) header.d=example.com header.s=s1;\r\n"
            "\tdmarc=pass (p=reject dis=none) header.from=example.com");
  EXPECT_EQ(format_authentication_results("mx", {}), " mx; none");
}

TEST(AuthResults, QuotesValuesAndDefusesComments) {
  EXPECT_EQ(property_value("a b"), "\"a b\"");
  EXPECT_EQ(property_value("x\"y"), "\"x\\\"y\"");
  EXPECT_EQ(property_value("example.com"), "example.com");
  EXPECT_EQ(property_value(""), "\"\"");
  // A hostile reason cannot close the comment early and forge a result.
  std::string v = format_authentication_results("mx", {{"dkim", "fail", "x) dkim=pass (", {}}});
  EXPECT_EQ(v, " mx;\r\n\tdkim=fail (x  dkim=pass  )");
}

TEST(AuthResults, ReadsAuthservId) {
  EXPECT_EQ(authserv_id_of(" mx.example.net; spf=pass"), "mx.example.net");
  EXPECT_EQ(authserv_id_of(" (comment (nested)) MX.Example.NET 1; none"), "mx.example.net");
  EXPECT_EQ(authserv_id_of("\r\n\tmx.example.net;"), "mx.example.net");
  EXPECT_EQ(authserv_id_of(" \"quoted.id\"; none"), "quoted.id");
  EXPECT_EQ(authserv_id_of(" (unterminated comment mx.example.net;"), "");
  EXPECT_EQ(authserv_id_of(""), "");
}
