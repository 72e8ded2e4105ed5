// DnsZone (dns_zone.h): records by (name, type), answered from the FakeDnsServer's thread.
#include "tests/support/dns_zone.h"

#include <sstream>

#include "common/util/text.h"

namespace mailward::test_support {

using dns::testing::Bytes;
using dns::testing::Query;

namespace {

void append_string(Bytes& rdata, const std::string& s) {
  rdata.push_back(static_cast<std::uint8_t>(s.size()));
  rdata.insert(rdata.end(), s.begin(), s.end());
}

}  // namespace

DnsZone::DnsZone() : server_([this](const Query& q) { return answer(q); }) {}

std::vector<Bytes> DnsZone::answer(const Query& q) {
  std::lock_guard lock(mutex_);
  std::string name = text::normalize_domain(q.name);
  auto it = records_.find({name, q.type});
  if (it == records_.end()) {
    bool exists = false;
    for (const auto& entry : records_) exists = exists || entry.first.first == name;
    return {dns::testing::reply_to(q, exists ? 0x8180 : 0x8183).bytes()};
  }
  dns::testing::PacketBuilder b = dns::testing::reply_to(q);
  for (const Bytes& rdata : it->second)
    b.record(dns::testing::PacketBuilder::answer, dns::testing::wire_name(name), q.type, 300, rdata);
  return {b.bytes()};
}

void DnsZone::add(const std::string& name, dns::RecordType type, Bytes rdata) {
  std::lock_guard lock(mutex_);
  records_[{text::normalize_domain(name), static_cast<std::uint16_t>(type)}].push_back(std::move(rdata));
}

void DnsZone::txt(const std::string& name, const std::string& value) {
  Bytes rdata;
  for (std::size_t i = 0; i < value.size(); i += 255) append_string(rdata, value.substr(i, 255));
  add(name, dns::RecordType::txt, std::move(rdata));
}

bool DnsZone::add_line(const std::string& line) {
  std::istringstream in(line);
  std::string owner, klass, type;
  if (!(in >> owner >> klass >> type) || klass != "IN") return false;
  std::string rest;
  std::getline(in, rest);
  rest = std::string(text::trim(rest));
  if (type == "TXT") {
    Bytes rdata;
    for (std::size_t i = rest.find('"'); i != std::string::npos; i = rest.find('"', i + 1)) {
      std::size_t end = rest.find('"', i + 1);
      if (end == std::string::npos) return false;
      append_string(rdata, rest.substr(i + 1, end - i - 1));
      i = end;
    }
    add(owner, dns::RecordType::txt, std::move(rdata));
  } else if (type == "MX") {
    std::istringstream v(rest);
    unsigned pref = 0;
    std::string host;
    if (!(v >> pref >> host)) return false;
    add(owner, dns::RecordType::mx,
        dns::testing::mx_rdata(static_cast<std::uint16_t>(pref), dns::testing::wire_name(text::normalize_domain(host))));
  } else if (type == "A") {
    add(owner, dns::RecordType::a, dns::testing::a_rdata(rest));
  } else if (type == "AAAA") {
    add(owner, dns::RecordType::aaaa, dns::testing::aaaa_rdata(rest));
  } else if (type == "PTR") {
    add(owner, dns::RecordType::ptr, dns::testing::wire_name(text::normalize_domain(rest)));
  } else {
    return false;
  }
  return true;
}

void DnsZone::remove(const std::string& name, dns::RecordType type) {
  std::lock_guard lock(mutex_);
  records_.erase({text::normalize_domain(name), static_cast<std::uint16_t>(type)});
}

std::string DnsZone::server() const { return server_.address().to_string(); }

}  // namespace mailward::test_support
