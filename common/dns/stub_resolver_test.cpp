// StubResolver against an in-process fake DNS server on 127.0.0.1: answers, TCP fallback, timeouts,
// spoofed replies, server rotation, SERVFAIL/NXDOMAIN; plus ServerAddress and resolv.conf parsing.
#include "common/dns/stub_resolver.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common/dns/caching_resolver.h"
#include "common/dns/test_server.h"

using namespace mailward::dns;
using namespace mailward::dns::testing;
using std::chrono::milliseconds;

namespace {

constexpr std::uint16_t A = 1, SOA = 6, TXT = 16;

StubSettings settings_for(std::vector<ServerAddress> servers, milliseconds timeout = milliseconds(1000),
                          unsigned attempts = 2) {
  StubSettings s;
  s.servers = std::move(servers);
  s.timeout = timeout;
  s.attempts = attempts;
  return s;
}

std::vector<Bytes> one(Bytes b) { return {std::move(b)}; }

// An address of a UDP port nobody listens on (bound, read, closed again).
ServerAddress closed_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(fd);
  return {mailward::net::IpAddress::v4(0x7f000001), ntohs(sin.sin_port)};
}

}  // namespace

TEST(ServerAddress, ParsesAndPrints) {
  struct Case {
    const char* text;
    const char* printed;  // nullptr: rejected
  } cases[] = {
      {"127.0.0.1", "127.0.0.1:53"},
      {"127.0.0.1:5353", "127.0.0.1:5353"},
      {"::1", "[::1]:53"},
      {"[::1]:5353", "[::1]:5353"},
      {"[2001:DB8::1]", "[2001:db8::1]:53"},
      {" 192.0.2.1 ", "192.0.2.1:53"},
      {"127.0.0.1:0", nullptr},
      {"127.0.0.1:65536", nullptr},
      {"127.0.0.1:", nullptr},
      {"[::1]:", nullptr},
      {"[::1", nullptr},
      {"[127.0.0.1]:53", nullptr},
      {"localhost", nullptr},
      {"", nullptr},
      {"1.2.3.4:53:53", nullptr},
  };
  for (const Case& c : cases) {
    auto a = ServerAddress::parse(c.text);
    if (c.printed == nullptr) {
      EXPECT_FALSE(a) << c.text;
    } else {
      ASSERT_TRUE(a) << c.text;
      EXPECT_EQ(a->to_string(), c.printed);
      EXPECT_EQ(ServerAddress::parse(a->to_string()), a) << c.text;
    }
  }
}

TEST(ServerAddress, ReadsResolvConf) {
  std::string path = ::testing::TempDir() + "/mailward_resolv.conf";
  {
    std::ofstream out(path);
    out << "# comment\n; nameserver 10.0.0.1\nsearch example\nnameserver 192.0.2.53\n"
           "nameserver\t2001:db8::53  # trailing\nnameserver fe80::1%eth0\nnameserver bogus\n"
           "options edns0\n";
  }
  auto servers = servers_from_resolv_conf(path);
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].to_string(), "192.0.2.53:53");
  EXPECT_EQ(servers[1].to_string(), "[2001:db8::53]:53");
  std::remove(path.c_str());
  auto fallback = servers_from_resolv_conf(path);  // missing file
  ASSERT_EQ(fallback.size(), 1u);
  EXPECT_EQ(fallback[0].to_string(), "127.0.0.1:53");
}

TEST(StubResolver, AnswersOverUdpWithEdns) {
  std::atomic<bool> saw_edns{false};
  FakeDnsServer server([&](const Query& q) {
    saw_edns = q.edns;
    return one(reply_to(q)
                   .record(PacketBuilder::answer, pointer(12), A, 300, a_rdata("192.0.2.10"))
                   .bytes());
  });
  StubResolver r(settings_for({server.address()}));
  Answer a = r.lookup("Mail.Example.", RecordType::a);
  ASSERT_EQ(a.status, Status::ok) << a.error;
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].to_string(), "192.0.2.10");
  EXPECT_EQ(a.ttl, 300u);
  EXPECT_TRUE(saw_edns);
  EXPECT_EQ(server.udp_queries(), 1u);
  EXPECT_EQ(server.tcp_queries(), 0u);
}

