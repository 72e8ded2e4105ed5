// The engine end to end with an in-memory resolver and a fixed clock: what the milter decides for
// the scenarios, without Postfix (tests/integration runs the same through real Postfix).
#include "milters/milter/engine.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/dns/static_resolver.h"
#include "common/util/text.h"

using namespace mailward;
using milter::Action;
using milter::Decision;
using milter::HeaderEdit;

namespace {

constexpr std::int64_t kNow = 1'790'000'000;
const std::string kPsl = "com\nnet\nexample\n";

std::string write_temp(const std::string& name, const std::string& content) {
  auto path = std::filesystem::temp_directory_path() / ("mailward-engine-test-" + name);
  std::ofstream(path) << content;
  return path.string();
}

struct Fixture {
  dns::StaticResolver dns;
  milter::Settings settings;
  std::unique_ptr<milter::Engine> engine;

  Fixture() {
    settings.authserv_id = "mx.receiver.example";
    settings.trusted_networks = {*net::Network::parse("10.0.0.0/8")};
    auto key = dkim::generate_key(dkim::KeyType::rsa, 2048);
    std::string key_file = write_temp("sender.key", key.private_pem);
    dns.add_txt("sel1._domainkey.sender.example", key.dns_txt);
    settings.signing_keys.push_back({"sender.example", "sel1", key_file, "test"});
    dns.add_txt("sender.example", "v=spf1 ip4:192.0.2.0/24 -all");
    dns.add_txt("_dmarc.sender.example", "v=DMARC1; p=reject");
    dns.add_txt("quarantined.example", "v=spf1 ip4:192.0.2.0/24 -all");
    dns.add_txt("_dmarc.quarantined.example", "v=DMARC1; p=quarantine");
    make_engine();
  }

  void make_engine() {
    std::vector<dkim::SigningKey> keys;
    for (const auto& k : settings.signing_keys)
      keys.push_back(dkim::SigningKey::load_pem_file(k.domain, k.selector, k.key_file));
    std::string psl_file = write_temp("psl.dat", kPsl);
    engine = std::make_unique<milter::Engine>(
        settings, dns, dmarc::PublicSuffixList::load_file(psl_file), std::move(keys),
        [] { return kNow; }, [] { return 0u; });
  }

  Decision run(const milter::Envelope& env, const std::string& raw) {
    mail::Message m = mail::parse_message(raw);
    auto scan = engine->begin(env);
    for (auto& h : m.headers) scan->add_header(h);
    scan->end_of_headers();
    // Odd chunk sizes: the body must not depend on how libmilter splits it.
    for (std::size_t i = 0; i < m.body.size(); i += 7) scan->add_body(std::string_view(m.body).substr(i, 7));
    return scan->finish();
  }
};

milter::Envelope inbound(std::string ip, std::string mail_from) {
  milter::Envelope e;
  e.client_ip = net::IpAddress::parse(ip);
  e.helo = "mail.sender.example";
  e.mail_from = std::move(mail_from);
  e.queue_id = "TESTQ1";
  return e;
}

const std::string kMessage =
    "From: Alice <alice@sender.example>\nTo: bob@receiver.example\nSubject: hello\n"
    "Date: Fri, 27 Nov 2026 10:00:00 +0000\nMessage-ID: <1@sender.example>\n\nHi Bob.\n";

// Applies the decision's edits to a message the way Postfix would.
std::string apply_edits(const Decision& d, const std::string& raw) {
  mail::Message m = mail::parse_message(raw);
  for (const HeaderEdit& e : d.edits) {
    if (e.kind == HeaderEdit::Kind::insert) {
      m.headers.insert(m.headers.begin() + e.index, {e.name, e.value});
      continue;
    }
    int seen = 0;
    for (auto it = m.headers.begin(); it != m.headers.end(); ++it) {
      if (text::iequals(it->name, e.name) && ++seen == e.index) {
        m.headers.erase(it);
        break;
      }
    }
  }
  return mail::render(m);
}

std::string authentication_results(const Decision& d) {
  for (const HeaderEdit& e : d.edits)
    if (e.kind == HeaderEdit::Kind::insert && e.name == "Authentication-Results") return e.value;
  return "(none)";
}

std::string signed_message(Fixture& f, const std::string& raw) {
  milter::Envelope out;
  out.client_ip = net::IpAddress::parse("10.1.2.3");
  out.mail_from = "alice@sender.example";
  Decision d = f.run(out, raw);
  EXPECT_EQ(d.action, Action::accept);
  return apply_edits(d, raw);
}

}  // namespace

TEST(Engine, OutgoingMailIsSignedNotVerified) {
  Fixture f;
  milter::Envelope out;
  out.client_ip = net::IpAddress::parse("203.0.113.9");
  out.auth_user = "alice";
  Decision d = f.run(out, kMessage);
  ASSERT_EQ(d.edits.size(), 1u);
  EXPECT_EQ(d.edits[0].name, "DKIM-Signature");
  EXPECT_EQ(authentication_results(d), "(none)");
  EXPECT_NE(d.log.find("sasl_user=alice"), std::string::npos);
}

