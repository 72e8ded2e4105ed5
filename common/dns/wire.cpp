// DNS message encoding and decoding (RFC 1035 §4.1), answer assembly (CNAME chains, negative TTLs).
// See wire.h for the rules; every read here is bounds-checked against the message size.
#include "common/dns/wire.h"

#include <algorithm>
#include <array>
#include <optional>

#include "common/util/text.h"

namespace mailward::dns {
namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::size_t kMaxWireName = 255;          // RFC 1035 §3.1
constexpr unsigned kMaxPointerHops = 64;
constexpr std::uint16_t kClassIn = 1;
constexpr std::uint16_t kTypeCname = 5;
constexpr std::uint16_t kTypeSoa = 6;
constexpr std::uint16_t kTypeOpt = 41;

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

// A name in uncompressed wire form with ASCII letters lowercased: length-prefixed labels ending with
// the zero byte. Equal names (RFC 4343) have equal WireName strings.
using WireName = std::string;

char lower_byte(std::uint8_t b) { return text::ascii_lower(static_cast<char>(b)); }

// Text name → WireName; nullopt when not a valid name.
std::optional<WireName> wire_from_text(std::string_view name) {
  WireName out;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!name.empty()) {
    for (std::string_view label : text::split(name, '.')) {
      if (label.empty() || label.size() > 63) return std::nullopt;
      out.push_back(static_cast<char>(label.size()));
      for (char c : label) out.push_back(text::ascii_lower(c));
    }
  }
  out.push_back('\0');
  if (out.size() > kMaxWireName) return std::nullopt;
  return out;
}

std::string text_from_wire(const WireName& wire) {
  std::string out;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    auto len = static_cast<std::uint8_t>(wire[pos]);
    if (len == 0) break;
    if (!out.empty()) out.push_back('.');
    for (std::size_t i = pos + 1; i <= pos + len && i < wire.size(); ++i) {
      if (wire[i] == '.' || wire[i] == '\\') out.push_back('\\');
      out.push_back(wire[i]);
    }
    pos += 1u + len;
  }
  return out;
}

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::size_t pos() const { return pos_; }
  void seek(std::size_t p) { pos_ = p; }
  bool has(std::size_t n) const { return pos_ <= size_ && size_ - pos_ >= n; }

  bool u16(std::uint16_t& v) {
    if (!has(2)) return false;
    v = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (!has(4)) return false;
    v = (std::uint32_t{data_[pos_]} << 24) | (std::uint32_t{data_[pos_ + 1]} << 16) |
        (std::uint32_t{data_[pos_ + 2]} << 8) | std::uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return true;
  }
  bool skip(std::size_t n) {
    if (!has(n)) return false;
    pos_ += n;
    return true;
  }
  const std::uint8_t* here() const { return data_ + pos_; }

  // RFC 1035 §4.1.4: a name, possibly ending in a compression pointer. Pointers must point strictly
  // backwards (to a "prior occurrence") and at most kMaxPointerHops are followed, so a loop cannot
  // hang us. Advances past the name as it appears at the current position.
  bool name(WireName& out) {
    out.clear();
    std::size_t p = pos_;
    std::optional<std::size_t> end;
    unsigned hops = 0;
    for (;;) {
      if (p >= size_) return false;
      std::uint8_t len = data_[p];
      if (len == 0) {
        out.push_back('\0');
        if (!end) end = p + 1;
        break;
      }
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= size_) return false;
        std::size_t target = (std::size_t{len & 0x3Fu} << 8) | data_[p + 1];
        if (!end) end = p + 2;
        if (target >= p || ++hops > kMaxPointerHops) return false;
        p = target;
        continue;
      }
      if ((len & 0xC0) != 0) return false;  // RFC 6891 §5: extended label types are not used
      if (p + 1 + len > size_) return false;
      if (out.size() + 1 + len + 1 > kMaxWireName) return false;
      out.push_back(static_cast<char>(len));
      for (std::size_t i = p + 1; i <= p + len; ++i) out.push_back(lower_byte(data_[i]));
      p += 1u + len;
    }
    pos_ = *end;
    return true;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

struct ResourceRecord {
  WireName owner;
  std::uint16_t type = 0;
  std::uint16_t rclass = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata = 0;  // offset in the message
  std::uint16_t rdlength = 0;
};

bool read_record(Reader& r, ResourceRecord& rr) {
  if (!r.name(rr.owner) || !r.u16(rr.type) || !r.u16(rr.rclass) || !r.u32(rr.ttl) ||
      !r.u16(rr.rdlength))
    return false;
  if (rr.ttl & 0x80000000u) rr.ttl = 0;  // RFC 2181 §8
  rr.rdata = r.pos();
  return r.skip(rr.rdlength);
}

