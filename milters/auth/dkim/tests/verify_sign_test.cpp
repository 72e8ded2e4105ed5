// Verifier and Signer tests with generated keys and a StaticResolver: one table row per rule
// (RFC 6376 §3.5 tags, §3.6.1 key tags, §6.1 steps, RFC 8301, RFC 8463), plus key-cache, signer
// header selection, chunked streaming and key generation.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <map>

#include "common/dns/static_resolver.h"
#include "milters/auth/dkim/dkim.h"
#include "milters/auth/dkim/tests/test_util.h"

namespace mailward::dkim {
namespace {

using testing::craft_signature;
using testing::CraftOptions;
using testing::sample_message;

struct Keys {
  GeneratedKey rsa2048 = generate_key(KeyType::rsa, 2048);
  GeneratedKey rsa1024 = generate_key(KeyType::rsa, 1024);
  GeneratedKey rsa512 = generate_key(KeyType::rsa, 512);
  GeneratedKey ed = generate_key(KeyType::ed25519);
};
const Keys& keys() {
  static const Keys k;
  return k;
}

std::string p_of(const GeneratedKey& k) { return k.dns_txt.substr(k.dns_txt.find("p=")); }

constexpr std::int64_t kNow = 1700000000;

void set_subject(mail::Message& m, const std::string& value) {
  for (auto& h : m.headers)
    if (h.name == "Subject") h.value = value;
}

struct VerifyCase {
  const char* name;
  std::function<void(CraftOptions&)> craft;
  const GeneratedKey* key;
  std::string record;                                  // TXT at sel._domainkey.example.com; "" = from key
  std::function<void(mail::Message&)> mutate;          // after signing
  Status status;
  std::string reason;                                  // substring of the reason
  VerifyOptions options = {};
  std::optional<dns::Status> dns_failure = {};
};

TEST(DkimVerify, Table) {
  const Keys& k = keys();
  auto none = [](CraftOptions&) {};
  auto keep = [](mail::Message&) {};
  auto append_body = [](mail::Message& m) { m.body += "PS: appended\r\n"; };
  const std::vector<VerifyCase> cases = {
      {"rsa2048 relaxed/relaxed", none, &k.rsa2048, "", keep, Status::pass, ""},
      {"ed25519", [](CraftOptions& o) { o.a = "ed25519-sha256"; }, &k.ed, "", keep, Status::pass, ""},
      {"simple/simple", [](CraftOptions& o) { o.hc = o.bc = Canon::simple; }, &k.rsa2048, "", keep, Status::pass, ""},
      {"relaxed/simple", [](CraftOptions& o) { o.bc = Canon::simple; }, &k.rsa2048, "", keep, Status::pass, ""},
      {"simple header modified", [](CraftOptions& o) { o.hc = Canon::simple; }, &k.rsa2048, "",
       [](mail::Message& m) { set_subject(m, " Is dinner ready?"); }, Status::fail, "signature verification failed"},
      {"relaxed survives refolding", none, &k.rsa2048, "",
       [](mail::Message& m) { set_subject(m, " Is\r\n\t dinner   ready?  "); }, Status::pass, ""},
      {"body modified", none, &k.rsa2048, "", append_body, Status::fail, "body hash mismatch"},
      {"ed25519 body modified", [](CraftOptions& o) { o.a = "ed25519-sha256"; }, &k.ed, "", append_body, Status::fail,
       "body hash mismatch"},
      {"l= covers the signed part", [](CraftOptions& o) { o.l = 20; }, &k.rsa2048, "", append_body, Status::pass, ""},
      {"l= longer than body", [](CraftOptions& o) { o.l = 20; }, &k.rsa2048, "",
       [](mail::Message& m) { m.body = "Hi.\r\n"; }, Status::fail, "l= exceeds body length"},
      {"expired", [](CraftOptions& o) { o.t = kNow - 1000; o.x = kNow - 400; }, &k.rsa2048, "", keep,
       Status::permerror, "expired", VerifyOptions{.now = kNow}},
      {"expiry within skew", [](CraftOptions& o) { o.t = kNow - 1000; o.x = kNow - 100; }, &k.rsa2048, "", keep,
       Status::pass, "", VerifyOptions{.now = kNow}},
      {"t= in the future", [](CraftOptions& o) { o.t = kNow + 3600; }, &k.rsa2048, "", keep, Status::permerror,
       "future", VerifyOptions{.now = kNow}},
      {"i= subdomain", [](CraftOptions& o) { o.i = "joe@mail.example.com"; }, &k.rsa2048, "", keep, Status::pass, ""},
      {"i= foreign", [](CraftOptions& o) { o.i = "joe@example.org"; }, &k.rsa2048, "", keep, Status::permerror,
       "i= domain"},
      {"h= without From", [](CraftOptions& o) { o.h = "to:subject"; }, &k.rsa2048, "", keep, Status::permerror,
       "From"},
      {"rsa-sha1 (RFC 8301)", [](CraftOptions& o) { o.a = "rsa-sha1"; }, &k.rsa2048, "", keep, Status::permerror,
       "rsa-sha1 not accepted (RFC 8301)"},
      {"RSA 512 (RFC 8301)", none, &k.rsa512, "", keep, Status::permerror, "RSA key 512 bits < 1024"},
      {"RSA 1024 under local minimum", none, &k.rsa1024, "", keep, Status::policy, "RSA key 1024 bits < 2048",
       VerifyOptions{.min_rsa_bits = 2048}},
      {"RSA 1024 default minimum", none, &k.rsa1024, "", keep, Status::pass, ""},
      {"no key record", none, &k.rsa2048, "-", keep, Status::permerror, "key record not found"},
      {"DNS timeout", none, &k.rsa2048, "", keep, Status::temperror, "DNS timeout", {}, dns::Status::timeout},
      {"DNS SERVFAIL", none, &k.rsa2048, "", keep, Status::temperror, "DNS server failure", {},
       dns::Status::server_failure},
      {"revoked key", none, &k.rsa2048, "v=DKIM1; p=", keep, Status::permerror, "revoked"},
      {"testing key", none, &k.rsa2048, "v=DKIM1; t=y; " + p_of(k.rsa2048), keep, Status::pass, ""},
      {"t=s with i= subdomain", [](CraftOptions& o) { o.i = "@mail.example.com"; }, &k.rsa2048,
       "v=DKIM1; t=s; " + p_of(k.rsa2048), keep, Status::permerror, "t=s"},
      {"t=s with i= = d=", [](CraftOptions& o) { o.i = "joe@example.com"; }, &k.rsa2048,
       "v=DKIM1; t=s; " + p_of(k.rsa2048), keep, Status::pass, ""},
      {"key s=tlsrpt", none, &k.rsa2048, "v=DKIM1; s=tlsrpt; " + p_of(k.rsa2048), keep, Status::permerror, "email"},
      {"key h=sha1", none, &k.rsa2048, "v=DKIM1; h=sha1; " + p_of(k.rsa2048), keep, Status::permerror, "h="},
      {"key h=sha1:sha256", none, &k.rsa2048, "v=DKIM1; h=sha1:sha256; " + p_of(k.rsa2048), keep, Status::pass, ""},
      {"key k= mismatch", none, &k.rsa2048, "v=DKIM1; k=ed25519; " + p_of(k.ed), keep, Status::permerror,
       "does not match"},
      {"key v=DKIM2", none, &k.rsa2048, "v=DKIM2; " + p_of(k.rsa2048), keep, Status::permerror, "v="},
      {"key p= garbage", none, &k.rsa2048, "v=DKIM1; p=YWJjZA==", keep, Status::permerror, "DER"},
      {"ed25519 key in SPKI form", [](CraftOptions& o) { o.a = "ed25519-sha256"; }, &k.ed,
       "v=DKIM1; k=ed25519; p=MCowBQYDK2VwAyEA3SUqa9UbfciWkk7tlcJ9P1VD5pXAasg0JUn/OgjVbKE=", keep, Status::permerror,
       "not 32"},
      {"q=dns/txt", [](CraftOptions& o) { o.q = "dns/txt"; }, &k.rsa2048, "", keep, Status::pass, ""},
      {"q=http", [](CraftOptions& o) { o.q = "http"; }, &k.rsa2048, "", keep, Status::permerror, "query method"},
      {"wrong key", none, &k.rsa2048, "v=DKIM1; " + p_of(k.rsa1024), keep, Status::fail,
       "signature verification failed"},
  };
  for (const VerifyCase& c : cases) {
    SCOPED_TRACE(c.name);
    mail::Message m = sample_message();
    CraftOptions o;
    c.craft(o);
    SigningKey sk = SigningKey::load_pem("example.com", "sel", c.key->private_pem);
    std::string value = craft_signature(m, sk, o);
    m.headers.insert(m.headers.begin(), mail::HeaderField{"DKIM-Signature", value});
    c.mutate(m);
    dns::StaticResolver resolver;
    const std::string name = "sel._domainkey.example.com";
    if (c.dns_failure) resolver.add_failure(name, *c.dns_failure);
    else if (c.record != "-") resolver.add_txt(name, c.record.empty() ? c.key->dns_txt : c.record);
    KeyCache cache;
    auto results = verify_message(resolver, cache, m, c.options);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].status, c.status) << results[0].reason;
    EXPECT_NE(results[0].reason.find(c.reason), std::string::npos) << results[0].reason;
    EXPECT_EQ(results[0].domain, "example.com");
    EXPECT_EQ(results[0].selector, "sel");
    EXPECT_EQ(results[0].algorithm, o.a);
    EXPECT_EQ(results[0].identity, o.i.empty() ? "@example.com" : o.i);
  }
}

