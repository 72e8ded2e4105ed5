// Tests for the tag-list parser (RFC 6376 §3.2) and the DKIM-Signature parser (§3.5).
#include "milters/auth/dkim/signature.h"

#include "milters/auth/dkim/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace mailward::dkim {
namespace {

TEST(DkimTagList, Table) {
  struct Case {
    const char* text;
    TagListError error;
    std::size_t count;
  };
  const Case cases[] = {
      {"", TagListError::ok, 0},
      {"a=1", TagListError::ok, 1},
      {"a=1;", TagListError::ok, 1},
      {" a = 1 ; b=2 ;\r\n\t", TagListError::ok, 2},
      {"a=", TagListError::ok, 1},
      {"a=1 2", TagListError::ok, 1},
      {"a=1;;b=2", TagListError::syntax, 0},
      {"a", TagListError::syntax, 0},
      {"1a=2", TagListError::syntax, 0},
      {"a=1; a=2", TagListError::duplicate, 0},
      {"a=1; A=2", TagListError::ok, 2},  // tag names are case-sensitive (§3.2)
      {"Z=1; z=1; Z=2", TagListError::duplicate, 0},
      {"ab=1; a=2; b=3", TagListError::ok, 3},
      {"ab=1; b=2; ab=3", TagListError::duplicate, 0},
      {"bh=1; b=2; bh_=3", TagListError::ok, 3},
      {"k=rsa; t; p=", TagListError::syntax, 0},
      {"v=DKIM1: g=*", TagListError::ok, 1},  // one tag v with value "DKIM1: g=*"
  };
  for (const auto& c : cases) {
    TagList tl = parse_tag_list(c.text);
    EXPECT_EQ(tl.error, c.error) << c.text;
    if (c.error == TagListError::ok) {
      EXPECT_EQ(tl.tags.size(), c.count) << c.text;
    }
  }
  TagList tl = parse_tag_list(" a = x  y ;b=\r\n\tz");
  ASSERT_EQ(tl.tags.size(), 2u);
  EXPECT_EQ(tl.tags[0].name, "a");
  EXPECT_EQ(tl.tags[0].value, "x  y");
  EXPECT_EQ(tl.tags[1].value, "z");
}

TEST(DkimTagList, WithoutBValue) {
  EXPECT_EQ(without_b_value(" a=1; b=AB\r\n CD; bh=xyz"), " a=1; b=; bh=xyz");
  EXPECT_EQ(without_b_value(" bh=xyz; b= AB "), " bh=xyz; b=  ");
  EXPECT_EQ(without_b_value(" a=1"), " a=1");
}

constexpr const char* kGood =
    " v=1; a=rsa-sha256; c=relaxed/simple; d=Example.COM; s=sel; h=From:To; bh=YWJj; b=ZGVm";

struct SigCase {
  std::string text;
  SignatureError error;
};

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

TEST(DkimSignature, Table) {
  const std::string g = kGood;
  const SigCase cases[] = {
      {g, SignatureError::ok},
      {replace(g, "v=1", "v=2"), SignatureError::bad_version},
      {replace(g, " v=1;", ""), SignatureError::missing_tag},
      {replace(g, " s=sel;", ""), SignatureError::missing_tag},
      {replace(g, "rsa-sha256", "rsa-md5"), SignatureError::unsupported_algorithm},
      {replace(g, "rsa-sha256", "rsa-sha1"), SignatureError::ok},  // parsed; refused later (RFC 8301)
      {replace(g, "rsa-sha256", "ed25519-sha256"), SignatureError::ok},
      {replace(g, "relaxed/simple", "future"), SignatureError::unsupported_canonicalization},
      {replace(g, "relaxed/simple", "relaxed/future"), SignatureError::unsupported_canonicalization},
      {replace(g, "h=From:To", "h=To:Subject"), SignatureError::from_not_signed},
      {replace(g, "h=From:To", "h=From::To"), SignatureError::syntax},
      {g + "; i=joe@sub.example.com", SignatureError::ok},
      {g + "; i=joe@example.org", SignatureError::identity_mismatch},
      {g + "; i=joe@badexample.com", SignatureError::identity_mismatch},
      {g + "; i=joe", SignatureError::syntax},
      {g + "; q=dns/txt", SignatureError::ok},
      {g + "; q=http", SignatureError::unsupported_query_method},
      {g + "; l=12", SignatureError::ok},
      {g + "; l=-1", SignatureError::syntax},
      {g + "; t=100; x=200", SignatureError::ok},
      {g + "; t=200; x=100", SignatureError::bad_timestamps},
      {g + "; t=abc", SignatureError::syntax},
      {replace(g, "bh=YWJj", "bh=!!"), SignatureError::bad_base64},
      {replace(g, "b=ZGVm", "b="), SignatureError::bad_base64},
      {g + "; b=x", SignatureError::syntax},  // duplicate tag
      {replace(g, "d=Example.COM", "d=exa mple.com"), SignatureError::bad_domain},
      {g + "; z=From:foo@example.com|To:bar@example.com", SignatureError::ok},
  };
  for (const auto& c : cases) {
    SignatureParse p = parse_signature(c.text);
    EXPECT_EQ(p.error, c.error) << c.text << " -> " << p.detail;
  }
}

TEST(DkimSignature, Fields) {
  SignatureParse p = parse_signature(std::string(kGood) + "; i=j=6Fe@Example.com; l=7; t=1; x=9");
  ASSERT_TRUE(p.ok()) << p.detail;
  const Signature& s = p.signature;
  EXPECT_EQ(s.domain, "example.com");
  EXPECT_EQ(s.selector, "sel");
  EXPECT_EQ(s.identity, "joe@Example.com");  // dkim-quoted-printable decoded (§2.11)
  EXPECT_EQ(s.identity_domain, "example.com");
  EXPECT_EQ(s.header_canon, Canon::relaxed);
  EXPECT_EQ(s.body_canon, Canon::simple);
  EXPECT_EQ(s.body_hash, "abc");
  EXPECT_EQ(s.signature, "def");
  ASSERT_EQ(s.signed_headers.size(), 2u);
  EXPECT_EQ(s.signed_headers[1], "To");
  EXPECT_EQ(s.body_length, 7u);
  EXPECT_EQ(s.timestamp, 1);
  EXPECT_EQ(s.expiration, 9);
  SignatureParse d = parse_signature(" v=1; a=rsa-sha256; d=x.org; s=s; h=from; bh=YWJj; b=ZGVm");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.signature.identity, "@x.org");
  EXPECT_EQ(d.signature.header_canon, Canon::simple);  // §3.5 c= default simple/simple
  EXPECT_EQ(d.signature.body_canon, Canon::simple);
  SignatureParse c = parse_signature(" v=1; a=rsa-sha256; c=relaxed; d=x.org; s=s; h=from; bh=YWJj; b=ZGVm");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.signature.body_canon, Canon::simple);  // "relaxed" alone = relaxed/simple
}

