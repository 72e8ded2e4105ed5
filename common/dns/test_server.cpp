// Test helpers: DNS packet builder and the in-process fake DNS server (see test_server.h).
#include "common/dns/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "common/net/ip_address.h"
#include "common/util/text.h"

namespace mailward::dns::testing {

namespace {
void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}
void put32(Bytes& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v & 0xffff));
}
}  // namespace

Bytes wire_name(std::string_view dotted) {
  Bytes out;
  if (!dotted.empty() && dotted.back() == '.') dotted.remove_suffix(1);
  if (!dotted.empty())
    for (std::string_view label : text::split(dotted, '.')) {
      out.push_back(static_cast<std::uint8_t>(label.size()));
      out.insert(out.end(), label.begin(), label.end());
    }
  out.push_back(0);
  return out;
}

Bytes pointer(std::uint16_t offset) {
  return {static_cast<std::uint8_t>(0xC0 | (offset >> 8)), static_cast<std::uint8_t>(offset & 0xff)};
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes a_rdata(std::string_view ipv4) {
  auto ip = net::IpAddress::parse(ipv4);
  if (!ip || !ip->is_v4()) throw std::invalid_argument("bad IPv4 in test");
  return Bytes(ip->bytes(), ip->bytes() + 4);
}

Bytes aaaa_rdata(std::string_view ipv6) {
  auto ip = net::IpAddress::parse(ipv6);
  if (!ip || !ip->is_v6()) throw std::invalid_argument("bad IPv6 in test");
  return Bytes(ip->bytes(), ip->bytes() + 16);
}

Bytes txt_rdata(std::initializer_list<std::string_view> strings) {
  Bytes out;
  for (std::string_view s : strings) {
    out.push_back(static_cast<std::uint8_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

Bytes mx_rdata(std::uint16_t preference, const Bytes& exchange) {
  Bytes out;
  put16(out, preference);
  out.insert(out.end(), exchange.begin(), exchange.end());
  return out;
}

Bytes soa_rdata(std::uint32_t minimum) {
  Bytes out = concat({wire_name("ns.example"), wire_name("hostmaster.example")});
  put32(out, 2024010101);
  put32(out, 3600);
  put32(out, 600);
  put32(out, 86400);
  put32(out, minimum);
  return out;
}

PacketBuilder& PacketBuilder::question(std::string_view name, std::uint16_t type,
                                       std::uint16_t qclass) {
  Bytes n = wire_name(name);
  question_.insert(question_.end(), n.begin(), n.end());
  put16(question_, type);
  put16(question_, qclass);
  ++counts_[0];
  return *this;
}

PacketBuilder& PacketBuilder::record(Section section, const Bytes& owner, std::uint16_t type,
                                     std::uint32_t ttl, const Bytes& rdata, std::uint16_t rclass) {
  Bytes& out = sections_[section];
  out.insert(out.end(), owner.begin(), owner.end());
  put16(out, type);
  put16(out, rclass);
  put32(out, ttl);
  put16(out, static_cast<std::uint16_t>(rdata.size()));
  out.insert(out.end(), rdata.begin(), rdata.end());
  ++counts_[1 + static_cast<int>(section)];
  return *this;
}

Bytes PacketBuilder::bytes() const {
  Bytes out;
  put16(out, id_);
  put16(out, flags_);
  for (std::uint16_t c : counts_) put16(out, c);
  out.insert(out.end(), question_.begin(), question_.end());
  for (const Bytes& s : sections_) out.insert(out.end(), s.begin(), s.end());
  return out;
}

PacketBuilder reply_to(const Query& q, std::uint16_t flags) {
  PacketBuilder b(q.id, flags);
  b.question(q.name, q.type);
  return b;
}

namespace {

// Parses the query the stub sent (uncompressed name: that is what encode_query writes).
bool parse_query(const std::uint8_t* p, std::size_t n, Query& q) {
  if (n < 12) return false;
  q.id = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
  q.edns = ((p[10] << 8) | p[11]) > 0;
  std::size_t pos = 12;
  q.name.clear();
  while (pos < n && p[pos] != 0) {
    std::size_t len = p[pos];
    if (pos + 1 + len > n) return false;
    if (!q.name.empty()) q.name.push_back('.');
    q.name.append(reinterpret_cast<const char*>(p + pos + 1), len);
    pos += 1 + len;
  }
  if (pos + 5 > n) return false;
  q.type = static_cast<std::uint16_t>((p[pos + 1] << 8) | p[pos + 2]);
  return true;
}

bool read_full(int fd, std::uint8_t* buf, std::size_t want) {
  std::size_t got = 0;
  while (got < want) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 2000) <= 0) return false;
    ssize_t r = ::recv(fd, buf + got, want - got, 0);
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

FakeDnsServer::FakeDnsServer(Handler handler) : handler_(std::move(handler)) {
  if (::pipe(stop_) != 0) throw std::runtime_error("pipe");
  for (int tries = 0; tries < 50; ++tries) {
    udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    if (::bind(udp_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
      throw std::runtime_error("bind udp");
    socklen_t len = sizeof sin;
    ::getsockname(udp_, reinterpret_cast<sockaddr*>(&sin), &len);
    tcp_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(tcp_, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0 && ::listen(tcp_, 16) == 0) {
      address_.ip = net::IpAddress::v4(0x7f000001);
      address_.port = ntohs(sin.sin_port);
      thread_ = std::thread([this] { run(); });
      return;
    }
    ::close(udp_);
    ::close(tcp_);
  }
  throw std::runtime_error("no port free for UDP and TCP at once");
}

FakeDnsServer::~FakeDnsServer() {
  char c = 'x';
  if (::write(stop_[1], &c, 1) != 1) {
  }
  if (thread_.joinable()) thread_.join();
  ::close(udp_);
  ::close(tcp_);
  ::close(stop_[0]);
  ::close(stop_[1]);
}

void FakeDnsServer::run() {
  std::vector<std::uint8_t> buf(65535);
  for (;;) {
    pollfd fds[3] = {{stop_[0], POLLIN, 0}, {udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) continue;
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      ssize_t n = ::recvfrom(udp_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from),
                             &from_len);
      Query q;
      if (n > 0 && parse_query(buf.data(), static_cast<std::size_t>(n), q)) {
        ++udp_queries_;
        for (const Bytes& reply : handler_(q))
          ::sendto(udp_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from),
                   from_len);
      }
    }
    if (fds[2].revents & POLLIN) {
      int fd = ::accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        serve_tcp(fd);
        ::close(fd);
      }
    }
  }
}

void FakeDnsServer::serve_tcp(int fd) {
  std::uint8_t len[2];
  if (!read_full(fd, len, 2)) return;
  std::size_t size = (std::size_t{len[0]} << 8) | len[1];
  Bytes query(size);
  if (!read_full(fd, query.data(), size)) return;
  Query q;
  if (!parse_query(query.data(), size, q)) return;
  q.tcp = true;
  ++tcp_queries_;
  for (const Bytes& reply : handler_(q)) {
    Bytes framed{static_cast<std::uint8_t>(reply.size() >> 8),
                 static_cast<std::uint8_t>(reply.size() & 0xff)};
    framed.insert(framed.end(), reply.begin(), reply.end());
    ::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL);
  }
}

}  // namespace mailward::dns::testing