TEST(Engine, AlignedSpfAndDkimPass) {
  Fixture f;
  std::string msg = signed_message(f, kMessage);
  Decision d = f.run(inbound("192.0.2.10", "alice@sender.example"), msg);
  EXPECT_EQ(d.action, Action::accept);
  std::string ar = authentication_results(d);
  EXPECT_NE(ar.find(" mx.receiver.example;"), std::string::npos) << ar;
  EXPECT_NE(ar.find("spf=pass"), std::string::npos) << ar;
  EXPECT_NE(ar.find("smtp.mailfrom=alice@sender.example"), std::string::npos) << ar;
  EXPECT_NE(ar.find("dkim=pass"), std::string::npos) << ar;
  EXPECT_NE(ar.find("header.d=sender.example header.s=sel1 header.a=rsa-sha256"), std::string::npos) << ar;
  EXPECT_NE(ar.find("dmarc=pass (p=reject dis=none) header.from=sender.example"), std::string::npos) << ar;
}

TEST(Engine, SpoofedRejectDomainIsRefusedWithReadableReason) {
  Fixture f;
  Decision d = f.run(inbound("198.51.100.66", "alice@sender.example"), kMessage);
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_EQ(d.reply_code, "550");
  EXPECT_EQ(d.enhanced_code, "5.7.1");
  EXPECT_NE(d.reply_text.find("DMARC policy of sender.example"), std::string::npos) << d.reply_text;
}

TEST(Engine, AlteredBodyFailsDkimAndDmarcFollowsSpf) {
  Fixture f;
  std::string msg = signed_message(f, kMessage) + "Appended by a list.\r\n";
  Decision pass_by_spf = f.run(inbound("192.0.2.10", "alice@sender.example"), msg);
  std::string ar = authentication_results(pass_by_spf);
  EXPECT_NE(ar.find("dkim=fail"), std::string::npos) << ar;
  EXPECT_NE(ar.find("dmarc=pass"), std::string::npos) << ar;
  EXPECT_EQ(pass_by_spf.action, Action::accept);
  Decision fail_both = f.run(inbound("198.51.100.66", "alice@sender.example"), msg);
  EXPECT_EQ(fail_both.action, Action::reject);
}

TEST(Engine, ForgedResultsWithOurAuthservIdAreRemoved) {
  Fixture f;
  std::string msg =
      "Authentication-Results: other.example; dkim=pass\n"
      "Authentication-Results: MX.receiver.example; dmarc=pass header.from=sender.example\n"
      "Authentication-Results: (sneaky) mx.receiver.example; spf=pass\n" + kMessage;
  Decision d = f.run(inbound("192.0.2.10", "alice@sender.example"), msg);
  ASSERT_GE(d.edits.size(), 3u);
  EXPECT_EQ(d.edits[0].kind, HeaderEdit::Kind::remove);
  EXPECT_EQ(d.edits[0].index, 2);
  EXPECT_EQ(d.edits[1].kind, HeaderEdit::Kind::remove);
  EXPECT_EQ(d.edits[1].index, 2);  // the third field, after the second was removed
  std::string result = apply_edits(d, msg);
  EXPECT_NE(result.find("other.example; dkim=pass"), std::string::npos);
  EXPECT_EQ(result.find("(sneaky)"), std::string::npos);
  EXPECT_EQ(result.find("MX.receiver.example; dmarc=pass"), std::string::npos);
}

TEST(Engine, DnsTimeoutIsATemporaryFailureNeverAReject) {
  Fixture f;
  f.dns.add_failure("sender.example", dns::Status::timeout);
  f.dns.add_failure("_dmarc.sender.example", dns::Status::timeout);
  Decision d = f.run(inbound("198.51.100.66", "alice@sender.example"), kMessage);
  EXPECT_EQ(d.action, Action::tempfail);
  EXPECT_EQ(d.reply_code, "451");
  EXPECT_NE(authentication_results(d).find("spf=temperror"), std::string::npos);
}

TEST(Engine, QuarantineMarksWithHeaderOrHolds) {
  Fixture f;
  std::string msg = "From: x@quarantined.example\nSubject: q\n\nbody\n";
  Decision marked = f.run(inbound("198.51.100.66", "x@quarantined.example"), msg);
  EXPECT_EQ(marked.action, Action::accept);
  EXPECT_NE(apply_edits(marked, msg).find("X-Mailward-Quarantine: DMARC policy of quarantined.example"),
            std::string::npos);
  f.settings.dmarc_quarantine = milter::QuarantineAction::hold;
  f.make_engine();
  Decision held = f.run(inbound("198.51.100.66", "x@quarantined.example"), msg);
  EXPECT_EQ(held.action, Action::hold);
}

TEST(Engine, TrustedForwarderIsNotEnforced) {
  Fixture f;
  f.settings.trusted_forwarders = {*net::Network::parse("198.51.100.0/24")};
  f.make_engine();
  Decision d = f.run(inbound("198.51.100.66", "alice@sender.example"), kMessage);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_NE(authentication_results(d).find("not enforced: trusted forwarder"), std::string::npos);
}

TEST(Engine, SeveralAuthorDomainsTheStrictestPolicyApplies) {
  Fixture f;
  f.dns.add_txt("lax.example", "v=spf1 +all");
  f.dns.add_txt("_dmarc.lax.example", "v=DMARC1; p=none");
  // SPF passes and aligns for lax.example; sender.example (p=reject) is not authenticated at all.
  std::string msg = "From: a@lax.example, b@sender.example\nSubject: two authors\n\nbody\n";
  Decision d = f.run(inbound("198.51.100.66", "a@lax.example"), msg);
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_NE(d.reply_text.find("sender.example"), std::string::npos) << d.reply_text;
}

TEST(Engine, MessageWithoutFromIsReportedNotGuessed) {
  Fixture f;
  Decision d = f.run(inbound("192.0.2.10", "alice@sender.example"), "Subject: no author\n\nbody\n");
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_NE(authentication_results(d).find("dmarc=none"), std::string::npos);
}
