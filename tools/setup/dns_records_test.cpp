// `mailward dns`: the records printed (exact zone-file lines) and every --check outcome, against the
// in-memory resolver (dns::StaticResolver); the DKIM key is a real generated key.
#include "tools/setup/dns_records.h"

#include <gtest/gtest.h>

#include "common/dns/static_resolver.h"
#include "milters/auth/dkim/base64.h"

namespace mailward::setup {
namespace {

net::IpAddress ip(const char* s) { return *net::IpAddress::parse(s); }

struct Fixture {
  DnsRequest request;
  dkim::GeneratedKey rsa = dkim::generate_key(dkim::KeyType::rsa, 1024);
  dkim::GeneratedKey ed = dkim::generate_key(dkim::KeyType::ed25519);
  Fixture() {
    request.domain = "ex.org";
    request.mx = "mail.ex.org";
    request.mx_given = true;
    request.ips = {ip("192.0.2.10"), ip("2001:db8::10")};
    request.report = "dmarc@ex.org";
    request.mta_sts = true;
    request.tls_rpt = true;
    request.mta_sts_id = "20261128000000";
    for (auto [sel, key, type] : {std::tuple{"r1", &rsa, dkim::KeyType::rsa}, std::tuple{"e1", &ed, dkim::KeyType::ed25519}}) {
      DkimPublicKey k = dkim_public_key(dkim::SigningKey::load_pem("ex.org", sel, key->private_pem));
      EXPECT_EQ(k.type, type);
      k.key_file = std::string("/keys/") + sel + ".key";
      request.dkim.push_back(k);
    }
  }
  // Everything published correctly.
  // Everything published correctly, except the records of the name `skip`.
  void publish(dns::StaticResolver& z, const std::string& skip = "") {
    auto keep = [&](const std::string& name) { return name != skip; };
    if (keep("ex.org/mx")) z.add_mx("ex.org", 10, "mail.ex.org");
    if (keep("mail.ex.org")) {
      z.add_address("mail.ex.org", ip("192.0.2.10"));
      z.add_address("mail.ex.org", ip("2001:db8::10"));
    }
    if (keep("ex.org/txt")) {
      z.add_txt("ex.org", "v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::10 -all");
      z.add_txt("ex.org", "google-site-verification=abc");
    }
    z.add_txt("r1._domainkey.ex.org", rsa.dns_txt);
    z.add_txt("e1._domainkey.ex.org", ed.dns_txt);
    if (keep("_dmarc.ex.org")) z.add_txt("_dmarc.ex.org", "v=DMARC1; p=quarantine; rua=mailto:dmarc@ex.org");
    z.add_txt("_mta-sts.ex.org", "v=STSv1; id=1");
    if (keep("_smtp._tls.ex.org")) z.add_txt("_smtp._tls.ex.org", "v=TLSRPTv1; rua=mailto:dmarc@ex.org");
    if (keep("ptr4")) z.add_ptr("10.2.0.192.in-addr.arpa", "mail.ex.org");
    z.add_ptr(ip("2001:db8::10").reverse_name(), "mail.ex.org");
  }
};

std::vector<std::string> formatted(const std::vector<CheckLine>& lines) {
  std::vector<std::string> out;
  for (const CheckLine& l : lines) out.push_back(format_check_line(l));
  return out;
}

TEST(DnsRecords, ZoneLines) {
  Fixture f;
  f.request.spf_includes = {"relay.example"};
  std::vector<DnsRecord> records = records_for(f.request);
  std::vector<std::string> lines;
  for (const DnsRecord& r : records) lines.push_back(zone_line(r));
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(lines[0], "ex.org. IN MX 10 mail.ex.org.");
  EXPECT_EQ(lines[1], "mail.ex.org. IN A 192.0.2.10");
  EXPECT_EQ(lines[2], "mail.ex.org. IN AAAA 2001:db8::10");
  EXPECT_EQ(lines[3], "ex.org. IN TXT ( \"v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::10 include:relay.example -all\" )");
  EXPECT_EQ(lines[4].substr(0, 44), "r1._domainkey.ex.org. IN TXT ( \"v=DKIM1; k=r");
  // The published text equals what keygen prints for that key, split into 255-byte strings.
  EXPECT_EQ(records[4].value, f.rsa.dns_txt);
  EXPECT_EQ(records[5].value, f.ed.dns_txt);
  EXPECT_EQ(lines[5], "e1._domainkey.ex.org. IN TXT ( \"" + f.ed.dns_txt + "\" )");
  EXPECT_EQ(lines[6], "_dmarc.ex.org. IN TXT ( \"v=DMARC1; p=quarantine; rua=mailto:dmarc@ex.org\" )");
  EXPECT_EQ(lines[7], "_mta-sts.ex.org. IN TXT ( \"v=STSv1; id=20261128000000\" )");
  EXPECT_EQ(lines[8], "_smtp._tls.ex.org. IN TXT ( \"v=TLSRPTv1; rua=mailto:dmarc@ex.org\" )");
  DnsRecord long_txt{"x.ex.org", "TXT", std::string(300, 'a'), "t"};
  EXPECT_EQ(zone_line(long_txt), "x.ex.org. IN TXT ( \"" + std::string(255, 'a') + "\" \"" + std::string(45, 'a') + "\" )");
  EXPECT_EQ(zone_line(ptr_hint(f.request, ip("192.0.2.10"))), "10.2.0.192.in-addr.arpa. IN PTR mail.ex.org.");
  EXPECT_EQ(mta_sts_policy(f.request), "version: STSv1\nmode: testing\nmx: mail.ex.org\nmax_age: 604800\n");
}

TEST(DnsCheck, AllPublished) {
  Fixture f;
  dns::StaticResolver z;
  f.publish(z);
  std::vector<std::string> got = formatted(check_records(z, f.request, 1800000000));
  std::vector<std::string> want = {
      "ok      MX      ex.org  10 mail.ex.org",
      "ok      A       mail.ex.org  192.0.2.10",
      "ok      AAAA    mail.ex.org  2001:db8::10",
      "ok      SPF     ex.org  pass for every --ip: \"v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::10 -all\"",
      "ok      DKIM    r1._domainkey.ex.org  matches /keys/r1.key (rsa)",
      "ok      DKIM    e1._domainkey.ex.org  matches /keys/e1.key (ed25519)",
      "ok      DMARC   _dmarc.ex.org  p=quarantine, rua=mailto:dmarc@ex.org",
      "ok      MTA-STS _mta-sts.ex.org  \"v=STSv1; id=1\"",
      "ok      TLS-RPT _smtp._tls.ex.org  \"v=TLSRPTv1; rua=mailto:dmarc@ex.org\"",
      "ok      PTR     10.2.0.192.in-addr.arpa  192.0.2.10 -> mail.ex.org -> 192.0.2.10",
      "ok      PTR     " + ip("2001:db8::10").reverse_name() + "  2001:db8::10 -> mail.ex.org -> 2001:db8::10",
  };
  EXPECT_EQ(got, want);
}

TEST(DnsCheck, NothingPublished) {
  Fixture f;
  dns::StaticResolver z;
  std::vector<CheckLine> lines = check_records(z, f.request, 0);
  ASSERT_EQ(lines.size(), 11u);
  for (const CheckLine& l : lines) EXPECT_EQ(l.status, CheckStatus::missing) << format_check_line(l);
  EXPECT_EQ(format_check_line(lines[0]), "missing MX      ex.org  no MX record (mail would go to the domain's own address)");
  EXPECT_EQ(lines[4].detail, "no key record (the key is /keys/r1.key)");
}

// One thing wrong at a time: the line for that record, exactly.
TEST(DnsCheck, EachWrongOutcome) {
  struct Case {
    const char* name;
    const char* skip;  // what publish() leaves out for the change to replace
    void (*change)(Fixture&, dns::StaticResolver&);
    std::size_t index;  // line index in the output
    std::string want;
  };
  std::vector<Case> cases = {
      {"MX elsewhere", "ex.org/mx",
       [](Fixture&, dns::StaticResolver& z) { z.add_mx("ex.org", 5, "mx.other.example"); },
       0, "wrong   MX      ex.org  published 5 mx.other.example; mail.ex.org is not among them"},
      {"two SPF records", "",
       [](Fixture&, dns::StaticResolver& z) { z.add_txt("ex.org", "v=spf1 -all"); },
       3, "wrong   SPF     ex.org  2 v=spf1 records (RFC 7208 §4.5: permerror); publish one"},
      {"an --ip that SPF does not pass", "",
       [](Fixture& f, dns::StaticResolver&) { f.request.ips.push_back(ip("198.51.100.7")); },
       4, "wrong   SPF     ex.org  198.51.100.7: fail (-all)"},
      {"DKIM with another key", "",
       [](Fixture& f, dns::StaticResolver&) { f.request.dkim[0].public_key = dkim::generate_key(dkim::KeyType::rsa, 1024).dns_txt; },
       4, "wrong   DKIM    r1._domainkey.ex.org  p= is not the public half of /keys/r1.key"},
      {"DKIM k= differs", "",
       [](Fixture& f, dns::StaticResolver&) { f.request.dkim[1].selector = "r1"; },
       5, "wrong   DKIM    r1._domainkey.ex.org  k=rsa published, the key in /keys/e1.key is ed25519"},
      {"DKIM record that does not parse", "",
       [](Fixture& f, dns::StaticResolver& z) { f.request.dkim[0].selector = "bad"; z.add_txt("bad._domainkey.ex.org", "v=DKIM1; p=%%%"); },
       4, "wrong   DKIM    bad._domainkey.ex.org  does not parse: "},
      {"DMARC p=none", "_dmarc.ex.org",
       [](Fixture&, dns::StaticResolver& z) { z.add_txt("_dmarc.ex.org", "v=DMARC1; p=none"); },
       6, "warn    DMARC   _dmarc.ex.org  p=none, no rua= (no aggregate reports): p=none asks receivers to do nothing with spoofed mail"},
      {"two DMARC records", "",
       [](Fixture&, dns::StaticResolver& z) { z.add_txt("_dmarc.ex.org", "v=DMARC1; p=reject"); },
       6, "wrong   DMARC   _dmarc.ex.org  2 v=DMARC1 records: receivers apply none"},
      {"DMARC that does not parse", "_dmarc.ex.org",
       [](Fixture&, dns::StaticResolver& z) { z.add_txt("_dmarc.ex.org", "v=DMARC1; p=bogus"); },
       6, "wrong   DMARC   _dmarc.ex.org  does not parse: "},
      {"TLS-RPT without rua", "_smtp._tls.ex.org",
       [](Fixture&, dns::StaticResolver& z) { z.add_txt("_smtp._tls.ex.org", "v=TLSRPTv1;"); },
       8, "wrong   TLS-RPT _smtp._tls.ex.org  no rua= in \"v=TLSRPTv1;\""},
      {"PTR not forward-confirmed", "ptr4",
       [](Fixture&, dns::StaticResolver& z) { z.add_ptr("10.2.0.192.in-addr.arpa", "host.isp.example"); },
       9, "wrong   PTR     10.2.0.192.in-addr.arpa  192.0.2.10 -> host.isp.example, which does not resolve back to 192.0.2.10"},
      {"MX host address differs", "mail.ex.org",
       [](Fixture&, dns::StaticResolver& z) { z.add_address("mail.ex.org", ip("192.0.2.99")); },
       1, "wrong   A       mail.ex.org  192.0.2.10 is not among the published addresses"},
      {"SERVFAIL", "_dmarc.ex.org",
       [](Fixture&, dns::StaticResolver& z) { z.add_failure("_dmarc.ex.org", dns::Status::server_failure); },
       6, "error   DMARC   _dmarc.ex.org  lookup failed (server failure: "},
  };
  for (const Case& c : cases) {
    Fixture f;
    dns::StaticResolver z;
    f.publish(z, c.skip);
    c.change(f, z);
    std::vector<std::string> got = formatted(check_records(z, f.request, 0));
    ASSERT_GT(got.size(), c.index) << c.name;
    EXPECT_EQ(got[c.index].substr(0, c.want.size()), c.want) << c.name << "\n got: " << got[c.index];
  }
}

TEST(DnsCheck, ExtraTxtAndCaseAreFine) {
  Fixture f;
  f.request.ips.clear();
  f.request.mx_given = false;
  f.request.mta_sts = f.request.tls_rpt = false;
  dns::StaticResolver z;
  f.publish(z);
  z.add_txt("ex.org", "v=spf10 not spf");  // not an SPF record (RFC 7208 §4.5)
  std::vector<std::string> got = formatted(check_records(z, f.request, 0));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[1], "ok      SPF     ex.org  \"v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::10 -all\"");
}

}  // namespace
}  // namespace mailward::setup
