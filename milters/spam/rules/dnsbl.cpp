// DNS blocklist lookups for the client address and URL hosts (RFC 5782), see dnsbl.h.
#include "milters/spam/rules/dnsbl.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "common/util/text.h"

namespace mailward::spam {

namespace {

std::string rule_name_for(std::string_view prefix, std::string_view zone) {
  std::string name(prefix);
  for (char c : zone) {
    if (text::is_alpha(c)) name.push_back(static_cast<char>(c & ~0x20));
    else if (text::is_digit(c)) name.push_back(c);
    else name.push_back('_');
  }
  return name;
}

bool is_zone_name(std::string_view z) {
  if (z.empty() || z.size() > 200 || z.front() == '.' || z.back() == '.') return false;
  char prev = '.';
  for (char c : z) {
    if (c == '.' && prev == '.') return false;
    if (!text::is_alpha(c) && !text::is_digit(c) && c != '-' && c != '.' && c != '_') return false;
    prev = c;
  }
  return true;
}

}  // namespace

bool parse_zone_list(std::string_view value, std::string_view prefix, std::vector<DnsblZone>& out,
                     std::string& problem) {
  for (std::string_view item : text::split_list(value)) {
    DnsblZone z;
    std::string_view rest = item;
    std::size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      std::string_view score = rest.substr(colon + 1);
      if (!score.empty() && score.front() == '+') score.remove_prefix(1);
      auto [p, ec] = std::from_chars(score.data(), score.data() + score.size(), z.score,
                                     std::chars_format::fixed);
      if (score.empty() || ec != std::errc() || p != score.data() + score.size() || z.score < -1000 ||
          z.score > 1000) {
        problem = "'" + std::string(item) + "': '" + std::string(rest.substr(colon + 1)) + "' is not a score";
        return false;
      }
      rest = rest.substr(0, colon);
    }
    std::size_t eq = rest.find('=');
    if (eq != std::string_view::npos) {
      for (std::string_view code : text::split(rest.substr(eq + 1), '/')) {
        auto a = net::IpAddress::parse(code);
        if (!a || !a->is_v4() || a->bytes()[0] != 127) {
          problem = "'" + std::string(item) + "': '" + std::string(code) + "' is not a 127.x.y.z code";
          return false;
        }
        z.codes.push_back(*a);
      }
      rest = rest.substr(0, eq);
    }
    z.zone = text::normalize_domain(rest);
    if (!is_zone_name(z.zone)) {
      problem = "'" + std::string(item) + "': '" + std::string(rest) + "' is not a DNS zone name";
      return false;
    }
    z.rule_name = rule_name_for(prefix, z.zone);
    if (z.codes.size() == 1) z.rule_name += "_" + std::to_string(z.codes.front().bytes()[3]);
    out.push_back(std::move(z));
  }
  return true;
}

std::string dnsbl_query_name(const net::IpAddress& address, std::string_view zone) {
  std::string forward = address.unmapped().to_dotted_nibbles();
  std::vector<std::string_view> labels = text::split(forward, '.');
  std::string out;
  for (auto it = labels.rbegin(); it != labels.rend(); ++it) out.append(*it).push_back('.');
  out.append(zone);
  return out;
}

bool is_private_address(const net::IpAddress& address) {
  static const std::vector<net::Network> kPrivate = [] {
    std::vector<net::Network> v;
    for (const char* n : {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                          "172.16.0.0/12", "192.168.0.0/16", "::/128", "::1/128", "fc00::/7", "fe80::/10"})
      v.push_back(*net::Network::parse(n));
    return v;
  }();
  net::IpAddress a = address.unmapped();
  return std::any_of(kPrivate.begin(), kPrivate.end(), [&](const net::Network& n) { return n.contains(a); });
}

