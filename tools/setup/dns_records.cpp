// The records of `mailward dns` and their checks (dns_records.h). Pure: DNS only through the
// Resolver handed in; SPF evaluation by milters/auth/spf, DKIM key records by milters/auth/dkim,
// DMARC records by milters/auth/dmarc, so the check judges records exactly as the milter would.
#include "tools/setup/dns_records.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <stdexcept>

#include "common/util/text.h"
#include "milters/auth/dkim/base64.h"
#include "milters/auth/dmarc/dmarc.h"
#include "milters/auth/spf/spf.h"

namespace mailward::setup {

namespace {

std::string spf_text(const DnsRequest& r) {
  std::string t = "v=spf1 mx";
  for (const net::IpAddress& ip : r.ips) t += (ip.is_v4() ? " ip4:" : " ip6:") + ip.to_string();
  for (const std::string& inc : r.spf_includes) t += " include:" + inc;
  return t + " -all";
}

std::string dkim_text(const DkimPublicKey& k) {
  return std::string("v=DKIM1; k=") + std::string(dkim::to_string(k.type)) + "; p=" + dkim::base64_encode(k.public_key);
}

// RFC 7208 §4.5: a record is SPF when it begins with "v=spf1" followed by a space or its end
// (case-insensitive).
bool is_spf(std::string_view txt) {
  return text::istarts_with(txt, "v=spf1") && (txt.size() == 6 || txt[6] == ' ');
}

CheckLine line(CheckStatus s, std::string what, std::string name, std::string detail) {
  return {s, std::move(what), std::move(name), std::move(detail)};
}

// A lookup failure (timeout, SERVFAIL) is neither missing nor wrong: we could not tell.
bool failed(const dns::Answer& a, std::vector<CheckLine>& out, const std::string& what, const std::string& name) {
  if (!a.is_temporary_failure()) return false;
  out.push_back(line(CheckStatus::error, what, name,
                     "lookup failed (" + std::string(dns::to_string(a.status)) + (a.error.empty() ? "" : ": " + a.error) + ")"));
  return true;
}

std::vector<std::string> texts_where(const dns::Answer& a, bool (*keep)(std::string_view)) {
  std::vector<std::string> out;
  for (const std::string& t : a.texts)
    if (keep(t)) out.push_back(t);
  return out;
}

bool starts_with_tag(std::string_view txt, std::string_view tag) {
  txt = text::trim(txt);
  if (!txt.starts_with(tag)) return false;
  std::string_view rest = text::trim(txt.substr(tag.size()));
  return rest.empty() || rest.front() == ';';
}

bool has_address(const dns::Answer& a, const net::IpAddress& ip) {
  return std::any_of(a.addresses.begin(), a.addresses.end(), [&](const net::IpAddress& x) { return x == ip; });
}

void check_mx(dns::Resolver& resolver, const DnsRequest& r, std::vector<CheckLine>& out) {
  dns::Answer a = resolver.lookup(r.domain, dns::RecordType::mx);
  if (failed(a, out, "MX", r.domain)) return;
  if (a.mx.empty()) {
    out.push_back(line(CheckStatus::missing, "MX", r.domain, "no MX record (mail would go to the domain's own address)"));
    return;
  }
  std::string published;
  bool found = false;
  for (const dns::MxRecord& m : a.mx) {
    published += (published.empty() ? "" : ", ") + std::to_string(m.preference) + " " + m.exchange;
    found = found || m.exchange == r.mx;
  }
  if (r.mx_given && !found)
    out.push_back(line(CheckStatus::wrong, "MX", r.domain, "published " + published + "; " + r.mx + " is not among them"));
  else
    out.push_back(line(CheckStatus::ok, "MX", r.domain, published));
}

void check_mx_addresses(dns::Resolver& resolver, const DnsRequest& r, std::vector<CheckLine>& out) {
  for (const net::IpAddress& ip : r.ips) {
    const char* what = ip.is_v4() ? "A" : "AAAA";
    dns::Answer a = resolver.lookup(r.mx, ip.is_v4() ? dns::RecordType::a : dns::RecordType::aaaa);
    if (failed(a, out, what, r.mx)) continue;
    if (a.addresses.empty())
      out.push_back(line(CheckStatus::missing, what, r.mx, "no " + std::string(what) + " record (expected " + ip.to_string() + ")"));
    else if (!has_address(a, ip))
      out.push_back(line(CheckStatus::wrong, what, r.mx, ip.to_string() + " is not among the published addresses"));
    else
      out.push_back(line(CheckStatus::ok, what, r.mx, ip.to_string()));
  }
}

void check_spf(dns::Resolver& resolver, const DnsRequest& r, std::int64_t now, std::vector<CheckLine>& out) {
  dns::Answer a = resolver.lookup(r.domain, dns::RecordType::txt);
  if (failed(a, out, "SPF", r.domain)) return;
  std::vector<std::string> spf = texts_where(a, is_spf);
  if (spf.empty()) {
    out.push_back(line(CheckStatus::missing, "SPF", r.domain, "no v=spf1 TXT record"));
    return;
  }
  if (spf.size() > 1) {  // RFC 7208 §4.5: more than one record is a permerror for every receiver
    out.push_back(line(CheckStatus::wrong, "SPF", r.domain,
                       std::to_string(spf.size()) + " v=spf1 records (RFC 7208 §4.5: permerror); publish one"));
    return;
  }
  std::string problems;
  std::string sender = "postmaster@" + r.domain;
  for (const net::IpAddress& ip : r.ips) {
    spf::Request req;
    req.client_ip = ip;
    req.mail_from = sender;
    req.helo = r.mx;
    req.receiver = "mailward-dns-check";
    req.now = now;
    spf::Verdict v = spf::check_host(resolver, req, r.domain, sender, spf::Identity::mail_from);
    if (v.result != spf::Result::pass)
      problems += (problems.empty() ? "" : "; ") + ip.to_string() + ": " + std::string(spf::to_string(v.result)) +
                  (v.mechanism.empty() ? "" : " (" + v.mechanism + ")") + (v.problem.empty() ? "" : " (" + v.problem + ")");
  }
  if (!problems.empty())
    out.push_back(line(CheckStatus::wrong, "SPF", r.domain, problems));
  else
    out.push_back(line(CheckStatus::ok, "SPF", r.domain,
                       r.ips.empty() ? "\"" + spf.front() + "\"" : "pass for every --ip: \"" + spf.front() + "\""));
}

void check_dkim(dns::Resolver& resolver, const DnsRequest& r, std::vector<CheckLine>& out) {
  for (const DkimPublicKey& k : r.dkim) {
    std::string name = k.selector + "._domainkey." + r.domain;
    dns::Answer a = resolver.lookup(name, dns::RecordType::txt);
    if (failed(a, out, "DKIM", name)) continue;
    if (a.texts.empty()) {
      out.push_back(line(CheckStatus::missing, "DKIM", name, "no key record (the key is " + k.key_file + ")"));
      continue;
    }
    // Several TXT records: the verifier takes the first usable one (milters/auth/dkim README), so do we.
    std::string problem;
    bool ok = false;
    for (const std::string& t : a.texts) {
      dkim::KeyRecordParse p = dkim::parse_key_record(t);
      if (!p.ok()) {
        problem = "does not parse: " + std::string(dkim::to_string(p.error)) + (p.detail.empty() ? "" : " (" + p.detail + ")");
        continue;
      }
      if (p.record.type != k.type) {
        problem = "k=" + std::string(dkim::to_string(p.record.type)) + " published, the key in " + k.key_file + " is " +
                  std::string(dkim::to_string(k.type));
      } else if (p.record.public_key != k.public_key) {
        problem = "p= is not the public half of " + k.key_file;
      } else {
        ok = true;
      }
      break;
    }
    if (ok)
      out.push_back(line(CheckStatus::ok, "DKIM", name, "matches " + k.key_file + " (" + std::string(dkim::to_string(k.type)) + ")"));
    else
      out.push_back(line(CheckStatus::wrong, "DKIM", name, problem));
  }
}

void check_dmarc(dns::Resolver& resolver, const DnsRequest& r, std::vector<CheckLine>& out) {
  std::string name = "_dmarc." + r.domain;
  dns::Answer a = resolver.lookup(name, dns::RecordType::txt);
  if (failed(a, out, "DMARC", name)) return;
  std::vector<std::string> records;
  for (const std::string& t : a.texts)
    if (dmarc::is_dmarc_record(t)) records.push_back(t);
  if (records.empty()) {
    out.push_back(line(CheckStatus::missing, "DMARC", name, "no v=DMARC1 record"));
    return;
  }
  if (records.size() > 1) {  // RFC 7489 §6.6.3 step 5: several records, none is applied
    out.push_back(line(CheckStatus::wrong, "DMARC", name, std::to_string(records.size()) + " v=DMARC1 records: receivers apply none"));
    return;
  }
  dmarc::RecordParse p = dmarc::parse_record(records.front());
  if (!p.record) {
    out.push_back(line(CheckStatus::wrong, "DMARC", name, "does not parse: " + p.error));
    return;
  }
  std::string rua;
  for (const std::string& u : p.record->aggregate_report_uris) rua += (rua.empty() ? "" : ",") + u;
  std::string detail = std::string("p=") +
                       (p.record->policy == dmarc::Policy::none ? "none"
                        : p.record->policy == dmarc::Policy::quarantine ? "quarantine"
                                                                        : "reject") +
                       (rua.empty() ? ", no rua= (no aggregate reports)" : ", rua=" + rua);
  if (p.record->policy == dmarc::Policy::none)
    out.push_back(line(CheckStatus::warn, "DMARC", name, detail + ": p=none asks receivers to do nothing with spoofed mail"));
  else
    out.push_back(line(CheckStatus::ok, "DMARC", name, detail));
}

void check_tag_record(dns::Resolver& resolver, const std::string& what, const std::string& name, std::string_view tag,
                      std::string_view required, std::vector<CheckLine>& out) {
  dns::Answer a = resolver.lookup(name, dns::RecordType::txt);
  if (failed(a, out, what, name)) return;
  std::vector<std::string> found;
  for (const std::string& t : a.texts)
    if (starts_with_tag(t, tag)) found.push_back(t);
  if (found.empty())
    out.push_back(line(CheckStatus::missing, what, name, "no " + std::string(tag) + " record"));
  else if (found.size() > 1)
    out.push_back(line(CheckStatus::wrong, what, name, std::to_string(found.size()) + " " + std::string(tag) + " records; publish one"));
  else if (found.front().find(required) == std::string::npos)
    out.push_back(line(CheckStatus::wrong, what, name, "no " + std::string(required) + " in \"" + found.front() + "\""));
  else
    out.push_back(line(CheckStatus::ok, what, name, "\"" + found.front() + "\""));
}

void check_ptr(dns::Resolver& resolver, const DnsRequest& r, std::vector<CheckLine>& out) {
  for (const net::IpAddress& ip : r.ips) {
    std::string name = ip.reverse_name();
    dns::Answer a = resolver.lookup(name, dns::RecordType::ptr);
    if (failed(a, out, "PTR", name)) continue;
    if (a.names.empty()) {
      out.push_back(line(CheckStatus::missing, "PTR", name, "no PTR for " + ip.to_string() + " (ask the address's owner for " + r.mx + ")"));
      continue;
    }
    // Forward-confirmed (FCrDNS): a name the PTR gives resolves back to the address.
    std::string confirmed;
    for (const std::string& host : a.names) {
      dns::Answer f = resolver.lookup(host, ip.is_v4() ? dns::RecordType::a : dns::RecordType::aaaa);
      if (has_address(f, ip)) {
        confirmed = host;
        break;
      }
    }
    if (confirmed.empty())
      out.push_back(line(CheckStatus::wrong, "PTR", name, ip.to_string() + " -> " + a.names.front() + ", which does not resolve back to " + ip.to_string()));
    else
      out.push_back(line(CheckStatus::ok, "PTR", name, ip.to_string() + " -> " + confirmed + " -> " + ip.to_string() +
                                                          (confirmed == r.mx ? "" : " (not the MX host " + r.mx + ")")));
  }
}

}  // namespace

std::vector<DnsRecord> records_for(const DnsRequest& r) {
  std::vector<DnsRecord> out;
  out.push_back({r.domain, "MX", "10 " + r.mx + ".", "MX"});
  for (const net::IpAddress& ip : r.ips) out.push_back({r.mx, ip.is_v4() ? "A" : "AAAA", ip.to_string(), "MX host"});
  out.push_back({r.domain, "TXT", spf_text(r), "SPF"});
  for (const DkimPublicKey& k : r.dkim)
    out.push_back({k.selector + "._domainkey." + r.domain, "TXT", dkim_text(k), "DKIM (" + k.key_file + ")"});
  out.push_back({"_dmarc." + r.domain, "TXT", "v=DMARC1; p=quarantine; rua=mailto:" + r.report, "DMARC"});
  if (r.mta_sts) out.push_back({"_mta-sts." + r.domain, "TXT", "v=STSv1; id=" + r.mta_sts_id, "MTA-STS"});
  if (r.tls_rpt) out.push_back({"_smtp._tls." + r.domain, "TXT", "v=TLSRPTv1; rua=mailto:" + r.report, "TLS-RPT"});
  return out;
}

std::string zone_line(const DnsRecord& record) {
  std::string owner = record.name + ".";
  if (record.type != "TXT") return owner + " IN " + record.type + " " + record.value;
  std::string out = owner + " IN TXT (";
  for (std::size_t i = 0; i < record.value.size(); i += 255) out += " \"" + record.value.substr(i, 255) + "\"";
  return out + " )";
}

std::string mta_sts_policy(const DnsRequest& r) {
  return "version: STSv1\nmode: testing\nmx: " + r.mx + "\nmax_age: 604800\n";
}

DnsRecord ptr_hint(const DnsRequest& r, const net::IpAddress& ip) {
  return {ip.reverse_name(), "PTR", r.mx + ".", "PTR"};
}

std::string_view to_string(CheckStatus status) noexcept {
  switch (status) {
    case CheckStatus::ok: return "ok";
    case CheckStatus::missing: return "missing";
    case CheckStatus::wrong: return "wrong";
    case CheckStatus::warn: return "warn";
    case CheckStatus::error: return "error";
  }
  return "error";
}

std::vector<CheckLine> check_records(dns::Resolver& resolver, const DnsRequest& r, std::int64_t now) {
  std::vector<CheckLine> out;
  check_mx(resolver, r, out);
  check_mx_addresses(resolver, r, out);
  check_spf(resolver, r, now, out);
  check_dkim(resolver, r, out);
  check_dmarc(resolver, r, out);
  if (r.mta_sts) check_tag_record(resolver, "MTA-STS", "_mta-sts." + r.domain, "v=STSv1", "id=", out);
  if (r.tls_rpt) check_tag_record(resolver, "TLS-RPT", "_smtp._tls." + r.domain, "v=TLSRPTv1", "rua=", out);
  check_ptr(resolver, r, out);
  return out;
}

std::string format_check_line(const CheckLine& l) {
  std::string status(to_string(l.status));
  std::string what = l.what;
  status.resize(std::max<std::size_t>(status.size(), 8), ' ');
  what.resize(std::max<std::size_t>(what.size(), 8), ' ');
  return status + what + l.name + "  " + l.detail;
}

DkimPublicKey dkim_public_key(const dkim::SigningKey& key) {
  DkimPublicKey out;
  out.selector = key.selector;
  out.type = key.type;
  EVP_PKEY* raw = key.key.get();
  if (!raw) throw std::runtime_error("DKIM key " + key.selector + "._domainkey." + key.domain + " is empty");
  if (key.type == dkim::KeyType::rsa) {
    int len = i2d_PUBKEY(raw, nullptr);
    if (len <= 0) throw std::runtime_error("cannot encode the public key of " + key.selector + "._domainkey." + key.domain);
    out.public_key.resize(static_cast<std::size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(out.public_key.data());
    i2d_PUBKEY(raw, &p);
  } else {
    std::size_t len = 32;
    out.public_key.resize(len);
    if (EVP_PKEY_get_raw_public_key(raw, reinterpret_cast<unsigned char*>(out.public_key.data()), &len) != 1)
      throw std::runtime_error("cannot encode the public key of " + key.selector + "._domainkey." + key.domain);
    out.public_key.resize(len);
  }
  return out;
}

}  // namespace mailward::setup