TEST(StubResolver, FallsBackToTcpWhenTruncated) {
  std::string big(200, 'k');
  FakeDnsServer server([&](const Query& q) {
    if (!q.tcp) return one(reply_to(q, 0x8380).bytes());  // TC set, no records
    PacketBuilder b = reply_to(q);
    // 300 records of about 200 bytes: close to the 64 KB a TCP message can hold.
    for (int i = 0; i < 300; ++i)
      b.record(PacketBuilder::answer, pointer(12), TXT, 60, txt_rdata({std::to_string(i), big}));
    return one(b.bytes());
  });
  StubResolver r(settings_for({server.address()}));
  Answer a = r.lookup("big.example", RecordType::txt);
  ASSERT_EQ(a.status, Status::ok) << a.error;
  ASSERT_EQ(a.texts.size(), 300u);
  EXPECT_EQ(a.texts[7], "7" + big);
  EXPECT_EQ(a.texts[299], "299" + big);
  EXPECT_EQ(server.udp_queries(), 1u);
  EXPECT_EQ(server.tcp_queries(), 1u);
}

TEST(StubResolver, TimesOutOnASilentServer) {
  FakeDnsServer silent([](const Query&) { return std::vector<Bytes>{}; });
  StubResolver r(settings_for({silent.address()}, milliseconds(100), 1));
  auto start = std::chrono::steady_clock::now();
  Answer a = r.lookup("slow.example", RecordType::txt);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(a.status, Status::timeout);
  EXPECT_GE(elapsed, milliseconds(95));
  EXPECT_LT(elapsed, milliseconds(600));
  EXPECT_NE(a.error.find("slow.example"), std::string::npos) << a.error;
  EXPECT_NE(a.error.find(silent.address().to_string()), std::string::npos) << a.error;
  EXPECT_EQ(silent.udp_queries(), 1u);
}

TEST(StubResolver, IgnoresRepliesWithWrongIdOrQuestion) {
  FakeDnsServer server([](const Query& q) {
    Query wrong_id = q;
    wrong_id.id = static_cast<std::uint16_t>(q.id ^ 0x5a5a);
    Query wrong_name = q;
    wrong_name.name = "evil.example";
    return std::vector<Bytes>{
        reply_to(wrong_id).record(PacketBuilder::answer, pointer(12), A, 60, a_rdata("203.0.113.66")).bytes(),
        reply_to(wrong_name).record(PacketBuilder::answer, pointer(12), A, 60, a_rdata("203.0.113.67")).bytes(),
        Bytes{1, 2, 3},
        reply_to(q).record(PacketBuilder::answer, pointer(12), A, 60, a_rdata("192.0.2.1")).bytes()};
  });
  StubResolver r(settings_for({server.address()}));
  Answer a = r.lookup("good.example", RecordType::a);
  ASSERT_EQ(a.status, Status::ok) << a.error;
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].to_string(), "192.0.2.1");

  FakeDnsServer only_wrong([](const Query& q) {
    Query wrong_id = q;
    wrong_id.id = static_cast<std::uint16_t>(q.id + 1);
    return one(reply_to(wrong_id).record(PacketBuilder::answer, pointer(12), A, 60, a_rdata("203.0.113.66")).bytes());
  });
  StubResolver r2(settings_for({only_wrong.address()}, milliseconds(100), 1));
  EXPECT_EQ(r2.lookup("good.example", RecordType::a).status, Status::timeout);
}