namespace {

struct Query {
  std::string name;          // looked up
  std::string subject;       // what it is about, for descriptions ("client 192.0.2.1", "host x.example")
  const DnsblZone* zone = nullptr;
  dns::Answer answer;
};

void judge(const Query& q, DnsblOutcome& out, std::vector<std::string>& fired) {
  const dns::Answer& a = q.answer;
  if (a.is_temporary_failure()) {
    out.problems.push_back(q.name + ": " + std::string(dns::to_string(a.status)) +
                           (a.error.empty() ? "" : " (" + a.error + ")") + ", not counted as listed");
    return;
  }
  if (a.status != dns::Status::ok) return;  // NXDOMAIN: not listed
  for (const net::IpAddress& ip : a.addresses) {
    if (!ip.is_v4() || ip.bytes()[0] != 127) {
      out.problems.push_back(q.name + ": answer " + ip.to_string() + " outside 127.0.0.0/8 ignored");
      continue;
    }
    if (ip.bytes()[1] == 255 && ip.bytes()[2] == 255) {
      out.problems.push_back(q.name + ": answer " + ip.to_string() + " is a refusal code, not a listing");
      continue;
    }
    const DnsblZone& z = *q.zone;
    if (!z.codes.empty() && std::find(z.codes.begin(), z.codes.end(), ip) == z.codes.end()) continue;
    if (std::find(fired.begin(), fired.end(), z.rule_name) != fired.end()) return;
    fired.push_back(z.rule_name);
    out.hits.push_back({z.rule_name, z.score, q.subject + " listed in " + z.zone + " (" + ip.to_string() + ")"});
    return;
  }
}

}  // namespace

DnsblOutcome check_dnsbl(dns::Resolver& resolver, const DnsblSettings& s,
                         const std::optional<net::IpAddress>& client,
                         const std::vector<std::string>& url_hosts, const DomainMapper& mapper) {
  DnsblOutcome out;
  std::vector<Query> queries;
  // Several entries of one zone (different codes) share one lookup: answers are judged per entry.
  if (client && !s.client_zones.empty() && (s.check_loopback || !is_private_address(*client))) {
    for (const DnsblZone& z : s.client_zones)
      queries.push_back({dnsbl_query_name(*client, z.zone), "client " + client->unmapped().to_string(), &z, {}});
  }
  if (!s.uri_zones.empty()) {
    std::vector<std::string> domains;
    for (const std::string& host : url_hosts) {
      if (domains.size() >= s.max_uri_hosts) break;
      std::string_view h = host;
      if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
      std::string key;
      if (auto ip = net::IpAddress::parse(h)) {
        key = std::string("ip:") + ip->to_string();
      } else {
        std::string domain = mapper ? mapper(h) : text::normalize_domain(h);
        if (domain.empty() || domain.find('.') == std::string::npos || !is_zone_name(domain)) continue;
        key = domain;
      }
      if (std::find(domains.begin(), domains.end(), key) == domains.end()) domains.push_back(key);
    }
    for (const std::string& d : domains) {
      for (const DnsblZone& z : s.uri_zones) {
        if (d.rfind("ip:", 0) == 0) {
          auto ip = net::IpAddress::parse(std::string_view(d).substr(3));
          queries.push_back({dnsbl_query_name(*ip, z.zone), "URL host " + d.substr(3), &z, {}});
        } else {
          queries.push_back({d + "." + z.zone, "URL domain " + d, &z, {}});
        }
      }
    }
  }
  // Concurrent lookups (one thread each beyond the first), joined: the total time is one timeout.
  // Identical names (several entries of one zone) are looked up once.
  std::vector<std::size_t> unique;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    bool seen = false;
    for (std::size_t u : unique) seen = seen || queries[u].name == queries[i].name;
    if (!seen) unique.push_back(i);
  }
  out.lookups = unique.size();
  auto run = [&resolver, &queries](std::size_t i) {
    try {
      queries[i].answer = resolver.lookup(queries[i].name, dns::RecordType::a);
    } catch (const std::exception& e) {
      queries[i].answer = dns::Answer::failure(dns::Status::server_failure, e.what());
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t k = 1; k < unique.size(); ++k) {
    try {
      threads.emplace_back(run, unique[k]);
    } catch (const std::system_error&) {
      run(unique[k]);  // no thread available: look it up here
    }
  }
  if (!unique.empty()) run(unique.front());
  for (std::thread& t : threads) t.join();
  for (std::size_t i = 0; i < queries.size(); ++i) {
    for (std::size_t u : unique)
      if (u != i && queries[u].name == queries[i].name && u < i) queries[i].answer = queries[u].answer;
  }
  std::vector<std::string> fired;
  for (const Query& q : queries) judge(q, out, fired);
  return out;
}

}  // namespace mailward::spam
