// Unit tests for the processing limits of RFC 7208 §4.6.4 (one budget for the whole evaluation,
// never reset per include), loops, DNS failures and hostile records.
#include <gtest/gtest.h>

#include <string>

#include "common/dns/static_resolver.h"
#include "milters/auth/spf/spf.h"

namespace mailward::spf {
namespace {

Request request(const char* ip, const char* from) {
  Request r;
  r.client_ip = *net::IpAddress::parse(ip);
  r.mail_from = from;
  r.helo = "mail.client.example";
  return r;
}

TEST(SpfLimits, IncludeChainOfElevenLookupsIsPermerror) {
  dns::StaticResolver dns;
  // a.example includes c1, c1 includes c2, ... c10 includes c11: 11 include terms.
  dns.add_txt("a.example", "v=spf1 include:c1.example -all");
  for (int i = 1; i <= 10; ++i)
    dns.add_txt("c" + std::to_string(i) + ".example",
                "v=spf1 include:c" + std::to_string(i + 1) + ".example -all");
  dns.add_txt("c11.example", "v=spf1 +all");
  Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(v.result, Result::permerror);
  EXPECT_NE(v.problem.find("more than 10 DNS-querying terms"), std::string::npos) << v.problem;
  EXPECT_NE(v.problem.find("§4.6.4"), std::string::npos) << v.problem;
  EXPECT_EQ(v.dns_lookups, 11u);
}

TEST(SpfLimits, TenLookupsAcrossIncludesStillPass) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 include:c1.example -all");
  for (int i = 1; i <= 9; ++i)
    dns.add_txt("c" + std::to_string(i) + ".example",
                "v=spf1 include:c" + std::to_string(i + 1) + ".example -all");
  dns.add_txt("c10.example", "v=spf1 ip4:192.0.2.1 -all");
  Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(v.result, Result::pass) << v.problem;
  EXPECT_EQ(v.dns_lookups, 10u);
}

TEST(SpfLimits, BudgetIsSharedNotResetPerInclude) {
  // Each included record uses 4 terms itself: 1 + 3 * (1 + 4) > 10, although no single record
  // has more than 10. libspf2 resets per include; RFC 7208 §4.6.4 counts the whole evaluation.
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 include:b1.example include:b2.example include:b3.example -all");
  for (int i = 1; i <= 3; ++i)
    dns.add_txt("b" + std::to_string(i) + ".example",
                "v=spf1 a:h.example a:h.example a:h.example a:h.example -all");
  dns.add_address("h.example", *net::IpAddress::parse("198.51.100.1"));
  Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(v.result, Result::permerror);
  EXPECT_NE(v.problem.find("DNS-querying terms"), std::string::npos) << v.problem;
}

TEST(SpfLimits, VoidLookupLimit) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 a:n1.example a:n2.example a:n3.example -all");
  Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(v.result, Result::permerror);
  EXPECT_NE(v.problem.find("void"), std::string::npos) << v.problem;
  EXPECT_EQ(v.void_lookups, 3u);

  dns::StaticResolver two;
  two.add_txt("a.example", "v=spf1 a:n1.example mx:n2.example -all");
  Verdict w = check_mail_from(two, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(w.result, Result::fail) << w.problem;
  EXPECT_EQ(w.void_lookups, 2u);
}

TEST(SpfLimits, MxWithElevenNamesIsPermerror) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 mx -all");
  for (int i = 1; i <= 11; ++i) {
    std::string host = "mx" + std::to_string(i) + ".a.example";
    dns.add_mx("a.example", static_cast<std::uint16_t>(i), host);
    dns.add_address(host, *net::IpAddress::parse(("192.0.2." + std::to_string(i)).c_str()));
  }
  Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(v.result, Result::permerror);
  EXPECT_NE(v.problem.find("11 MX names"), std::string::npos) << v.problem;
}

