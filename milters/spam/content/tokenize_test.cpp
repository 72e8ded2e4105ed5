// Tests for the tokenizer: exact token strings for small messages, hash agreement, the cap.
#include "milters/spam/content/tokenize.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace mailward::spam {
namespace {

bool has(const std::vector<std::string>& v, std::string_view t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}

TEST(Tokenize, FnvKnownValues) {
  // FNV-1a 64 reference values (draft-eastlake-fnv test vectors).
  EXPECT_EQ(token_hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(token_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(token_hash("foobar"), 0x85944171f73967e8ull);
}

TEST(Tokenize, BodyWordsExactly) {
  ParsedMail m;
  m.texts.push_back({"Hello WORLD, hello again! ok a 2024 mp3 Supercalifragilistic", false, "text/plain", ""});
  TokenizerOptions o;
  o.header_tokens = false;
  std::vector<std::string> want = {
      "B:again mpN", "B:hello again", "B:hello world", "B:world hello", "again", "hello", "mpN",
      "skip:s 20", "world"};
  EXPECT_EQ(token_strings(m, o), want);
  o.bigrams = false;
  want = {"again", "hello", "mpN", "skip:s 20", "world"};
  EXPECT_EQ(token_strings(m, o), want);
}

TEST(Tokenize, FoldingAndObfuscation) {
  ParsedMail m;
  m.texts.push_back({"V\xC2\xAD" "IAGRA fr\xE2\x80\x8B" "ee \xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2 "
                     "\xC3\x84RGER caf\xC3\xA9\xE2\x80\x94" "bar \xF0\x9F\x98\x80smile",
                     false, "text/plain", ""});
  TokenizerOptions o;
  o.header_tokens = false;
  o.bigrams = false;
  std::vector<std::string> want = {"bar", "caf\xC3\xA9", "free", "smile", "viagra",
                                   "\xC3\xA4rger", "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"};
  EXPECT_EQ(token_strings(m, o), want);
}

TEST(Tokenize, HeadersUrlsAttachmentsAnomalies) {
  ParsedMail m = parse_mail(
      "From: \"Big Sale\" <Promo@Deals.Example.com>\n"
      "To: you@example.org\n"
      "Subject: Cheap watches today\n"
      "Message-ID: <abc@mx.deals.example.com>\n"
      "X-Mailer: SuperMailer 5\n"
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/html\n\n<a href=\"http://WWW.Shop.Example.co.uk/x\">buy</a><img src=http://192.0.2.7/t.gif>\n"
      "--b\nContent-Type: application/zip; name=\"invoice.ZIP\"\nContent-Transfer-Encoding: base64\n\nUEsDBA==\n"
      "--b--\n");
  std::vector<std::string> t = token_strings(m);
  for (std::string_view want :
       {"H:subject:cheap", "H:subject:watches", "H:subject:today", "H:subject:cheap watches",
        "H:subject:watches today", "H:from:big", "H:from:sale", "H:from:promo", "H:from:deals",
        "H:from:example", "H:from-addr:promo@deals.example.com", "H:to:you", "H:msgid-domain:mx.deals.example.com",
        "H:x-mailer:supermailer", "H:content-type:multipart", "H:content-type:mixed",
        "U:www.shop.example.co.uk", "U:shop.example.co.uk", "U:example.co.uk", "U:co.uk", "U:192.0.2.7",
        "U:ip-literal", "A:application/zip", "A:ext:zip", "M:html-only", "buy"})
    EXPECT_TRUE(has(t, want)) << want;
  EXPECT_FALSE(has(t, "H:subject:watches cheap"));
  EXPECT_FALSE(has(t, "H:from:org"));  // To's words are H:to:
  // The hashes are exactly those of the strings.
  std::vector<std::uint64_t> h = tokenize(m);
  std::vector<std::uint64_t> again;
  for (const std::string& s : t) again.push_back(token_hash(s));
  std::sort(again.begin(), again.end());
  EXPECT_EQ(h, again);
  EXPECT_TRUE(std::is_sorted(h.begin(), h.end()));
  EXPECT_EQ(std::adjacent_find(h.begin(), h.end()), h.end());
}

TEST(Tokenize, CapKeepsHeaderTokensAndStartOfBody) {
  ParsedMail m;
  m.subject = "keep this subject";
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "w" + std::string(1, static_cast<char>('a' + i % 26)) + std::string(1, static_cast<char>('a' + (i / 26) % 26)) + "x ";
  m.texts.push_back({body, false, "text/plain", ""});
  TokenizerOptions o;
  o.max_tokens = 100;
  std::vector<std::string> t = token_strings(m, o);
  EXPECT_TRUE(has(t, "H:subject:keep"));
  EXPECT_TRUE(has(t, "H:subject:this subject"));
  EXPECT_TRUE(has(t, "waax"));
  EXPECT_FALSE(has(t, "wzzx"));
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(tokenize(m, o).size(), 100u);
}

TEST(Tokenize, MoreHeadersReceivedAndUrlPaths) {
  ParsedMail m = parse_mail(
      "Return-Path: <News-Return@Mailings.Example.com>\n"
      "Received: from pebble.example.com (pebble.example.com [206.15.104.27])\n"
      "\tby mx.lerctr.org (8.12.2) with ESMTP id g86GT2X2013854\n"
      "\tfor <ler@lerctr.org>; Fri, 6 Sep 2002 11:29:04 -0500 (CDT)\n"
      "Date: Fri, 6 Sep 2002 16:00:15 +0000\n"
      "Precedence: bulk\n"
      "X-Spam-Status: No, hits=-3\n"
      "X-Virus-Scanned: by amavisd\n"
      "X-Keywords: junk\n"
      "Subject: hi\n"
      "\n"
      "see http://shop.example.com/Cheap/Pills?ref=News42 now\n");
  TokenizerOptions o;
  o.bigrams = false;
  o.more_headers = true;
  o.url_paths = true;
  std::vector<std::string> t = token_strings(m, o);
  for (std::string_view want :
       {"N:return-path", "N:received", "N:precedence", "N:subject", "H:return-path:news",
        "H:return-path:return", "H:return-path:mailings", "H:precedence:bulk",
        "H:rcvd-host:pebble.example.com", "H:rcvd-dom:example.com", "H:rcvd-host:mx.lerctr.org",
        "H:rcvd-dom:lerctr.org", "H:rcvd-ip:206.15.104", "H:rcvd-ip:206.15", "H:received:from",
        "H:received:esmtp", "H:received:with", "H:received:cdt", "UP:cheap", "UP:pills", "UP:ref",
        "UP:newsN", "U:shop.example.com"})
    EXPECT_TRUE(has(t, want)) << want;
  for (std::string_view unwanted :
       {"N:date", "N:x-spam-status", "N:x-virus-scanned", "N:x-keywords", "H:x-spam-status:hits",
        "H:x-keywords:junk", "H:date:sep", "H:received:ler", "H:rcvd-host:ler@lerctr.org",
        "H:received:g86GT2X2013854", "N:subject:hi"})
    EXPECT_FALSE(has(t, unwanted)) << unwanted;
  // Off: none of these tokens.
  o.more_headers = false;
  o.url_paths = false;
  for (const std::string& s : token_strings(m, o)) {
    EXPECT_NE(s.substr(0, 2), "N:") << s;
    EXPECT_NE(s.substr(0, 3), "UP:") << s;
    EXPECT_NE(s.substr(0, 7), "H:rcvd-") << s;
  }
}

}  // namespace
}  // namespace mailward::spam