// Reads a name that must lie inside the rdata [start, start+len) (pointers may leave it).
bool rdata_name(const std::uint8_t* data, std::size_t size, std::size_t start, std::size_t len,
                WireName& out) {
  Reader r(data, size);
  r.seek(start);
  return r.name(out) && r.pos() == start + len;
}

std::string rcode_text(unsigned rcode) {
  static constexpr std::array<const char*, 11> names = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  std::string out = "RCODE " + std::to_string(rcode);
  if (rcode < names.size()) out += std::string(" (") + names[rcode] + ")";
  return out;
}

}  // namespace

std::vector<std::uint8_t> encode_query(std::uint16_t id, std::string_view name, RecordType type,
                                       bool edns) {
  auto wire = wire_from_text(name);
  if (!wire) return {};
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + wire->size() + 4 + (edns ? 11 : 0));
  put16(out, id);
  put16(out, 0x0100);  // QR=0, OPCODE=QUERY, RD=1
  put16(out, 1);       // QDCOUNT
  put16(out, 0);       // ANCOUNT
  put16(out, 0);       // NSCOUNT
  put16(out, edns ? 1 : 0);
  for (char c : *wire) out.push_back(static_cast<std::uint8_t>(c));
  put16(out, static_cast<std::uint16_t>(type));
  put16(out, kClassIn);
  if (edns) {  // RFC 6891 §6.1.2: root owner, type OPT, class = UDP payload size, TTL 0, no options
    out.push_back(0);
    put16(out, kTypeOpt);
    put16(out, kEdnsUdpSize);
    put16(out, 0);
    put16(out, 0);
    put16(out, 0);
  }
  return out;
}