// Which field instances the header hash takes (RFC 6376 §5.4.2: bottom-up, each once; names
// case-insensitive; a name with no instance left contributes nothing): many fields (several
// 4-field groups of the verifier's prefilter), repeated names, names of equal length and first
// letter ("To"/"Tx", "Date"/"Dkim"), h= in mixed case with oversigned and absent names. The signer
// side is the plain scan of craft_signature(). Then one signed instance changed -> fail, an
// unsigned one changed -> pass.
TEST(DkimVerify, HeaderInstancesTakenBottomUp) {
  const Keys& k = keys();
  mail::Message m = mail::parse_message(
      "Received: by a\r\nReceived: by b\r\nX-Tag: one\r\nFrom: Joe <joe@example.com>\r\nTo: a@example.net\r\n"
      "Tx: not to\r\nCc: c@example.net\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700\r\nDkim: x\r\nX-Tag: two\r\n"
      "Subject: s1\r\nReceived: by c\r\nX-Tag: three\r\nSubject: s2\r\nto: second@example.net\r\n"
      "Z1: z\r\nZ2: z\r\nZ3: z\r\n\r\nbody\r\n");
  ASSERT_EQ(m.headers.size(), 18u);
  CraftOptions o;
  o.h = "FROM:x-tag:X-Tag:to:TO:To:date:subject:received:Received:dkim:tx:missing:z3:z3";
  SigningKey sk = SigningKey::load_pem("example.com", "sel", k.rsa2048.private_pem);
  const std::string value = craft_signature(m, sk, o);
  auto verify = [&](const mail::Message& msg) {
    mail::Message signed_msg = msg;
    signed_msg.headers.insert(signed_msg.headers.begin(), mail::HeaderField{"DKIM-Signature", value});
    dns::StaticResolver resolver;
    resolver.add_txt("sel._domainkey.example.com", k.rsa2048.dns_txt);
    KeyCache cache;
    auto results = verify_message(resolver, cache, signed_msg, {});
    return results.size() == 1 ? results[0].status : Status::none;
  };
  EXPECT_EQ(verify(m), Status::pass);
  auto changed = [&](std::size_t index) {
    mail::Message c = m;
    c.headers[index].value += "!";
    return verify(c);
  };
  // Signed: X-Tag three (12) and two (9), to (14), To (4), Subject s2 (13), Received c (11) and b (1),
  // Tx (5), Dkim (8), Z3 (17). Not signed: X-Tag one (2), Subject s1 (10), Received a (0), Cc (6), Z1.
  for (std::size_t i : {12u, 9u, 14u, 4u, 13u, 11u, 1u, 5u, 8u, 17u, 3u, 7u}) EXPECT_EQ(changed(i), Status::fail) << i;
  for (std::size_t i : {2u, 10u, 0u, 6u, 15u, 16u}) EXPECT_EQ(changed(i), Status::pass) << i;
}

