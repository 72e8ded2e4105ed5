// Tests for the DKIM key-record parser (RFC 6376 §3.6.1, RFC 8463 §4).
#include "milters/auth/dkim/key_record.h"

#include <gtest/gtest.h>

namespace mailward::dkim {
namespace {

struct KeyCase {
  const char* text;
  KeyRecordError error;
  KeyType type = KeyType::rsa;
  bool testing = false;
  bool strict = false;
};

TEST(DkimKeyRecord, Table) {
  const KeyCase cases[] = {
      {"v=DKIM1; k=rsa; p=YWJj", KeyRecordError::ok},
      {"p=YWJj", KeyRecordError::ok},  // v= and k= optional, k defaults to rsa
      {"v=DKIM1; k=ed25519; p=YWJj", KeyRecordError::ok, KeyType::ed25519},
      {"v=DKIM1; t=y; p=YWJj", KeyRecordError::ok, KeyType::rsa, true},
      {"v=DKIM1; t=s:y; p=YWJj", KeyRecordError::ok, KeyType::rsa, true, true},
      {"v=DKIM1; t=y:n:extra; p=YWJj", KeyRecordError::ok, KeyType::rsa, true},
      {"v=DKIM1; s=email:web; p=YWJj", KeyRecordError::ok},
      {"v=DKIM1; s=*; p=YWJj", KeyRecordError::ok},
      {"v=DKIM1; s=tlsrpt; p=YWJj", KeyRecordError::not_for_email},
      {"v=DKIM1; s=chat; p=YWJj", KeyRecordError::not_for_email},
      {"v=DKIM3; p=YWJj", KeyRecordError::bad_version},
      {"v=DKIM1: g=*; k=rsa; p=YWJj", KeyRecordError::bad_version},  // dkimpy badversion.txt
      {"k=rsa; t; p=YWJj", KeyRecordError::syntax},
      {"v=DKIM1; k=foobar; p=YWJj", KeyRecordError::unsupported_key_type},
      {"v=DKIM1; k=ed25519-sha256; p=YWJj", KeyRecordError::unsupported_key_type},
      {"v=DKIM1; p=", KeyRecordError::revoked},
      {"k=rsa; t=y; p= ", KeyRecordError::revoked},
      {"v=DKIM1; k=rsa", KeyRecordError::syntax},
      {"v=DKIM1; p=YW!j", KeyRecordError::bad_base64},
      {"v=DKIM1; n=notes here; x1 = extra ; p=YW Jj", KeyRecordError::ok},
      {"", KeyRecordError::syntax},
  };
  for (const auto& c : cases) {
    KeyRecordParse p = parse_key_record(c.text);
    EXPECT_EQ(p.error, c.error) << c.text << " -> " << p.detail;
    if (p.ok()) {
      EXPECT_EQ(p.record.type, c.type) << c.text;
      EXPECT_EQ(p.record.testing, c.testing) << c.text;
      EXPECT_EQ(p.record.strict, c.strict) << c.text;
      EXPECT_EQ(p.record.public_key, "abc") << c.text;
    }
  }
}

TEST(DkimKeyRecord, Hashes) {
  KeyRecordParse p = parse_key_record("v=DKIM1; h=sha1:SHA256; p=YWJj");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.record.allows_hash("sha256"));
  KeyRecordParse q = parse_key_record("v=DKIM1; h=sha1; p=YWJj");
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q.record.allows_hash("sha256"));
  KeyRecordParse r = parse_key_record("v=DKIM1; p=YWJj");
  EXPECT_TRUE(r.record.allows_hash("sha256"));
}

}  // namespace
}  // namespace mailward::dkim