// h= lists of every length around the parser's 64-name stack buffer keep every name, in order,
// with FWS around the colons trimmed.
TEST(DkimSignature, LongHeaderLists) {
  for (std::size_t n : {1u, 2u, 63u, 64u, 65u, 66u, 130u}) {
    std::string h = "From";
    for (std::size_t i = 1; i < n; ++i) h += (i % 7 == 0 ? " :\r\n\tX-" : ":X-") + std::to_string(i);
    SignatureParse p = parse_signature(" v=1; a=rsa-sha256; d=x.org; s=s; h=" + h + "; bh=YWJj; b=ZGVm");
    ASSERT_TRUE(p.ok()) << n << ": " << p.detail;
    const std::vector<std::string>& names = p.signature.signed_headers;
    ASSERT_EQ(names.size(), n);
    EXPECT_EQ(names[0], "From");
    for (std::size_t i = 1; i < n; ++i) EXPECT_EQ(names[i], "X-" + std::to_string(i)) << n;
  }
}

}  // namespace
}  // namespace mailward::dkim

namespace mailward::dkim {
namespace {

TEST(DkimBase64, Table) {
  struct Case {
    const char* in;
    std::optional<std::string> out;
  };
  const Case cases[] = {
      {"", std::string()},
      {"YWJj", std::string("abc")},
      {"YWJjZA==", std::string("abcd")},
      {"YWJjZA", std::string("abcd")},  // padding optional
      {"YWJjZGU=", std::string("abcde")},
      {"YW Jj\r\n\tZA ==", std::string("abcd")},  // FWS anywhere (RFC 6376 §3.5)
      {"YWJjZA=", std::nullopt},                   // wrong padding count
      {"YWJjZ", std::nullopt},                     // 6 dangling bits
      {"YWJjZB==", std::nullopt},                  // non-zero dangling bits
      {"YW=Jj", std::nullopt},                     // data after padding
      {"YW!j", std::nullopt},
      {"YWJjZA===", std::nullopt},
      // FWS between and inside quanta, with whole quanta after it (the fast path resumes at the
      // next quantum boundary only).
      {"YWJj ZGVm\r\n Z2hp", std::string("abcdefghi")},
      {"YW JjZGVmZ2hp", std::string("abcdefghi")},
      {"Y WJjZ GVmZ2hpamts", std::string("abcdefghijkl")},
      {"YWJjZA= =", std::string("abcd")},
      {"YWJjZA==YWJj", std::nullopt},  // data after padding, even a whole quantum
      {"YWJjZA== YWJj", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(base64_decode(c.in), c.out) << c.in;
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x80"}) EXPECT_EQ(base64_decode(base64_encode(s)), s);
}

// Long values go through the 32-character block decoder (AVX2, where the CPU has it) as well as the
// quantum path: random bytes of every length up to 400 round-trip, folded at random places; one
// character replaced by each byte outside the alphabet (other than FWS and '=') at every position
// of a value makes it fail. Expected values come from the encoder and the alphabet, not from the
// decoder under test.
TEST(DkimBase64, LongValuesRandomFoldsAndBadBytes) {
  std::uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
  };
  for (std::size_t len = 0; len <= 400; ++len) {
    std::string bytes;
    for (std::size_t k = 0; k < len; ++k) bytes.push_back(static_cast<char>(next() & 0xFF));
    const std::string enc = base64_encode(bytes);
    EXPECT_EQ(base64_decode(enc), bytes) << len;
    std::string folded;
    for (char c : enc) {
      if (next() % 29 == 0) folded += (next() % 2 == 0) ? "\r\n\t" : " ";
      folded.push_back(c);
    }
    EXPECT_EQ(base64_decode(folded), bytes) << folded;
  }
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(150, '\0');
  for (char& c : bytes) c = static_cast<char>(next() & 0xFF);
  const std::string enc = base64_encode(bytes);  // 200 characters, no padding
  ASSERT_EQ(enc.size(), 200u);
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    if (alphabet.find(c) != std::string::npos || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=') continue;
    for (std::size_t pos = 0; pos < enc.size(); ++pos) {
      std::string bad = enc;
      bad[pos] = c;
      EXPECT_EQ(base64_decode(bad), std::nullopt) << "byte " << b << " at " << pos;
    }
  }
  // Every alphabet character at every position of a block decodes to its own value.
  for (std::size_t pos = 0; pos < 64; ++pos)
    for (std::size_t v = 0; v < 64; ++v) {
      std::string text(64, 'A');
      text[pos] = alphabet[v];
      const auto out = base64_decode(text);
      ASSERT_TRUE(out.has_value());
      ASSERT_EQ(base64_encode(*out), text) << pos << " " << v;
    }
}

}  // namespace
}  // namespace mailward::dkim
