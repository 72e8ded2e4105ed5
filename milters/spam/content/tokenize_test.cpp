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

}  // namespace
}  // namespace mailward::spam