DecodedResponse decode_response(const std::uint8_t* data, std::size_t size,
                                std::string_view expected_name, RecordType expected_type) {
  DecodedResponse d;
  auto fail = [&d](std::string why) -> DecodedResponse& {
    d.error = why;
    d.answer = Answer::failure(Status::server_failure, std::move(why));
    return d;
  };
  if (data == nullptr || size < kHeaderSize) return fail("DNS message shorter than its header");
  Reader r(data, size);
  std::uint16_t flags = 0, qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  r.u16(d.id);
  r.u16(flags);
  r.u16(qdcount);
  r.u16(ancount);
  r.u16(nscount);
  r.u16(arcount);
  d.truncated = (flags & 0x0200) != 0;
  d.rcode = flags & 0x000Fu;
  if ((flags & 0x8000) == 0) return fail("DNS message is not a response (QR=0)");
  if (((flags >> 11) & 0xF) != 0) return fail("DNS response opcode is not QUERY");
  if (qdcount != 1) return fail("DNS response has " + std::to_string(qdcount) + " questions");

  WireName qname;
  std::uint16_t qtype = 0, qclass = 0;
  if (!r.name(qname) || !r.u16(qtype) || !r.u16(qclass))
    return fail("DNS response question section is malformed");
  d.question_name = text_from_wire(qname);
  d.question_type = static_cast<RecordType>(qtype);
  auto expected = wire_from_text(expected_name);
  if (!expected || qname != *expected || qtype != static_cast<std::uint16_t>(expected_type) ||
      qclass != kClassIn)
    return fail("DNS response is for another question (" + d.question_name + "/" +
                std::to_string(qtype) + ")");
  d.question_matches = true;

  if (d.rcode != 0 && d.rcode != 3) {
    d.answer = Answer::failure(Status::server_failure, "server replied " + rcode_text(d.rcode));
    return d;
  }

  // Answer and authority sections. Each record takes at least 11 bytes, so the message size
  // bounds the counts; the vectors never hold more records than the message can contain.
  std::vector<ResourceRecord> answers;
  answers.reserve(std::min<std::size_t>(ancount, size / 11));
  for (unsigned i = 0; i < ancount; ++i) {
    ResourceRecord rr;
    if (!read_record(r, rr)) return fail("DNS response answer section is malformed");
    answers.push_back(std::move(rr));
  }
  std::optional<std::uint32_t> negative_ttl;
  for (unsigned i = 0; i < nscount; ++i) {
    ResourceRecord rr;
    if (!read_record(r, rr)) return fail("DNS response authority section is malformed");
    if (rr.type != kTypeSoa || rr.rclass != kClassIn || negative_ttl) continue;
    // SOA RDATA: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM (RFC 1035 §3.3.13)
    Reader s(data, size);
    s.seek(rr.rdata);
    WireName skip;
    std::uint32_t minimum = 0;
    if (!s.name(skip) || !s.name(skip) || !s.skip(16) || !s.u32(minimum) ||
        s.pos() != rr.rdata + rr.rdlength)
      return fail("DNS response SOA record is malformed");
    if (minimum & 0x80000000u) minimum = 0;
    negative_ttl = std::min(rr.ttl, minimum);  // RFC 2308 §5
  }
  (void)arcount;  // the additional section (OPT, glue) is not needed

  Answer& a = d.answer;
  a = Answer{};
  std::uint32_t ttl = UINT32_MAX;

  // CNAME chain inside the answer section, from the question name (RFC 1034 §3.6.2).
  WireName current = qname;
  std::vector<WireName> visited{current};
  if (expected_type != RecordType::cname) {
    for (unsigned links = 0;; ++links) {
      auto it = std::find_if(answers.begin(), answers.end(), [&](const ResourceRecord& rr) {
        return rr.type == kTypeCname && rr.rclass == kClassIn && rr.owner == current;
      });
      if (it == answers.end()) break;
      if (links == kMaxCnameLinks)
        return fail("CNAME chain longer than " + std::to_string(kMaxCnameLinks) + " links at " +
                    text_from_wire(current));
      WireName target;
      if (!rdata_name(data, size, it->rdata, it->rdlength, target))
        return fail("CNAME record is malformed");
      if (std::find(visited.begin(), visited.end(), target) != visited.end())
        return fail("CNAME loop at " + text_from_wire(target));
      ttl = std::min(ttl, it->ttl);
      visited.push_back(target);
      current = std::move(target);
    }
  }

  if (d.rcode == 3) {
    a.status = Status::nxdomain;
    a.ttl = std::min(negative_ttl.value_or(0), kMaxNegativeTtl);
    return d;
  }

  const auto want = static_cast<std::uint16_t>(expected_type);
  for (const ResourceRecord& rr : answers) {
    if (rr.type != want || rr.rclass != kClassIn || rr.owner != current) continue;
    const std::uint8_t* p = data + rr.rdata;
    switch (expected_type) {
      case RecordType::a:
        if (rr.rdlength != 4) return fail("A record of " + std::to_string(rr.rdlength) + " bytes");
        a.addresses.push_back(net::IpAddress::v4((std::uint32_t{p[0]} << 24) |
                                                 (std::uint32_t{p[1]} << 16) |
                                                 (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]}));
        break;
      case RecordType::aaaa: {
        if (rr.rdlength != 16)
          return fail("AAAA record of " + std::to_string(rr.rdlength) + " bytes");
        std::array<std::uint8_t, 16> bytes{};
        std::copy(p, p + 16, bytes.begin());
        a.addresses.push_back(net::IpAddress::v6(bytes));
        break;
      }
      case RecordType::mx: {
        if (rr.rdlength < 3) return fail("MX record is malformed");
        WireName exchange;
        if (!rdata_name(data, size, rr.rdata + 2, rr.rdlength - 2u, exchange))
          return fail("MX record is malformed");
        a.mx.push_back({static_cast<std::uint16_t>((p[0] << 8) | p[1]), text_from_wire(exchange)});
        break;
      }
      case RecordType::txt: {
        // RFC 1035 §3.3.14: one or more <character-string>s, concatenated (RFC 7208 §3.3).
        std::string value;
        std::size_t i = 0;
        while (i < rr.rdlength) {
          std::size_t len = p[i];
          if (i + 1 + len > rr.rdlength) return fail("TXT record is malformed");
          value.append(reinterpret_cast<const char*>(p + i + 1), len);
          i += 1 + len;
        }
        a.texts.push_back(std::move(value));
        break;
      }
      case RecordType::ptr:
      case RecordType::ns:
      case RecordType::cname: {
        WireName target;
        if (!rdata_name(data, size, rr.rdata, rr.rdlength, target))
          return fail(std::string(to_string(expected_type)) + " record is malformed");
        a.names.push_back(text_from_wire(target));
        break;
      }
      default:
        // A type outside RecordType: its records are not decoded (there is no field for them).
        continue;
    }
    ttl = std::min(ttl, rr.ttl);
  }

  if (a.has_records()) {
    a.ttl = ttl;
  } else {  // NODATA (RFC 2308 §2.2)
    a.ttl = std::min(negative_ttl.value_or(0), kMaxNegativeTtl);
  }
  return d;
}

}  // namespace mailward::dns
