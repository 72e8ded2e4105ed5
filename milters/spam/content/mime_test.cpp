// Tests for parse_mail and decode_header_value.
#include <gtest/gtest.h>

#include <chrono>

#include "milters/spam/content/parsed_mail.h"

namespace mailward::spam {
namespace {

TEST(HeaderValue, Rfc2047) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      // RFC 2047 §8 examples.
      {"=?ISO-8859-1?Q?a?=", "a"},
      {"=?ISO-8859-1?Q?a?= b", "a b"},
      {"=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"},
      {"=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab"},
      {"=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=", "ab"},
      {"=?ISO-8859-1?Q?a_b?=", "a b"},
      {"=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"},
      {"(=?ISO-8859-1?Q?a?=)", "(a)"},
      // B encoding, lowercase markers, UTF-8 split across two words (joined as bytes).
      {"=?utf-8?b?Q2Fmw6k=?=", "Caf\xC3\xA9"},
      {"=?UTF-8?B?w6k=?= =?utf-8?b?w6k=?=", "\xC3\xA9\xC3\xA9"},
      {"=?utf-8?b?4oI=?= =?utf-8?b?rA==?=", "\xE2\x82\xAC"},
      {"=?utf-8*en?q?x?=", "x"},  // RFC 2231 §5 language
      // Not encoded-words: left alone.
      {"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
      {"a =? b ?= c", "a =? b ?= c"},
      {"Re: =?utf-8?q?unterminated", "Re: =?utf-8?q?unterminated"},
      // Raw 8-bit: UTF-8 kept, otherwise windows-1252.
      {"J\xC3\xB6rg", "J\xC3\xB6rg"},
      {"J\xF6rg", "J\xC3\xB6rg"},
      {"  folded\r\n\tvalue ", "folded value"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(decode_header_value(in), out) << in;
  bool bad = false;
  decode_header_value("=?x-nonexistent?q?abc?=", &bad);
  EXPECT_TRUE(bad);
}

TEST(ParseMail, SimpleLfWithMboxLine) {
  ParsedMail m = parse_mail(
      "From sender@example.com Mon Jan  1 00:00:00 2024\n"
      "From: =?utf-8?q?J=C3=B6rg?= <j@example.com>\n"
      "To: you@example.org\n"
      "Subject: Hello\n  world\n"
      "\n"
      "Line one   with  spaces\n\n\n\nLine two http://example.com/x.\n");
  ASSERT_EQ(m.headers.size(), 3u);
  EXPECT_EQ(m.headers[2].value, " Hello\r\n  world");
  EXPECT_EQ(m.subject, "Hello  world");
  EXPECT_EQ(m.from, "J\xC3\xB6rg <j@example.com>");
  EXPECT_EQ(m.to, "you@example.org");
  ASSERT_EQ(m.texts.size(), 1u);
  EXPECT_EQ(m.texts[0].text, "Line one with spaces\n\nLine two http://example.com/x.");
  EXPECT_EQ(m.texts[0].content_type, "text/plain");
  EXPECT_FALSE(m.texts[0].from_html);
  EXPECT_EQ(m.urls, std::vector<std::string>{"http://example.com/x"});
  EXPECT_EQ(m.url_hosts, std::vector<std::string>{"example.com"});
  EXPECT_TRUE(m.anomalies.empty());
  EXPECT_EQ(m.part_count, 1u);
}

TEST(ParseMail, MultipartAlternativeEncodings) {
  ParsedMail m = parse_mail(
      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
      "\r\n"
      "preamble\r\n"
      "--b1\r\n"
      "Content-Type: text/plain; charset=ISO-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "Caf=E9 soft=\r\nbreak=3D\r\n"
      "--b1 \r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "PGEgaHJlZj0iaHR0cDovL2EuYi5leGFtcGxlLm5ldC8iPkNsaWNrICZhbXA7IHdpbjwvYT4=\r\n"
      "--b1--\r\n"
      "epilogue\r\n");
  ASSERT_EQ(m.texts.size(), 2u);
  EXPECT_EQ(m.texts[0].text, "Caf\xC3\xA9 softbreak=");
  EXPECT_EQ(m.texts[0].charset, "iso-8859-1");
  EXPECT_EQ(m.texts[1].text, "Click & win");
  EXPECT_TRUE(m.texts[1].from_html);
  EXPECT_EQ(m.urls, std::vector<std::string>{"http://a.b.example.net/"});
  EXPECT_EQ(m.url_hosts, std::vector<std::string>{"a.b.example.net"});
  EXPECT_EQ(m.part_count, 3u);
  EXPECT_EQ(m.max_depth, 1u);
  EXPECT_TRUE(m.has_html);
  EXPECT_FALSE(m.html_only);
  EXPECT_TRUE(m.anomalies.empty()) << m.anomalies.front();
}

TEST(ParseMail, AttachmentsAndRfc2231) {
  ParsedMail m = parse_mail(
      "Content-Type: multipart/mixed; boundary=outer\n\n"
      "--outer\n"
      "Content-Type: text/html\n\n<p>only html</p>\n"
      "--outer\n"
      "Content-Type: application/pdf; name*0*=utf-8''r%C3%A9; name*1=sum.pdf\n"
      "Content-Transfer-Encoding: base64\n\n"
      "JVBERi0xLjQK\n"
      "--outer\n"
      "Content-Type: application/octet-stream\n"
      "Content-Disposition: attachment; filename=\"=?utf-8?q?f=C3=BC.exe?=\"\n\n"
      "MZ\n"
      "--outer\n"
      "Content-Type: text/plain\n"
      "Content-Disposition: attachment; filename*=iso-8859-1'de'%E4.txt\n\n"
      "text attachment\n"
      "--outer--\n");
  ASSERT_EQ(m.attachments.size(), 3u);
  EXPECT_EQ(m.attachments[0].filename, "r\xC3\xA9sum.pdf");
  EXPECT_EQ(m.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(m.attachments[0].size, 9u);
  EXPECT_EQ(m.attachments[1].filename, "f\xC3\xBC.exe");
  EXPECT_EQ(m.attachments[1].size, 2u);
  EXPECT_EQ(m.attachments[2].filename, "\xC3\xA4.txt");
  ASSERT_EQ(m.texts.size(), 1u);
  EXPECT_EQ(m.texts[0].text, "only html");
  EXPECT_TRUE(m.html_only);
}

TEST(ParseMail, NestedMessageAndDigest) {
  ParsedMail m = parse_mail(
      "Content-Type: multipart/digest; boundary=d\n\n"
      "--d\n\n"
      "Subject: inner one\nContent-Type: text/plain\n\nfirst\n"
      "--d\n"
      "Content-Type: message/rfc822\n"
      "Content-Transfer-Encoding: base64\n\n"
      "U3ViamVjdDogaW5uZXIgdHdvCgpzZWNvbmQK\n"
      "--d--\n");
  ASSERT_EQ(m.texts.size(), 2u);
  EXPECT_EQ(m.texts[0].text, "first");
  EXPECT_EQ(m.texts[1].text, "second");
  EXPECT_EQ(m.part_count, 5u);
  EXPECT_EQ(m.max_depth, 2u);
  EXPECT_TRUE(m.anomalies.empty()) << m.anomalies.front();
}

struct AnomalyCase {
  std::string_view name;
  std::string raw;
  std::string_view anomaly;
};

TEST(ParseMail, BrokenInputIsParsedAsFarAsItGoes) {
  const AnomalyCase cases[] = {
      {"no boundary param", "Content-Type: multipart/mixed\n\nbody text\n", "missing boundary"},
      {"boundary never seen", "Content-Type: multipart/mixed; boundary=zz\n\nbody text\n", "missing boundary"},
      {"no close", "Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nbody text\n", "missing closing boundary"},
      {"bad base64", "Content-Transfer-Encoding: base64\n\nYm9k!!eQ==\n", "bad base64"},
      {"bad qp", "Content-Transfer-Encoding: quoted-printable\n\na=zz\n", "bad quoted-printable"},
      {"unknown cte", "Content-Transfer-Encoding: x-gzip\n\nabc\n", "unknown transfer encoding"},
      {"unknown charset", "Content-Type: text/plain; charset=x-klingon\n\nabc\xE9\n", "unknown charset"},
      {"invalid utf-8", "Content-Type: text/plain; charset=utf-8\n\nabc\xE9\n", "invalid utf-8"},
      {"no separator", "Subject: x\nthis is body\n", "missing header separator"},
      {"continuation first", " folded\nSubject: x\n\nb\n", "malformed header line"},
      {"8bit header", "Subject: caf\xE9\n\nb\n", "8bit in headers"},
      {"bad encoded word", "Subject: =?x-klingon?q?abc?=\n\nb\n", "bad encoded-word"},
      {"hidden html", "Content-Type: text/html\n\n<div style=display:none>x</div>y\n", "hidden html text"},
      {"bad content type", "Content-Type: garbage\n\nb\n", "bad content-type"},
  };
  for (const AnomalyCase& c : cases) {
    ParsedMail m = parse_mail(c.raw);
    EXPECT_TRUE(m.has_anomaly(c.anomaly)) << c.name;
    EXPECT_FALSE(m.texts.empty()) << c.name;
  }
  ParsedMail m = parse_mail("Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nbody text\n");
  ASSERT_EQ(m.texts.size(), 1u);
  EXPECT_EQ(m.texts[0].text, "body text");
  m = parse_mail("Content-Type: multipart/mixed\n\nbody text\n");
  EXPECT_EQ(m.texts.at(0).text, "body text");
  m = parse_mail("Content-Transfer-Encoding: base64\n\nYm9k!!eQ==\n");
  EXPECT_EQ(m.texts.at(0).text, "body");
  m = parse_mail("Subject: x\nthis is body\n");
  EXPECT_EQ(m.texts.at(0).text, "this is body");
  EXPECT_EQ(m.subject, "x");
}

TEST(ParseMail, BoundaryMustMatchWholly) {
  // The inner boundary starts with the outer one: "--abc" is not a line of boundary "ab".
  ParsedMail m = parse_mail(
      "Content-Type: multipart/mixed; boundary=ab\n\n"
      "--ab\n"
      "Content-Type: multipart/alternative; boundary=abc\n\n"
      "--abc\n\none\n--abc\n\ntwo\n--abc--\n"
      "--ab\n\nthree\n--ab--\n");
  ASSERT_EQ(m.texts.size(), 3u);
  EXPECT_EQ(m.texts[0].text, "one");
  EXPECT_EQ(m.texts[1].text, "two");
  EXPECT_EQ(m.texts[2].text, "three");
  EXPECT_TRUE(m.anomalies.empty());
  // Text after the boundary (past a blank, or past the closing "--") is ignored (mime4j's
  // ending-boundaries test).
  m = parse_mail(
      "Content-Type: multipart/mixed; boundary=\"boundary\"\r\n\r\n"
      "--boundary This should be ignored\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
      "--boundary-- and this\r\nepilogue\r\n--boundary--\r\n");
  ASSERT_EQ(m.texts.size(), 1u);
  EXPECT_EQ(m.texts[0].text, "first part");
  EXPECT_TRUE(m.anomalies.empty());
  // A boundary with "=?" and trailing blanks is kept byte for byte (mime4j's weird-boundary).
  m = parse_mail(
      "Content-Type: multipart/mixed; boundary=\"a=?b?  \"\n\n"
      "--a=?b?  \n\nbody\n--a=?b? \nstill body\n--a=?b?  --\n");
  ASSERT_EQ(m.texts.size(), 1u);
  EXPECT_EQ(m.texts[0].text, "body\n--a=?b?\nstill body");
}

TEST(ParseMail, LimitsBoundTheWork) {
  // Depth: 100 nested multiparts.
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
  deep += "\ninnermost\n";
  ParsedMail m = parse_mail(deep);
  EXPECT_TRUE(m.has_anomaly("depth limit reached"));
  EXPECT_EQ(m.max_depth, 20u);
  EXPECT_LE(m.part_count, 21u);
  // Nested message/rfc822 in base64 in base64 ... (decoding bomb): bounded by depth and budget.
  std::string inner = "Subject: x\n\nhello\n";
  auto b64 = [](const std::string& s) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string o;
    std::size_t i = 0;
    for (; i + 2 < s.size(); i += 3) {
      unsigned v = (static_cast<unsigned>(static_cast<unsigned char>(s[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(s[i + 1])) << 8) |
                   static_cast<unsigned char>(s[i + 2]);
      o += t[v >> 18]; o += t[(v >> 12) & 63]; o += t[(v >> 6) & 63]; o += t[v & 63];
    }
    if (i < s.size()) {
      unsigned v = static_cast<unsigned>(static_cast<unsigned char>(s[i])) << 16;
      if (i + 1 < s.size()) v |= static_cast<unsigned>(static_cast<unsigned char>(s[i + 1])) << 8;
      o += t[v >> 18]; o += t[(v >> 12) & 63];
      o += i + 1 < s.size() ? t[(v >> 6) & 63] : '=';
      o += '=';
    }
    return o;
  };
  for (int i = 0; i < 30; ++i) inner = "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" + b64(inner) + "\n";
  m = parse_mail(inner);
  EXPECT_TRUE(m.has_anomaly("depth limit reached"));
  // Many parts.
  std::string many = "Content-Type: multipart/mixed; boundary=p\n\n";
  for (int i = 0; i < 2000; ++i) many += "--p\n\nx\n";
  many += "--p--\n";
  m = parse_mail(many);
  EXPECT_TRUE(m.has_anomaly("part limit reached"));
  EXPECT_EQ(m.part_count, 500u);
  EXPECT_EQ(m.texts.size(), 499u);
  // Endless headers.
  std::string headers;
  for (int i = 0; i < 20000; ++i) headers += "X-H" + std::to_string(i) + ": v\n";
  headers += "\nbody\n";
  m = parse_mail(headers);
  EXPECT_EQ(m.headers.size(), 1000u);
  EXPECT_TRUE(m.has_anomaly("header field limit reached"));
  EXPECT_EQ(m.texts.at(0).text, "body");
  // One huge header line and a huge body: decoded budget.
  MimeLimits small;
  small.decoded_bytes_total = 1000;
  std::string huge = "Subject: " + std::string(1u << 20, 'a') + "\nContent-Transfer-Encoding: base64\n\n" + std::string(100000, 'Q') + "\n";
  m = parse_mail(huge, small);
  EXPECT_TRUE(m.has_anomaly("header size limit reached"));
  EXPECT_TRUE(m.has_anomaly("decoded size limit reached"));
  EXPECT_LE(m.texts.at(0).text.size(), 1000u);
  // Quadratic traps: many unterminated encoded-word starts in one header; a URL followed by a
  // megabyte of closing brackets.
  std::string words = "Subject: ";
  for (int i = 0; i < 30000; ++i) words += "=?a?q?x";
  words += "\n\n" "http://x.example/" + std::string(1u << 20, ')') + "\n";
  auto t0 = std::chrono::steady_clock::now();
  m = parse_mail(words);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  EXPECT_EQ(m.subject.size(), 30000u * 7);
  EXPECT_EQ(m.urls, std::vector<std::string>{"http://x.example/"});
  // Text budget: a collapsed blank plus the next character must not pass it (fuzzer finding).
  MimeLimits tiny;
  tiny.text_bytes_total = 5;
  m = parse_mail("\nabcd e\n", tiny);
  EXPECT_EQ(m.texts.at(0).text, "abcd");
  EXPECT_TRUE(m.has_anomaly("text size limit reached"));
}

}  // namespace
}  // namespace mailward::spam