TEST(DkimVerify, SeveralTxtRecordsFirstUsableWins) {
  // RFC 6376 §6.1.2 leaves the choice among several records to the verifier: we take the first
  // that parses and loads; garbage records before it are skipped.
  const Keys& k = keys();
  mail::Message m = sample_message();
  SigningKey sk = SigningKey::load_pem("example.com", "sel", k.rsa2048.private_pem);
  m.headers.insert(m.headers.begin(), mail::HeaderField{"DKIM-Signature", craft_signature(m, sk, {})});
  dns::StaticResolver resolver;
  resolver.add_txt("sel._domainkey.example.com", "v=spf1 -all");
  resolver.add_txt("sel._domainkey.example.com", "v=DKIM1; p=YWJjZA==");
  resolver.add_txt("sel._domainkey.example.com", k.rsa2048.dns_txt);
  KeyCache cache;
  auto r = verify_message(resolver, cache, m, {});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::pass) << r[0].reason;
  dns::StaticResolver only_bad;
  only_bad.add_txt("sel._domainkey.example.com", "v=DKIM1; p=YWJjZA==");
  only_bad.add_txt("sel._domainkey.example.com", "v=spf1 -all");
  KeyCache c2;
  auto b = verify_message(only_bad, c2, m, {});
  EXPECT_EQ(b[0].status, Status::permerror);
  EXPECT_EQ(b[0].reason, "public key is not valid DER");  // the first record's problem
}