TEST(SpfLimits, MxWithTenNamesEvaluates) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 mx -all");
  for (int i = 1; i <= 10; ++i) {
    std::string host = "mx" + std::to_string(i) + ".a.example";
    dns.add_mx("a.example", static_cast<std::uint16_t>(i), host);
    dns.add_address(host, *net::IpAddress::parse(("192.0.2." + std::to_string(i)).c_str()));
  }
  EXPECT_EQ(check_mail_from(dns, request("192.0.2.10", "x@a.example")).result, Result::pass);
  EXPECT_EQ(check_mail_from(dns, request("192.0.2.11", "x@a.example")).result, Result::fail);
}

TEST(SpfLimits, PtrBeyondTenNamesIgnored) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 ptr -all");
  auto ip = *net::IpAddress::parse("192.0.2.1");
  for (int i = 1; i <= 11; ++i) {
    std::string host = "h" + std::to_string(i) + ".a.example";
    dns.add_ptr(ip.reverse_name(), host);
    dns.add_address(host, i == 11 ? ip : *net::IpAddress::parse("198.51.100.1"));
  }
  // Only the 11th name validates; §4.6.4 says to ignore it: no match.
  EXPECT_EQ(check_mail_from(dns, request("192.0.2.1", "x@a.example")).result, Result::fail);
}

TEST(SpfLimits, IncludeLoopIsPermerrorNotHang) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 include:b.example -all");
  dns.add_txt("b.example", "v=spf1 include:a.example -all");
  Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(v.result, Result::permerror);
  EXPECT_LE(dns.lookup_count(), 12u);
}

TEST(SpfLimits, RedirectLoopIsPermerror) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 redirect=a.example");
  Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(v.result, Result::permerror);
  EXPECT_EQ(v.dns_lookups, 11u);
}

TEST(SpfLimits, DnsTimeoutIsTemperrorNeverFail) {
  struct Row { const char* record; const char* failing; dns::RecordType type; };
  const Row rows[] = {
      {"v=spf1 -all", "a.example", dns::RecordType::txt},
      {"v=spf1 include:t.example -all", "t.example", dns::RecordType::txt},
      {"v=spf1 a:t.example -all", "t.example", dns::RecordType::a},
      {"v=spf1 mx:t.example -all", "t.example", dns::RecordType::mx},
      {"v=spf1 exists:t.example -all", "t.example", dns::RecordType::a},
      {"v=spf1 redirect=t.example", "t.example", dns::RecordType::txt},
  };
  for (const Row& row : rows) {
    dns::StaticResolver dns;
    dns.add_txt("a.example", row.record);
    dns.add_failure(row.failing, row.type, dns::Status::timeout);
    Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
    EXPECT_EQ(v.result, Result::temperror) << row.record;
    EXPECT_NE(v.problem.find("timeout"), std::string::npos) << row.record << ": " << v.problem;
  }
  dns::StaticResolver servfail;
  servfail.add_failure("a.example", dns::Status::server_failure);
  EXPECT_EQ(check_mail_from(servfail, request("192.0.2.1", "x@a.example")).result, Result::temperror);
}

TEST(SpfLimits, CnameLoopReportedByResolverIsTemperror) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 a:loop1.example -all");
  dns.add_cname("loop1.example", "loop2.example");
  dns.add_cname("loop2.example", "loop1.example");
  EXPECT_EQ(check_mail_from(dns, request("192.0.2.1", "x@a.example")).result, Result::temperror);
}

TEST(SpfLimits, TwoRecordsIsPermerror) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 -all");
  dns.add_txt("a.example", "v=spf1 +all");
  dns.add_txt("a.example", "google-site-verification=x");
  Verdict v = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(v.result, Result::permerror);
  EXPECT_EQ(v.problem, "2 SPF records for a.example (RFC 7208 §4.5)");
}

