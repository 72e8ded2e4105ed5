#include "common/dns/static_resolver.h"

#include "common/util/text.h"

namespace mailward::dns {

std::string_view to_string(RecordType type) noexcept {
  switch (type) {
    case RecordType::a: return "A";
    case RecordType::ns: return "NS";
    case RecordType::cname: return "CNAME";
    case RecordType::ptr: return "PTR";
    case RecordType::mx: return "MX";
    case RecordType::txt: return "TXT";
    case RecordType::aaaa: return "AAAA";
  }
  return "?";
}

std::string_view to_string(Status status) noexcept {
  switch (status) {
    case Status::ok: return "ok";
    case Status::nxdomain: return "nxdomain";
    case Status::server_failure: return "server failure";
    case Status::timeout: return "timeout";
  }
  return "?";
}

Answer& StaticResolver::entry(std::string_view name, RecordType type) {
  std::string key = text::normalize_domain(name);
  existing_names_.insert(key);
  Answer& a = records_[{std::move(key), type}];
  a.ttl = 300;
  return a;
}

void StaticResolver::add_txt(std::string_view name, std::string value) {
  entry(name, RecordType::txt).texts.push_back(std::move(value));
}

void StaticResolver::add_address(std::string_view name, const net::IpAddress& address) {
  entry(name, address.is_v4() ? RecordType::a : RecordType::aaaa).addresses.push_back(address);
}

void StaticResolver::add_mx(std::string_view name, std::uint16_t preference,
                            std::string_view exchange) {
  entry(name, RecordType::mx).mx.push_back({preference, text::normalize_domain(exchange)});
}

void StaticResolver::add_ptr(std::string_view name, std::string_view target) {
  entry(name, RecordType::ptr).names.push_back(text::normalize_domain(target));
}

void StaticResolver::add_cname(std::string_view name, std::string_view target) {
  entry(name, RecordType::cname).names.push_back(text::normalize_domain(target));
}

void StaticResolver::add_empty(std::string_view name) {
  existing_names_.insert(text::normalize_domain(name));
}

void StaticResolver::add_failure(std::string_view name, Status status) {
  name_failures_[text::normalize_domain(name)] = status;
}

void StaticResolver::add_failure(std::string_view name, RecordType type, Status status) {
  type_failures_[{text::normalize_domain(name), type}] = status;
}

Answer StaticResolver::lookup(std::string_view name, RecordType type) {
  ++lookups_;
  std::string current = text::normalize_domain(name);
  for (int links = 0; links <= 8; ++links) {
    if (auto f = name_failures_.find(current); f != name_failures_.end())
      return Answer::failure(f->second, "configured failure for " + current);
    if (auto f = type_failures_.find({current, type}); f != type_failures_.end())
      return Answer::failure(f->second, "configured failure for " + current);
    if (auto it = records_.find({current, type}); it != records_.end()) return it->second;
    auto cname = records_.find({current, RecordType::cname});
    if (type != RecordType::cname && cname != records_.end() && !cname->second.names.empty()) {
      current = cname->second.names.front();
      continue;
    }
    Answer none;
    none.ttl = 300;
    if (!existing_names_.contains(current)) none.status = Status::nxdomain;
    return none;
  }
  return Answer::failure(Status::server_failure, "CNAME chain too long at " + current);
}

}  // namespace mailward::dns