TEST(DkimVerify, ConcurrentVerifiersShareCacheAndContexts) {
  // libmilter runs callbacks on a worker pool: one KeyCache (and its pooled RSA contexts) is
  // shared by verifiers on several threads. Good and bad signatures interleave.
  const Keys& k = keys();
  mail::Message good = sample_message();
  SigningKey sk = SigningKey::load_pem("example.com", "sel", k.rsa2048.private_pem);
  good.headers.insert(good.headers.begin(), mail::HeaderField{"DKIM-Signature", craft_signature(good, sk, {})});
  mail::Message bad = good;
  for (auto& h : bad.headers)
    if (h.name == "Subject") h.value = " changed";
  dns::StaticResolver resolver;
  resolver.add_txt("sel._domainkey.example.com", k.rsa2048.dns_txt);
  KeyCache cache;
  std::atomic<int> passes{0}, fails{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        bool want_pass = (i + t) % 2 == 0;
        auto r = verify_message(resolver, cache, want_pass ? good : bad, VerifyOptions{.now = kNow});
        Status s = r.at(0).status;
        if (s == Status::pass) ++passes;
        else if (s == Status::fail) ++fails;
        if ((s == Status::pass) != want_pass) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(passes.load(), 100);
  EXPECT_EQ(fails.load(), 100);
  EXPECT_LE(resolver.lookup_count(), 4u);  // at most one racing miss per thread
}

TEST(DkimVerify, NoSignatureNoResult) {
  dns::StaticResolver resolver;
  KeyCache cache;
  EXPECT_TRUE(verify_message(resolver, cache, sample_message(), {}).empty());
}

TEST(DkimVerify, ResultFieldsAndTestingFlag) {
  const Keys& k = keys();
  mail::Message m = sample_message();
  SigningKey sk = SigningKey::load_pem("example.com", "sel", k.rsa2048.private_pem);
  std::string v = craft_signature(m, sk, {});
  m.headers.insert(m.headers.begin(), mail::HeaderField{"DKIM-Signature", v});
  dns::StaticResolver resolver;
  resolver.add_txt("sel._domainkey.example.com", "v=DKIM1; t=y; " + p_of(k.rsa2048));
  KeyCache cache;
  auto r = verify_message(resolver, cache, m, {});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, Status::pass);
  EXPECT_TRUE(r[0].testing);
  EXPECT_EQ(r[0].key_bits, 2048u);
  const TagList tags = parse_tag_list(v);  // (the views below point into v; tags owns the list)
  const Tag* b = tags.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(r[0].b_prefix, strip_fws(b->value).substr(0, 8));
  EXPECT_EQ(r[0].b_prefix.size(), 8u);
}

TEST(DkimVerify, MaxSignaturesBoundsDnsWork) {
  const Keys& k = keys();
  mail::Message m = sample_message();
  SigningKey sk = SigningKey::load_pem("example.com", "sel", k.rsa2048.private_pem);
  for (const char* sel : {"s1", "s2", "s3", "s4"}) {
    CraftOptions o;
    o.selector = sel;
    m.headers.insert(m.headers.begin(), mail::HeaderField{"DKIM-Signature", craft_signature(m, sk, o)});
  }
  dns::StaticResolver resolver;
  for (const char* sel : {"s1", "s2", "s3", "s4"})
    resolver.add_txt(std::string(sel) + "._domainkey.example.com", k.rsa2048.dns_txt);
  KeyCache cache;
  auto r = verify_message(resolver, cache, m, VerifyOptions{.max_signatures = 2});
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].status, Status::pass);
  EXPECT_EQ(r[0].selector, "s4");  // header order: the last one added is on top
  EXPECT_EQ(r[1].status, Status::pass);
  EXPECT_EQ(r[2].status, Status::permerror);
  EXPECT_NE(r[2].reason.find("too many signatures"), std::string::npos);
  EXPECT_EQ(r[3].status, Status::permerror);
  EXPECT_EQ(resolver.lookup_count(), 2u);
}

