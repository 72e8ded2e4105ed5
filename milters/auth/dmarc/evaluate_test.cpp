// Table-driven tests for DMARC evaluation: discovery (RFC 7489 §6.6.3), alignment (§3.1) on the PSL,
// p/sp/np, pct sampling (§6.6.4), t=y, DNS failures, reasons; and evaluate_all (§6.6.1).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/dns/static_resolver.h"
#include "milters/auth/dmarc/dmarc.h"

namespace mailward::dmarc {
namespace {

const PublicSuffixList* psl_or_null() {
  const char* env = std::getenv("MAILWARD_CORPORA");
  static const std::string path =
      std::string(env != nullptr ? env : MAILWARD_CORPORA_DEFAULT) + "/public-suffix-list/upstream-2026-08/public_suffix_list.dat";
  if (!std::ifstream(path)) return nullptr;
  static const PublicSuffixList list = PublicSuffixList::load_file(path);
  return &list;
}

#define REQUIRE_PSL()                                                   \
  const PublicSuffixList* psl_ptr = psl_or_null();                      \
  if (psl_ptr == nullptr) GTEST_SKIP() << "corpus absent: public-suffix-list"; \
  const PublicSuffixList& psl = *psl_ptr

void fill(dns::StaticResolver& r) {
  r.add_txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine");
  r.add_txt("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s");
  r.add_txt("_dmarc.victim.github.io", "v=DMARC1; p=reject");
  r.add_txt("_dmarc.github.io", "v=DMARC1; p=none");
  r.add_txt("_dmarc.co.uk", "v=DMARC1; p=none");
  r.add_txt("_dmarc.bank.co.uk", "v=DMARC1; p=reject");
  r.add_txt("_dmarc.half.example", "v=DMARC1; p=reject; pct=50");
  r.add_txt("_dmarc.halfq.example", "v=DMARC1; p=quarantine; pct=50");
  r.add_txt("_dmarc.zero.example", "v=DMARC1; p=reject; pct=0");
  r.add_txt("_dmarc.testing.example", "v=DMARC1; p=reject; pct=50; t=y");
  r.add_txt("_dmarc.np.example", "v=DMARC1; p=reject; sp=quarantine; np=none");
  r.add_address("real.np.example", *net::IpAddress::parse("192.0.2.1"));
  r.add_failure("flaky.np.example", dns::Status::server_failure);
  r.add_txt("_dmarc.two.example", "v=DMARC1; p=reject");
  r.add_txt("_dmarc.two.example", "v=DMARC1; p=none");
  r.add_txt("_dmarc.broken.example", "v=DMARC1; adkim=s");
  r.add_txt("_dmarc.spf-only.example", "v=spf1 -all");
  r.add_failure("_dmarc.timeout.example", dns::Status::timeout);
  r.add_failure("_dmarc.servfail.example", dns::Status::server_failure);
  r.add_txt("_dmarc.sub.org-timeout.example", "v=DMARC1; p=none");
}

struct Case {
  const char* name;
  const char* from;
  const char* spf_domain;
  bool spf_pass;
  std::vector<std::string> dkim;
  unsigned draw;
  Status status;
  Policy published;
  Policy applied;
  bool spf_aligned, dkim_aligned;
  const char* record_domain;
};

const Case kCases[] = {
    {"dkim exact", "example.com", "", false, {"example.com"}, 0, Status::pass, Policy::reject, Policy::none, false, true, "example.com"},
    {"dkim relaxed parent", "mail.example.com", "", false, {"example.com"}, 0, Status::pass, Policy::quarantine, Policy::none, false, true, "example.com"},
    {"dkim relaxed sibling", "a.example.com", "", false, {"b.example.com"}, 0, Status::pass, Policy::quarantine, Policy::none, false, true, "example.com"},
    {"dkim case-insensitive", "Example.COM", "", false, {"EXAMPLE.com."}, 0, Status::pass, Policy::reject, Policy::none, false, true, "example.com"},
    {"spf relaxed", "example.com", "bounce.example.com", true, {}, 0, Status::pass, Policy::reject, Policy::none, true, false, "example.com"},
    {"spf not passing", "example.com", "example.com", false, {}, 0, Status::fail, Policy::reject, Policy::reject, false, false, "example.com"},
    {"unrelated", "example.com", "other.example", true, {"example.net"}, 0, Status::fail, Policy::reject, Policy::reject, false, false, "example.com"},
    {"suffix is not alignment", "example.com", "notexample.com", true, {"xexample.com"}, 0, Status::fail, Policy::reject, Policy::reject, false, false, "example.com"},
    // github.io is a public suffix (PRIVATE section): victim.github.io is its own organization
    {"psl private: no cross-alignment", "victim.github.io", "attacker.github.io", true, {"github.io", "evil.github.io"}, 0, Status::fail, Policy::reject, Policy::reject, false, false, "victim.github.io"},
    {"psl private: subdomain aligns", "victim.github.io", "", false, {"mail.victim.github.io"}, 0, Status::pass, Policy::reject, Policy::none, false, true, "victim.github.io"},
    {"psl icann: co.uk siblings", "bank.co.uk", "", false, {"evil.co.uk"}, 0, Status::fail, Policy::reject, Policy::reject, false, false, "bank.co.uk"},
    {"strict dkim parent fails", "mail.strict.example", "", false, {"strict.example"}, 0, Status::fail, Policy::reject, Policy::reject, false, false, "strict.example"},
    {"strict exact passes", "strict.example", "STRICT.example", true, {}, 0, Status::pass, Policy::reject, Policy::none, true, false, "strict.example"},
    // pct (§6.6.4): draw < pct applies the policy, else one step milder
    {"pct sampled in", "half.example", "", false, {}, 49, Status::fail, Policy::reject, Policy::reject, false, false, "half.example"},
    {"pct sampled out reject", "half.example", "", false, {}, 50, Status::fail, Policy::reject, Policy::quarantine, false, false, "half.example"},
    {"pct sampled out quarantine", "halfq.example", "", false, {}, 99, Status::fail, Policy::quarantine, Policy::none, false, false, "halfq.example"},
    {"pct=0 always out", "zero.example", "", false, {}, 0, Status::fail, Policy::reject, Policy::quarantine, false, false, "zero.example"},
    {"pct does not touch pass", "zero.example", "", false, {"zero.example"}, 0, Status::pass, Policy::reject, Policy::none, false, true, "zero.example"},
    {"t=y overrides pct", "testing.example", "", false, {}, 0, Status::fail, Policy::reject, Policy::quarantine, false, false, "testing.example"},
    // np (RFC 9989) only for non-existent subdomains with the org record
    {"np non-existent", "ghost.np.example", "", false, {}, 0, Status::fail, Policy::none, Policy::none, false, false, "np.example"},
    {"np existing -> sp", "real.np.example", "", false, {}, 0, Status::fail, Policy::quarantine, Policy::quarantine, false, false, "np.example"},
    {"np dns failure -> sp", "flaky.np.example", "", false, {}, 0, Status::fail, Policy::quarantine, Policy::quarantine, false, false, "np.example"},
    {"np not for the org itself", "np.example", "", false, {}, 0, Status::fail, Policy::reject, Policy::reject, false, false, "np.example"},
    // discovery outcomes
    {"several records", "two.example", "", false, {"two.example"}, 0, Status::none, Policy::none, Policy::none, false, true, ""},
    {"unusable record", "broken.example", "", false, {}, 0, Status::permerror, Policy::none, Policy::none, false, false, "broken.example"},
    {"non-dmarc txt only", "spf-only.example", "", false, {}, 0, Status::none, Policy::none, Policy::none, false, false, ""},
    {"no record", "nothing.example", "", false, {}, 0, Status::none, Policy::none, Policy::none, false, false, ""},
    {"timeout", "timeout.example", "", false, {"timeout.example"}, 0, Status::temperror, Policy::none, Policy::none, false, true, ""},
    {"servfail at org domain", "a.servfail.example", "", false, {}, 0, Status::temperror, Policy::none, Policy::none, false, false, ""},
    {"public suffix from", "co.uk", "", false, {"bank.co.uk"}, 0, Status::fail, Policy::none, Policy::none, false, false, "co.uk"},
    {"empty from", "", "", false, {}, 0, Status::permerror, Policy::none, Policy::none, false, false, ""},
    {"garbage from", "exa mple.com", "", false, {}, 0, Status::permerror, Policy::none, Policy::none, false, false, ""},
};

TEST(DmarcEvaluate, Table) {
  REQUIRE_PSL();
  dns::StaticResolver resolver;
  fill(resolver);
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    Input in;
    in.from_domain = c.from;
    in.spf_domain = c.spf_domain;
    in.spf_pass = c.spf_pass;
    in.dkim_pass_domains = c.dkim;
    const Result r = evaluate(resolver, psl, in, c.draw);
    EXPECT_EQ(to_string(r.status), to_string(c.status)) << r.reason;
    EXPECT_EQ(to_string(r.published), to_string(c.published));
    EXPECT_EQ(to_string(r.applied), to_string(c.applied));
    EXPECT_EQ(r.spf_aligned, c.spf_aligned);
    EXPECT_EQ(r.dkim_aligned, c.dkim_aligned);
    EXPECT_EQ(r.record_domain, c.record_domain);
    EXPECT_FALSE(r.reason.empty());
  }
}

TEST(DmarcEvaluate, Reasons) {
  REQUIRE_PSL();
  dns::StaticResolver resolver;
  fill(resolver);
  Input in{"example.com", "bounce.other.example", true, {"other.example"}};
  EXPECT_EQ(evaluate(resolver, psl, in, 0).reason,
            "example.com publishes p=reject; no aligned DKIM signature (d=other.example, relaxed); "
            "SPF domain bounce.other.example not aligned (relaxed)");
  in = {"mail.example.com", "", false, {}};
  EXPECT_EQ(evaluate(resolver, psl, in, 0).reason,
            "example.com publishes sp=quarantine; no passing DKIM signature; SPF did not pass");
  in = {"half.example", "", false, {}};
  EXPECT_EQ(evaluate(resolver, psl, in, 70).reason,
            "half.example publishes p=reject; no passing DKIM signature; SPF did not pass; "
            "pct=50 sampled out: applying quarantine");
  in = {"example.com", "", false, {"example.com"}};
  EXPECT_EQ(evaluate(resolver, psl, in, 0).reason, "example.com publishes p=reject; aligned DKIM signature d=example.com");
  in = {"two.example", "", false, {}};
  EXPECT_EQ(evaluate(resolver, psl, in, 0).reason, "2 DMARC records at _dmarc.two.example (RFC 7489 §6.6.3: none applies)");
  in = {"broken.example", "", false, {}};
  EXPECT_EQ(evaluate(resolver, psl, in, 0).reason,
            "DMARC record at _dmarc.broken.example unusable: no p= tag and no valid rua= (RFC 7489 §6.6.3)");
  in = {"a.b.nothing.example", "", false, {}};
  EXPECT_EQ(evaluate(resolver, psl, in, 0).reason, "no DMARC record for a.b.nothing.example or nothing.example");
}

TEST(DmarcEvaluate, ResultFields) {
  REQUIRE_PSL();
  dns::StaticResolver resolver;
  fill(resolver);
  const Result r = evaluate(resolver, psl, {"Mail.Example.COM", "x.example.com", true, {"EXAMPLE.com"}}, 0);
  EXPECT_EQ(r.header_from, "mail.example.com");
  EXPECT_EQ(r.organizational_domain, "example.com");
  EXPECT_EQ(r.record_domain, "example.com");
  EXPECT_EQ(r.record_text, "v=DMARC1; p=reject; sp=quarantine");
  ASSERT_TRUE(r.record);
  EXPECT_EQ(r.record->subdomain_policy, Policy::quarantine);
  EXPECT_EQ(r.dkim_aligned_domain, "example.com");
  EXPECT_EQ(r.spf_aligned_domain, "x.example.com");
  EXPECT_FALSE(r.sampled_out);
  EXPECT_FALSE(r.test_mode);
}

TEST(DmarcEvaluate, DiscoveryQueriesAtMostTwoNames) {
  REQUIRE_PSL();
  dns::StaticResolver resolver;
  fill(resolver);
  const std::size_t before = resolver.lookup_count();
  const Discovery d = discover_record(resolver, psl, "a.b.c.d.e.f.g.h.nothing.example");
  EXPECT_EQ(d.status, DiscoveryStatus::none);
  EXPECT_EQ(resolver.lookup_count() - before, 2u);
  const Discovery ip = discover_record(resolver, psl, "192.0.2.1");
  EXPECT_EQ(ip.organizational_domain, "192.0.2.1");
  EXPECT_EQ(resolver.lookup_count() - before, 3u);  // no "_dmarc.2.1"
}

TEST(DmarcEvaluate, WorstOfSeveralAuthorDomains) {
  REQUIRE_PSL();
  dns::StaticResolver resolver;
  fill(resolver);
  const Input in{"", "", false, {"example.com"}};
  // example.com passes, half.example fails with reject: the failing one decides.
  Result r = evaluate_all(resolver, psl, {"example.com", "half.example"}, in, 0);
  EXPECT_EQ(r.status, Status::fail);
  EXPECT_EQ(r.header_from, "half.example");
  EXPECT_EQ(r.applied, Policy::reject);
  EXPECT_EQ(r.reason.rfind("worst of 2 author domains (RFC 7489 §6.6.1): ", 0), 0u) << r.reason;
  // the strictest failing policy wins: halfq.example (quarantine) vs bank.co.uk (reject)
  r = evaluate_all(resolver, psl, {"halfq.example", "bank.co.uk"}, Input{}, 0);
  EXPECT_EQ(r.header_from, "bank.co.uk");
  // a pass and a temperror -> temperror
  r = evaluate_all(resolver, psl, {"example.com", "timeout.example"}, in, 0);
  EXPECT_EQ(r.status, Status::temperror);
  r = evaluate_all(resolver, psl, {}, in, 0);
  EXPECT_EQ(r.status, Status::permerror);
  r = evaluate_all(resolver, psl, {"example.com"}, in, 0);
  EXPECT_EQ(r.status, Status::pass);
  EXPECT_EQ(r.reason.find("worst of"), std::string::npos);
}

TEST(DmarcEvaluate, ToString) {
  EXPECT_EQ(to_string(Status::none), "none");
  EXPECT_EQ(to_string(Status::pass), "pass");
  EXPECT_EQ(to_string(Status::fail), "fail");
  EXPECT_EQ(to_string(Status::temperror), "temperror");
  EXPECT_EQ(to_string(Status::permerror), "permerror");
  EXPECT_EQ(to_string(Policy::none), "none");
  EXPECT_EQ(to_string(Policy::quarantine), "quarantine");
  EXPECT_EQ(to_string(Policy::reject), "reject");
}

TEST(DmarcEvaluate, DomainNames) {
  const std::pair<std::string, bool> cases[] = {
      {"example.com", true}, {"example.com.", true}, {"localhost", true}, {"xn--p1ai", true},
      {"bücher.example", true}, {"", false}, {".", false}, {"a..b", false}, {".a", false},
      {"exa mple.com", false}, {"a@b", false}, {"[192.0.2.1]", false},
      {std::string(63, 'a') + ".com", true}, {std::string(64, 'a') + ".com", false},
      {std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd'), true},
      {std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(62, 'd'), false},
  };
  for (const auto& [d, ok] : cases) EXPECT_EQ(is_domain_name(d), ok) << d;
}

}  // namespace
}  // namespace mailward::dmarc
