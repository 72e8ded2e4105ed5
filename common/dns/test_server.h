// Test helpers for the DNS tests: a DNS message builder (hand-made packets, compression pointers
// included) and an in-process fake DNS server on 127.0.0.1 (UDP and TCP on one port, port 0 picked
// by the kernel) whose replies a test function decides.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/dns/stub_resolver.h"

namespace mailward::dns::testing {

using Bytes = std::vector<std::uint8_t>;

Bytes wire_name(std::string_view dotted);  // uncompressed, ends with the root label
Bytes pointer(std::uint16_t offset);       // a compression pointer
Bytes concat(std::initializer_list<Bytes> parts);
Bytes a_rdata(std::string_view ipv4);
Bytes aaaa_rdata(std::string_view ipv6);
Bytes txt_rdata(std::initializer_list<std::string_view> strings);
Bytes mx_rdata(std::uint16_t preference, const Bytes& exchange);
Bytes soa_rdata(std::uint32_t minimum);

class PacketBuilder {
 public:
  enum Section { answer = 0, authority = 1, additional = 2 };
  // flags: e.g. 0x8180 (QR, RD, RA, NOERROR), | 0x0200 for TC, | rcode.
  PacketBuilder(std::uint16_t id, std::uint16_t flags) : id_(id), flags_(flags) {}
  PacketBuilder& question(std::string_view name, std::uint16_t type, std::uint16_t qclass = 1);
  PacketBuilder& record(Section section, const Bytes& owner, std::uint16_t type, std::uint32_t ttl,
                        const Bytes& rdata, std::uint16_t rclass = 1);
  Bytes bytes() const;

 private:
  std::uint16_t id_;
  std::uint16_t flags_;
  std::uint16_t counts_[4] = {0, 0, 0, 0};
  Bytes question_;
  Bytes sections_[3];
};

struct Query {
  std::uint16_t id = 0;
  std::string name;  // as sent (case kept)
  std::uint16_t type = 0;
  bool tcp = false;
  bool edns = false;
};

// A reply to `q` with its question echoed.
PacketBuilder reply_to(const Query& q, std::uint16_t flags = 0x8180);

class FakeDnsServer {
 public:
  // Returns the messages to send back (none: stay silent).
  using Handler = std::function<std::vector<Bytes>(const Query&)>;
  explicit FakeDnsServer(Handler handler);
  ~FakeDnsServer();
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  ServerAddress address() const { return address_; }
  unsigned udp_queries() const { return udp_queries_.load(); }
  unsigned tcp_queries() const { return tcp_queries_.load(); }

 private:
  void run();
  void serve_tcp(int fd);

  Handler handler_;
  ServerAddress address_;
  int udp_ = -1;
  int tcp_ = -1;
  int stop_[2] = {-1, -1};
  std::atomic<unsigned> udp_queries_{0};
  std::atomic<unsigned> tcp_queries_{0};
  std::thread thread_;
};

}  // namespace mailward::dns::testing