TEST(SpfLimits, HostileRecords) {
  dns::StaticResolver dns;
  std::string huge = "v=spf1";
  for (int i = 0; i < 5000; ++i) huge += " ip4:10.0.0." + std::to_string(i % 250);
  huge += " -all";
  dns.add_txt("huge.example", huge);
  dns.add_txt("nul.example", std::string("v=spf1 ip4:192.0.2.1\0 -all", 26));
  dns.add_txt("latin.example", "v=spf1 a:caf\xc3\xa9.example -all");
  std::string bomb = "v=spf1 exists:";
  for (int i = 0; i < 3000; ++i) bomb += "%{s}";
  bomb += " -all";
  dns.add_txt("bomb.example", bomb);
  EXPECT_EQ(check_mail_from(dns, request("192.0.2.1", "x@huge.example")).result, Result::fail);
  EXPECT_EQ(check_mail_from(dns, request("192.0.2.1", "x@nul.example")).result, Result::permerror);
  EXPECT_EQ(check_mail_from(dns, request("192.0.2.1", "x@latin.example")).result, Result::permerror);
  Verdict b = check_mail_from(dns, request("192.0.2.1",
                                          (std::string(60, 'l') + "@bomb.example").c_str()));
  EXPECT_EQ(b.result, Result::permerror);
  EXPECT_NE(b.problem.find("macro expansion longer than 16384 bytes"), std::string::npos) << b.problem;
  EXPECT_LT(b.problem.size(), 300u) << "the problem text must not repeat a hostile record whole";
}

TEST(SpfIdentity, HeloAndNullSender) {
  dns::StaticResolver dns;
  dns.add_txt("mail.client.example", "v=spf1 ip4:192.0.2.1 -all");
  Request r = request("192.0.2.1", "");
  Verdict v = check_mail_from(dns, r);
  EXPECT_EQ(v.result, Result::pass);
  EXPECT_EQ(v.sender, "postmaster@mail.client.example");
  EXPECT_EQ(v.domain, "mail.client.example");
  EXPECT_EQ(v.mechanism, "ip4:192.0.2.1");
  Verdict h = check_helo(dns, r);
  EXPECT_EQ(h.result, Result::pass);
  EXPECT_EQ(h.identity, Identity::helo);
  for (const char* helo : {"[192.0.2.1]", "192.0.2.1", "localhost", "", "a..b.example"}) {
    r.helo = helo;
    Verdict n = check_helo(dns, r);
    EXPECT_EQ(n.result, Result::none) << helo;
    EXPECT_FALSE(n.problem.empty()) << helo;
  }
}

TEST(SpfIdentity, MappedIpv6ClientIsEvaluatedAsIpv4) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 ip4:192.0.2.0/24 a:h.example -all");
  dns.add_address("h.example", *net::IpAddress::parse("198.51.100.7"));
  EXPECT_EQ(check_mail_from(dns, request("::ffff:192.0.2.9", "x@a.example")).result, Result::pass);
  EXPECT_EQ(check_mail_from(dns, request("::ffff:198.51.100.7", "x@a.example")).result, Result::pass);
  EXPECT_EQ(check_mail_from(dns, request("::ffff:198.51.100.8", "x@a.example")).result, Result::fail);
}

TEST(SpfExplanation, ExpandedOnFailOnly) {
  dns::StaticResolver dns;
  dns.add_txt("a.example", "v=spf1 ip4:192.0.2.1 -all exp=why.%{d}");
  dns.add_txt("why.a.example", "%{c} may not send for %{o} (%{r}, %{t})");
  Request r = request("2001:db8::1", "x@a.example");
  r.receiver = "mx.receiver.example";
  r.now = 1700000000;
  Verdict v = check_mail_from(dns, r);
  EXPECT_EQ(v.result, Result::fail);
  EXPECT_EQ(v.mechanism, "-all");
  EXPECT_EQ(v.explanation, "2001:db8::1 may not send for a.example (mx.receiver.example, 1700000000)");
  Verdict p = check_mail_from(dns, request("192.0.2.1", "x@a.example"));
  EXPECT_EQ(p.result, Result::pass);
  EXPECT_EQ(p.explanation, "");
}

}  // namespace
}  // namespace mailward::spf