TEST(DkimVerify, KeyCacheParsesOncePerTtl) {
  const Keys& k = keys();
  mail::Message m = sample_message();
  SigningKey sk = SigningKey::load_pem("example.com", "sel", k.rsa2048.private_pem);
  m.headers.insert(m.headers.begin(), mail::HeaderField{"DKIM-Signature", craft_signature(m, sk, {})});
  dns::StaticResolver resolver;
  resolver.add_txt("sel._domainkey.example.com", k.rsa2048.dns_txt);  // TTL 300 in StaticResolver
  KeyCache cache;
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(verify_message(resolver, cache, m, VerifyOptions{.now = kNow + i})[0].status, Status::pass);
  EXPECT_EQ(resolver.lookup_count(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 4u);
  verify_message(resolver, cache, m, VerifyOptions{.now = kNow + 301});  // expired entry: looked up again
  EXPECT_EQ(resolver.lookup_count(), 2u);
  // Temporary failures are not cached.
  dns::StaticResolver failing;
  failing.add_failure("sel._domainkey.example.com", dns::Status::timeout);
  KeyCache c2;
  verify_message(failing, c2, m, VerifyOptions{.now = kNow});
  verify_message(failing, c2, m, VerifyOptions{.now = kNow});
  EXPECT_EQ(failing.lookup_count(), 2u);
  EXPECT_EQ(c2.size(), 0u);
  // Bounded size.
  KeyCache small(2);
  for (int i = 0; i < 5; ++i) small.get(resolver, "k" + std::to_string(i) + "._domainkey.example.com", kNow);
  EXPECT_LE(small.size(), 2u);
}

TEST(DkimVerify, SharedBodyHashesAndChunking) {
  // Several signatures with the same (c, l) share one body hash; results are unaffected by
  // how the body is split.
  const Keys& k = keys();
  mail::Message m = sample_message();
  SigningKey rsa = SigningKey::load_pem("example.com", "sel", k.rsa2048.private_pem);
  SigningKey ed = SigningKey::load_pem("example.com", "ed", k.ed.private_pem);
  std::vector<std::string> sigs;
  CraftOptions a;
  CraftOptions b;
  b.a = "ed25519-sha256";
  b.selector = "ed";
  CraftOptions c;
  c.bc = Canon::simple;
  CraftOptions d;
  d.l = 7;
  sigs.push_back(craft_signature(m, rsa, a));
  sigs.push_back(craft_signature(m, ed, b));
  sigs.push_back(craft_signature(m, rsa, c));
  sigs.push_back(craft_signature(m, rsa, d));
  for (const auto& s : sigs) m.headers.insert(m.headers.begin(), mail::HeaderField{"DKIM-Signature", s});
  dns::StaticResolver resolver;
  resolver.add_txt("sel._domainkey.example.com", k.rsa2048.dns_txt);
  resolver.add_txt("ed._domainkey.example.com", k.ed.dns_txt);
  KeyCache cache;
  for (std::size_t chunk = 1; chunk <= m.body.size(); chunk += 3) {
    Verifier v(resolver, cache, {});
    v.set_headers(m.headers);
    for (std::size_t i = 0; i < m.body.size(); i += chunk) v.add_body(std::string_view(m.body).substr(i, chunk));
    auto r = v.finish();
    ASSERT_EQ(r.size(), 4u);
    for (const auto& x : r) EXPECT_EQ(x.status, Status::pass) << "chunk " << chunk << ": " << x.reason;
  }
}

TEST(DkimSign, SignsAndVerifiesBothKeyTypes) {
  const Keys& k = keys();
  mail::Message m = sample_message();
  std::vector<SigningKey> sk = {SigningKey::load_pem("Example.com", "rsa", k.rsa2048.private_pem),
                                SigningKey::load_pem("example.com", "ed", k.ed.private_pem)};
  SignOptions so;
  so.now = kNow;
  so.expire_after = 86400;
  Signer signer(sk, so);
  signer.set_headers(m.headers);
  for (std::size_t i = 0; i < m.body.size(); i += 5) signer.add_body(std::string_view(m.body).substr(i, 5));
  auto fields = signer.finish();
  ASSERT_EQ(fields.size(), 2u) << signer.error();
  EXPECT_TRUE(signer.error().empty());
  for (const auto& f : fields) {
    EXPECT_EQ(f.name, "DKIM-Signature");
    SignatureParse p = parse_signature(f.value);
    ASSERT_TRUE(p.ok()) << p.detail << "\n" << f.value;
    EXPECT_EQ(p.signature.timestamp, kNow);
    EXPECT_EQ(p.signature.expiration, kNow + 86400);
    // Default h=: present fields once, over-signed ones once more (RFC 6376 §8.15).
    std::string h;
    for (const auto& n : p.signature.signed_headers) h += n + ":";
    EXPECT_EQ(h, "from:from:reply-to:subject:subject:date:date:to:to:cc:content-type:") << f.value;
    for (std::size_t pos = 0; (pos = f.value.find("\r\n", pos)) != std::string::npos; pos += 2)
      EXPECT_TRUE(f.value[pos + 2] == '\t' || f.value[pos + 2] == ' ');  // properly folded
    m.headers.insert(m.headers.begin(), f);
  }
  dns::StaticResolver resolver;
  resolver.add_txt("rsa._domainkey.example.com", k.rsa2048.dns_txt);
  resolver.add_txt("ed._domainkey.example.com", k.ed.dns_txt);
  KeyCache cache;
  auto r = verify_message(resolver, cache, m, VerifyOptions{.now = kNow});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, Status::pass) << r[0].reason;
  EXPECT_EQ(r[0].algorithm, "ed25519-sha256");
  EXPECT_EQ(r[1].status, Status::pass) << r[1].reason;
  EXPECT_EQ(r[1].algorithm, "rsa-sha256");
  // An added Subject (over-signed) or a second From breaks the signatures.
  mail::Message added = m;
  added.headers.push_back({"Subject", " Second subject"});
  for (const auto& x : verify_message(resolver, cache, added, {})) EXPECT_EQ(x.status, Status::fail);
  mail::Message two_from = m;
  two_from.headers.push_back({"From", " evil@example.org"});
  for (const auto& x : verify_message(resolver, cache, two_from, {})) EXPECT_EQ(x.status, Status::fail);
}

