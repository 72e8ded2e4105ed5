// The Public Suffix List's own conformance checks (test_psl.txt) through PublicSuffixList, with the
// upstream and the Debian copies of the list from the corpus, and organizational-domain rules.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "milters/auth/dmarc/dmarc.h"

namespace mailward::dmarc {
namespace {

std::string corpora() {
  const char* env = std::getenv("MAILWARD_CORPORA");
  return env != nullptr ? env : MAILWARD_CORPORA_DEFAULT;
}

struct Check {
  bool null_input;
  std::string input;
  std::optional<std::string> expected;
};

std::vector<Check> read_checks(const std::string& path) {
  std::ifstream in(path);
  std::vector<Check> out;
  std::string line;
  const std::regex re(R"(^checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);)");
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, re)) continue;  // comments, including the 4 checks upstream comments out
    Check c;
    c.null_input = m[1] == "null";
    const std::string arg = m[1].str(), exp = m[2].str();
    if (!c.null_input) c.input = arg.substr(1, arg.size() - 2);
    if (exp != "null") c.expected = exp.substr(1, exp.size() - 2);
    out.push_back(std::move(c));
  }
  return out;
}

void run_checks(const std::string& list, const std::string& tests) {
  if (!std::ifstream(list) || !std::ifstream(tests)) GTEST_SKIP() << "corpus absent: " << list;
  const PublicSuffixList psl = PublicSuffixList::load_file(list);
  const std::vector<Check> checks = read_checks(tests);
  ASSERT_EQ(checks.size(), 78u) << "test_psl.txt: 82 checks, 4 of them commented out upstream";
  for (const Check& c : checks) {
    SCOPED_TRACE(c.null_input ? std::string("null") : c.input);
    EXPECT_EQ(psl.registrable_domain(c.input), c.expected);
    // The organizational domain is the registrable domain, or the (lowercased) name itself.
    if (c.expected) {
      EXPECT_EQ(psl.organizational_domain(c.input), *c.expected);
    }
  }
}

TEST(PublicSuffixList, UpstreamTestPslWithUpstreamList) {
  run_checks(corpora() + "/public-suffix-list/upstream-2026-08/public_suffix_list.dat",
             corpora() + "/public-suffix-list/upstream-2026-08/test_psl.txt");
}

TEST(PublicSuffixList, UpstreamTestPslWithDebianList) {
  run_checks(corpora() + "/public-suffix-list/debian-20230209/public_suffix_list.dat",
             corpora() + "/public-suffix-list/upstream-2026-08/test_psl.txt");
}

TEST(PublicSuffixList, UpstreamTestPslWithDebianDafsa) {
  run_checks(corpora() + "/public-suffix-list/debian-20230209/public_suffix_list.dafsa",
             corpora() + "/public-suffix-list/upstream-2026-08/test_psl.txt");
}

TEST(PublicSuffixList, SystemDefaultLoads) {
  const PublicSuffixList psl = PublicSuffixList::system_default();
  EXPECT_EQ(psl.organizational_domain("mail.example.com"), "example.com");
  EXPECT_EQ(psl.organizational_domain("www.example.co.uk"), "example.co.uk");
}

TEST(PublicSuffixList, LoadFileNamesTheFile) {
  try {
    (void)PublicSuffixList::load_file("/nonexistent/psl.dat");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/psl.dat"), std::string::npos) << e.what();
  }
}

TEST(PublicSuffixList, OrganizationalDomains) {
  const std::string list = corpora() + "/public-suffix-list/upstream-2026-08/public_suffix_list.dat";
  if (!std::ifstream(list)) GTEST_SKIP() << "corpus absent: " << list;
  const PublicSuffixList psl = PublicSuffixList::load_file(list);
  const std::pair<const char*, const char*> cases[] = {
      {"victim.github.io", "victim.github.io"},  // PRIVATE section counts
      {"www.victim.github.io", "victim.github.io"},
      {"github.io", "github.io"},                // a public suffix is its own org domain
      {"com", "com"},
      {"Mail.Example.COM.", "example.com"},
      {"localhost", "localhost"},
      {"192.0.2.1", "192.0.2.1"},                // never "2.1"
      {"a.b.c.d.e.f.g.h.i.j.k.example.com", "example.com"},
      {"foo.bank.example", "bank.example"},      // unlisted TLD: implicit "*" rule
      {"xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"},
      {"", ""},
  };
  for (const auto& [domain, org] : cases) EXPECT_EQ(psl.organizational_domain(domain), org) << domain;
}

}  // namespace
}  // namespace mailward::dmarc