TEST(StubResolver, UsesTheSecondServerWhenTheFirstIsDead) {
  FakeDnsServer dead([](const Query&) { return std::vector<Bytes>{}; });
  FakeDnsServer alive([](const Query& q) {
    return one(reply_to(q).record(PacketBuilder::answer, pointer(12), TXT, 60, txt_rdata({"v=spf1 -all"})).bytes());
  });
  StubResolver r(settings_for({dead.address(), alive.address()}, milliseconds(100), 2));
  Answer a = r.lookup("example.com", RecordType::txt);
  ASSERT_EQ(a.status, Status::ok) << a.error;
  EXPECT_EQ(a.texts, std::vector<std::string>{"v=spf1 -all"});
  EXPECT_EQ(dead.udp_queries(), 1u);
  EXPECT_EQ(alive.udp_queries(), 1u);

  // A closed port (ICMP port unreachable) is skipped at once, without waiting for the timeout.
  StubResolver fast(settings_for({closed_port(), alive.address()}, milliseconds(2000), 2));
  auto start = std::chrono::steady_clock::now();
  Answer b = fast.lookup("example.com", RecordType::txt);
  EXPECT_EQ(b.status, Status::ok) << b.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

TEST(StubResolver, RotatesServersOverAttempts) {
  FakeDnsServer s1([](const Query&) { return std::vector<Bytes>{}; });
  FakeDnsServer s2([](const Query&) { return std::vector<Bytes>{}; });
  StubResolver r(settings_for({s1.address(), s2.address()}, milliseconds(50), 3));
  Answer a = r.lookup("x.example", RecordType::a);
  EXPECT_EQ(a.status, Status::timeout);
  EXPECT_EQ(s1.udp_queries(), 3u);
  EXPECT_EQ(s2.udp_queries(), 3u);
  EXPECT_NE(a.error.find(s2.address().to_string()), std::string::npos) << a.error;
}

TEST(StubResolver, ServfailNxdomainNodataAndFormerr) {
  FakeDnsServer server([](const Query& q) -> std::vector<Bytes> {
    if (q.name == "servfail.example") return one(reply_to(q, 0x8182).bytes());
    if (q.name == "formerr.example") {
      if (q.edns) return one(reply_to(q, 0x8181).bytes());
      return one(reply_to(q).record(PacketBuilder::answer, pointer(12), A, 60, a_rdata("192.0.2.5")).bytes());
    }
    std::uint16_t flags = q.name == "missing.example" ? 0x8183 : 0x8180;
    return one(reply_to(q, flags)
                   .record(PacketBuilder::authority, wire_name("example"), SOA, 3600, soa_rdata(120))
                   .bytes());
  });
  StubResolver r(settings_for({server.address()}, milliseconds(1000), 2));
  Answer sf = r.lookup("servfail.example", RecordType::a);
  EXPECT_EQ(sf.status, Status::server_failure);
  EXPECT_NE(sf.error.find("SERVFAIL"), std::string::npos) << sf.error;
  EXPECT_EQ(server.udp_queries(), 1u);  // a server that said SERVFAIL is not asked again

  Answer nx = r.lookup("missing.example", RecordType::a);
  EXPECT_EQ(nx.status, Status::nxdomain);
  EXPECT_EQ(nx.ttl, 120u);
  EXPECT_TRUE(nx.error.empty());

  Answer nodata = r.lookup("empty.example", RecordType::txt);
  EXPECT_EQ(nodata.status, Status::ok);
  EXPECT_FALSE(nodata.has_records());
  EXPECT_EQ(nodata.ttl, 120u);

  Answer fe = r.lookup("formerr.example", RecordType::a);
  ASSERT_EQ(fe.status, Status::ok) << fe.error;
  EXPECT_EQ(fe.addresses.size(), 1u);

  Answer bad = r.lookup("a..b", RecordType::a);
  EXPECT_EQ(bad.status, Status::server_failure);
}

TEST(StubResolver, ManyThreadsThroughTheCache) {
  FakeDnsServer server([](const Query& q) {
    // The answer encodes the name's first label so each thread can check it got its own answer.
    std::string label = q.name.substr(0, q.name.find('.'));
    return one(reply_to(q).record(PacketBuilder::answer, pointer(12), TXT, 60, txt_rdata({label})).bytes());
  });
  StubResolver stub(settings_for({server.address()}));
  CachingResolver cache(stub, CacheSettings{});
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        std::string label = "n" + std::to_string((t * 7 + i) % 25);
        Answer a = cache.lookup(label + ".example", RecordType::txt);
        if (a.status != Status::ok || a.texts != std::vector<std::string>{label}) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  auto stats = cache.stats();
  EXPECT_EQ(stats.hits + stats.misses, 320u);
  EXPECT_EQ(stats.entries, 25u);
  EXPECT_GE(server.udp_queries(), 25u);
}