TEST(DkimSign, RefusesWithoutFrom) {
  mail::Message m = sample_message();
  m.headers.erase(m.headers.begin());
  Signer signer({SigningKey::load_pem("example.com", "rsa", keys().rsa2048.private_pem)}, {});
  signer.set_headers(m.headers);
  signer.add_body(m.body);
  EXPECT_TRUE(signer.finish().empty());
  EXPECT_NE(signer.error().find("From"), std::string::npos);
}

TEST(DkimSign, KeyLoadingErrors) {
  EXPECT_THROW(SigningKey::load_pem_file("example.com", "s", "/nonexistent/key.pem"), std::runtime_error);
  try {
    SigningKey::load_pem_file("example.com", "s", "/nonexistent/key.pem");
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/key.pem"), std::string::npos);
  }
  EXPECT_THROW(SigningKey::load_pem("example.com", "s", "not a key"), std::runtime_error);
  EXPECT_THROW(SigningKey::from_ed25519_seed("example.com", "s", "short"), std::runtime_error);
}

TEST(DkimSign, GeneratedKeyRecordsParse) {
  const Keys& k = keys();
  for (const GeneratedKey* g : {&k.rsa2048, &k.ed}) {
    KeyRecordParse p = parse_key_record(g->dns_txt);
    ASSERT_TRUE(p.ok()) << p.detail;
    std::string error;
    auto pk = crypto::load_public_key(p.record.type, p.record.public_key, error);
    ASSERT_TRUE(pk) << error;
    EXPECT_EQ(pk->bits, g == &k.ed ? 256u : 2048u);
    EXPECT_EQ(g->private_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  }
  EXPECT_EQ(k.rsa2048.dns_txt.rfind("v=DKIM1; k=rsa; p=", 0), 0u);
  EXPECT_EQ(k.ed.dns_txt.rfind("v=DKIM1; k=ed25519; p=", 0), 0u);
}

}  // namespace
}  // namespace mailward::dkim
