// Codec tests: encode_query bytes, decode_response on hand-built packets (compression, CNAME chains,
// negative TTLs, truncation, mismatches, garbage).
#include "common/dns/wire.h"

#include <gtest/gtest.h>

#include "common/dns/test_server.h"

using namespace mailward::dns;
using namespace mailward::dns::testing;

namespace {

constexpr std::uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28;
constexpr std::uint16_t kOk = 0x8180;

DecodedResponse decode(const Bytes& b, std::string_view name, RecordType type) {
  return decode_response(b.data(), b.size(), name, type);
}

}  // namespace

TEST(EncodeQuery, ExactBytesWithEdns) {
  Bytes q = encode_query(0xBEEF, "Mail.Example.", RecordType::mx, true);
  Bytes expected = concat({{0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1},
                           wire_name("mail.example"),
                           {0, 15, 0, 1},
                           {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0}});
  EXPECT_EQ(q, expected);
  Bytes plain = encode_query(7, "a.example", RecordType::txt, false);
  EXPECT_EQ(plain, concat({{0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, wire_name("a.example"), {0, 16, 0, 1}}));
}

TEST(EncodeQuery, RejectsInvalidNames) {
  struct Case {
    std::string name;
    bool valid;
  } cases[] = {
      {"example.com", true},
      {"example.com.", true},
      {".", true},
      {"", true},
      {"a..b", false},
      {".a", false},
      {"a.b..", false},
      {std::string(63, 'x') + ".example", true},
      {std::string(64, 'x') + ".example", false},
      // 4 labels of 63 = 256 bytes of labels + root: over 255.
      {std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
           std::string(63, 'd'),
       false},
      {std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
           std::string(61, 'd'),
       true},
  };
  for (const Case& c : cases)
    EXPECT_EQ(!encode_query(1, c.name, RecordType::a, true).empty(), c.valid) << c.name;
}

TEST(DecodeResponse, AddressesWithCompressionAndMinimumTtl) {
  Bytes b = PacketBuilder(42, kOk)
                .question("Example.COM", A)
                .record(PacketBuilder::answer, pointer(12), A, 300, a_rdata("192.0.2.1"))
                .record(PacketBuilder::answer, pointer(12), A, 120, a_rdata("192.0.2.2"))
                .record(PacketBuilder::additional, wire_name(""), 41, 0, {})
                .bytes();
  DecodedResponse d = decode(b, "example.com.", RecordType::a);
  EXPECT_TRUE(d.question_matches) << d.error;
  EXPECT_EQ(d.id, 42);
  EXPECT_FALSE(d.truncated);
  EXPECT_EQ(d.question_name, "example.com");
  EXPECT_EQ(d.question_type, RecordType::a);
  ASSERT_EQ(d.answer.status, Status::ok);
  ASSERT_EQ(d.answer.addresses.size(), 2u);
  EXPECT_EQ(d.answer.addresses[0].to_string(), "192.0.2.1");
  EXPECT_EQ(d.answer.addresses[1].to_string(), "192.0.2.2");
  EXPECT_EQ(d.answer.ttl, 120u);
  EXPECT_TRUE(d.error.empty());
}

TEST(DecodeResponse, AaaaMxPtrNs) {
  Bytes aaaa = PacketBuilder(1, kOk)
                   .question("v6.example", AAAA)
                   .record(PacketBuilder::answer, pointer(12), AAAA, 60, aaaa_rdata("2001:db8::1"))
                   .bytes();
  auto d = decode(aaaa, "v6.example", RecordType::aaaa);
  ASSERT_EQ(d.answer.addresses.size(), 1u);
  EXPECT_EQ(d.answer.addresses[0].to_string(), "2001:db8::1");

  // MX exchange "MX1" + pointer to the question name: mx1.example.org
  Bytes mx = PacketBuilder(1, kOk)
                 .question("example.org", MX)
                 .record(PacketBuilder::answer, pointer(12), MX, 60,
                         mx_rdata(10, concat({{3, 'M', 'X', '1'}, pointer(12)})))
                 .record(PacketBuilder::answer, pointer(12), MX, 60, mx_rdata(20, wire_name("Backup.Example.NET.")))
                 .bytes();
  d = decode(mx, "example.org", RecordType::mx);
  ASSERT_EQ(d.answer.mx.size(), 2u) << d.error;
  EXPECT_EQ(d.answer.mx[0], (MxRecord{10, "mx1.example.org"}));
  EXPECT_EQ(d.answer.mx[1], (MxRecord{20, "backup.example.net"}));

  Bytes ptr = PacketBuilder(1, kOk)
                  .question("1.2.0.192.in-addr.arpa", PTR)
                  .record(PacketBuilder::answer, pointer(12), PTR, 60, wire_name("Host.Example."))
                  .bytes();
  d = decode(ptr, "1.2.0.192.in-addr.arpa", RecordType::ptr);
  ASSERT_EQ(d.answer.names, std::vector<std::string>{"host.example"});

  Bytes ns = PacketBuilder(1, kOk)
                 .question("example", NS)
                 .record(PacketBuilder::answer, pointer(12), NS, 60, concat({{2, 'n', 's'}, pointer(12)}))
                 .bytes();
  d = decode(ns, "example", RecordType::ns);
  ASSERT_EQ(d.answer.names, std::vector<std::string>{"ns.example"});
}

TEST(DecodeResponse, TxtStringsConcatenatedPerRecord) {
  Bytes b = PacketBuilder(1, kOk)
                .question("example.com", TXT)
                .record(PacketBuilder::answer, pointer(12), TXT, 300,
                        txt_rdata({"v=spf1 ip4:192.0.2.0/24", " ", "-all"}))
                .record(PacketBuilder::answer, pointer(12), TXT, 300, txt_rdata({"", "second"}))
                .record(PacketBuilder::answer, pointer(12), TXT, 300, Bytes{})  // empty RDATA
                .bytes();
  auto d = decode(b, "example.com", RecordType::txt);
  ASSERT_EQ(d.answer.status, Status::ok) << d.error;
  EXPECT_EQ(d.answer.texts,
            (std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 -all", "second", ""}));
}

TEST(DecodeResponse, FollowsCnameChainInAnyOrder) {
  // alias.example -> MID.example -> target.example (A), records deliberately out of order, plus a
  // record for an unrelated owner that must not be collected.
  Bytes b = PacketBuilder(9, kOk)
                .question("alias.example", A)
                .record(PacketBuilder::answer, wire_name("target.example"), A, 50, a_rdata("192.0.2.9"))
                .record(PacketBuilder::answer, wire_name("other.example"), A, 50, a_rdata("192.0.2.66"))
                .record(PacketBuilder::answer, wire_name("mid.example"), CNAME, 30, wire_name("target.example"))
                .record(PacketBuilder::answer, pointer(12), CNAME, 100, wire_name("MID.example"))
                .bytes();
  auto d = decode(b, "alias.example", RecordType::a);
  ASSERT_EQ(d.answer.status, Status::ok) << d.error;
  ASSERT_EQ(d.answer.addresses.size(), 1u);
  EXPECT_EQ(d.answer.addresses[0].to_string(), "192.0.2.9");
  EXPECT_EQ(d.answer.ttl, 30u);

  // Asking for the CNAME itself does not follow it.
  Bytes c = PacketBuilder(9, kOk)
                .question("alias.example", CNAME)
                .record(PacketBuilder::answer, pointer(12), CNAME, 100, wire_name("mid.example"))
                .bytes();
  d = decode(c, "alias.example", RecordType::cname);
  EXPECT_EQ(d.answer.names, std::vector<std::string>{"mid.example"});

  // A chain whose end has no record of the type: NODATA.
  Bytes n = PacketBuilder(9, kOk)
                .question("alias.example", TXT)
                .record(PacketBuilder::answer, pointer(12), CNAME, 100, wire_name("mid.example"))
                .bytes();
  d = decode(n, "alias.example", RecordType::txt);
  EXPECT_EQ(d.answer.status, Status::ok);
  EXPECT_FALSE(d.answer.has_records());
}

TEST(DecodeResponse, CnameLoopAndOverlongChainAreServerFailures) {
  Bytes loop = PacketBuilder(1, kOk)
                   .question("a.example", A)
                   .record(PacketBuilder::answer, wire_name("a.example"), CNAME, 10, wire_name("b.example"))
                   .record(PacketBuilder::answer, wire_name("b.example"), CNAME, 10, wire_name("A.example"))
                   .bytes();
  auto d = decode(loop, "a.example", RecordType::a);
  EXPECT_TRUE(d.question_matches);
  EXPECT_EQ(d.answer.status, Status::server_failure);
  EXPECT_NE(d.answer.error.find("CNAME loop"), std::string::npos) << d.answer.error;

  PacketBuilder chain(1, kOk);
  chain.question("c0.example", A);
  for (int i = 0; i <= 17; ++i)
    chain.record(PacketBuilder::answer, wire_name("c" + std::to_string(i) + ".example"), CNAME, 10,
                 wire_name("c" + std::to_string(i + 1) + ".example"));
  d = decode(chain.bytes(), "c0.example", RecordType::a);
  EXPECT_EQ(d.answer.status, Status::server_failure);
  EXPECT_NE(d.answer.error.find("CNAME chain longer"), std::string::npos) << d.answer.error;

  // Exactly kMaxCnameLinks links is fine.
  PacketBuilder ok_chain(1, kOk);
  ok_chain.question("c0.example", A);
  for (unsigned i = 0; i < kMaxCnameLinks; ++i)
    ok_chain.record(PacketBuilder::answer, wire_name("c" + std::to_string(i) + ".example"), CNAME, 10,
                    wire_name("c" + std::to_string(i + 1) + ".example"));
  ok_chain.record(PacketBuilder::answer, wire_name("c" + std::to_string(kMaxCnameLinks) + ".example"),
                  A, 10, a_rdata("192.0.2.3"));
  d = decode(ok_chain.bytes(), "c0.example", RecordType::a);
  EXPECT_EQ(d.answer.addresses.size(), 1u) << d.answer.error;
}

TEST(DecodeResponse, NegativeAnswersUseSoaMinimum) {
  struct Case {
    std::uint16_t flags;
    std::uint32_t soa_ttl, minimum;
    Status status;
    std::uint32_t ttl;
  } cases[] = {
      {0x8183, 3600, 300, Status::nxdomain, 300},    // min(SOA TTL, MINIMUM): RFC 2308 §5
      {0x8183, 60, 300, Status::nxdomain, 60},
      {0x8180, 900, 86400, Status::ok, 900},         // NODATA
      {0x8183, 86400, 86400, Status::nxdomain, kMaxNegativeTtl},
      {0x8183, 0x80000000u, 300, Status::nxdomain, 0},  // RFC 2181 §8: top bit set means 0
  };
  for (const Case& c : cases) {
    Bytes b = PacketBuilder(1, c.flags)
                  .question("none.example", TXT)
                  .record(PacketBuilder::authority, wire_name("example"), SOA, c.soa_ttl,
                          soa_rdata(c.minimum))
                  .bytes();
    auto d = decode(b, "none.example", RecordType::txt);
    EXPECT_EQ(d.answer.status, c.status);
    EXPECT_EQ(d.answer.ttl, c.ttl) << c.soa_ttl << " " << c.minimum;
    EXPECT_FALSE(d.answer.has_records());
  }
  Bytes no_soa = PacketBuilder(1, 0x8183).question("none.example", TXT).bytes();
  auto d = decode(no_soa, "none.example", RecordType::txt);
  EXPECT_EQ(d.answer.status, Status::nxdomain);
  EXPECT_EQ(d.answer.ttl, 0u);
}

TEST(DecodeResponse, OtherRcodesAreServerFailures) {
  struct Case {
    std::uint16_t rcode;
    const char* word;
  } cases[] = {{1, "FORMERR"}, {2, "SERVFAIL"}, {4, "NOTIMP"}, {5, "REFUSED"}, {15, "RCODE 15"}};
  for (const Case& c : cases) {
    Bytes b = PacketBuilder(1, static_cast<std::uint16_t>(0x8180 | c.rcode))
                  .question("example.com", A)
                  .bytes();
    auto d = decode(b, "example.com", RecordType::a);
    EXPECT_TRUE(d.question_matches);
    EXPECT_EQ(d.rcode, c.rcode);
    EXPECT_EQ(d.answer.status, Status::server_failure);
    EXPECT_NE(d.answer.error.find(c.word), std::string::npos) << d.answer.error;
  }
}

TEST(DecodeResponse, MismatchedRepliesAreFlagged) {
  struct Case {
    const char* what;
    Bytes packet;
  } cases[] = {
      {"query, not response", PacketBuilder(1, 0x0100).question("example.com", A).bytes()},
      {"other name", PacketBuilder(1, kOk).question("example.net", A).bytes()},
      {"other type", PacketBuilder(1, kOk).question("example.com", TXT).bytes()},
      {"other class", PacketBuilder(1, kOk).question("example.com", A, 3).bytes()},
      {"no question", PacketBuilder(1, kOk).bytes()},
      {"two questions",
       PacketBuilder(1, kOk).question("example.com", A).question("example.com", A).bytes()},
      {"longer name", PacketBuilder(1, kOk).question("www.example.com", A).bytes()},
      {"opcode STATUS", PacketBuilder(1, 0x9180).question("example.com", A).bytes()},
  };
  for (const Case& c : cases) {
    auto d = decode(c.packet, "example.com", RecordType::a);
    EXPECT_FALSE(d.question_matches) << c.what;
    EXPECT_FALSE(d.error.empty()) << c.what;
    EXPECT_EQ(d.answer.status, Status::server_failure) << c.what;
  }
  // Case differences in the echoed question are not a mismatch (RFC 4343).
  auto d = decode(PacketBuilder(1, kOk).question("eXaMpLe.CoM", A).bytes(), "Example.com.", RecordType::a);
  EXPECT_TRUE(d.question_matches) << d.error;
  EXPECT_EQ(d.question_name, "example.com");
}

TEST(DecodeResponse, TruncatedFlagAndTruncatedPackets) {
  Bytes tc = PacketBuilder(5, 0x8380).question("big.example", TXT).bytes();
  auto d = decode(tc, "big.example", RecordType::txt);
  EXPECT_TRUE(d.truncated);
  EXPECT_TRUE(d.question_matches);

  Bytes full = PacketBuilder(5, kOk)
                   .question("big.example", TXT)
                   .record(PacketBuilder::answer, pointer(12), TXT, 60, txt_rdata({"hello", "world"}))
                   .record(PacketBuilder::authority, wire_name("example"), SOA, 60, soa_rdata(60))
                   .bytes();
  const std::size_t question_end = 12 + wire_name("big.example").size() + 4;
  for (std::size_t n = 0; n < full.size(); ++n) {
    auto cut = decode_response(full.data(), n, "big.example", RecordType::txt);
    EXPECT_EQ(cut.answer.status, Status::server_failure) << n;
    EXPECT_FALSE(cut.error.empty()) << n;
    EXPECT_EQ(cut.question_matches, n >= question_end) << n;
  }
  auto whole = decode(full, "big.example", RecordType::txt);
  EXPECT_EQ(whole.answer.texts, std::vector<std::string>{"helloworld"});
  EXPECT_EQ(decode_response(nullptr, 0, "x", RecordType::a).answer.status, Status::server_failure);
}

TEST(DecodeResponse, HostileNamesAndRdata) {
  struct Case {
    const char* what;
    Bytes packet;
  } cases[] = {
      {"pointer to itself",
       concat({PacketBuilder(1, kOk).question("e.example", A).bytes()})},  // patched below
      {"forward pointer in answer owner",
       PacketBuilder(1, kOk).question("e.example", A).record(PacketBuilder::answer, pointer(200), A, 1, a_rdata("192.0.2.1")).bytes()},
      {"A record of 5 bytes",
       PacketBuilder(1, kOk).question("e.example", A).record(PacketBuilder::answer, pointer(12), A, 1, Bytes{1, 2, 3, 4, 5}).bytes()},
      {"AAAA of 4 bytes",
       PacketBuilder(1, kOk).question("e.example", AAAA).record(PacketBuilder::answer, pointer(12), AAAA, 1, Bytes{1, 2, 3, 4}).bytes()},
      {"TXT string overruns RDATA",
       PacketBuilder(1, kOk).question("e.example", TXT).record(PacketBuilder::answer, pointer(12), TXT, 1, Bytes{10, 'a'}).bytes()},
      {"MX name overruns RDATA",
       PacketBuilder(1, kOk).question("e.example", MX).record(PacketBuilder::answer, pointer(12), MX, 1, Bytes{0, 10, 3, 'a', 'b'}).bytes()},
      {"MX name shorter than RDATA",
       PacketBuilder(1, kOk).question("e.example", MX).record(PacketBuilder::answer, pointer(12), MX, 1, concat({{0, 10}, wire_name("a"), {0}})).bytes()},
      {"extended label type",
       PacketBuilder(1, kOk).question("e.example", PTR).record(PacketBuilder::answer, pointer(12), PTR, 1, Bytes{0x41, 0}).bytes()},
      {"RDLENGTH past the end",
       concat({PacketBuilder(1, kOk).question("e.example", A).bytes(), pointer(12), {0, 1, 0, 1, 0, 0, 0, 1, 0xff, 0xff}})},
  };
  // Turn the first case into a pointer-to-itself in the answer owner (ANCOUNT 1).
  Bytes& self = cases[0].packet;
  self[7] = 1;
  std::size_t at = self.size();
  Bytes tail = concat({pointer(static_cast<std::uint16_t>(at)), {0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4}});
  self.insert(self.end(), tail.begin(), tail.end());
  // Fix ANCOUNT of the hand-concatenated RDLENGTH case too.
  cases[8].packet[7] = 1;

  for (Case& c : cases) {
    std::string_view name = "e.example";
    std::uint16_t qtype = static_cast<std::uint16_t>((c.packet[12 + wire_name(name).size()] << 8) |
                                                     c.packet[12 + wire_name(name).size() + 1]);
    auto d = decode(c.packet, name, static_cast<RecordType>(qtype));
    EXPECT_TRUE(d.question_matches) << c.what;
    EXPECT_EQ(d.answer.status, Status::server_failure) << c.what;
    EXPECT_FALSE(d.answer.error.empty()) << c.what;
  }
}

TEST(DecodeResponse, PointerChainsAreBounded) {
  // A record of an ignored type whose RDATA holds a chain of names, each one label plus a backward
  // pointer to the previous; then an A record owned by the last of them. Every pointer is legal,
  // but the name has too many hops and is too long: rejected (not looped on, not accepted).
  for (int pieces : {40, 150}) {
    Bytes packet = PacketBuilder(1, kOk).question("e.example", A).bytes();
    packet[7] = 2;  // ANCOUNT
    Bytes head = concat({pointer(12), {0, 99, 0, 1, 0, 0, 0, 1}});
    packet.insert(packet.end(), head.begin(), head.end());
    std::size_t rdlength_at = packet.size();
    packet.insert(packet.end(), {0, 0});
    std::size_t prev = 12;
    for (int i = 0; i < pieces; ++i) {
      std::size_t here = packet.size();
      Bytes piece = concat({{1, 'x'}, pointer(static_cast<std::uint16_t>(prev))});
      packet.insert(packet.end(), piece.begin(), piece.end());
      prev = here;
    }
    std::size_t rdlength = packet.size() - rdlength_at - 2;
    packet[rdlength_at] = static_cast<std::uint8_t>(rdlength >> 8);
    packet[rdlength_at + 1] = static_cast<std::uint8_t>(rdlength & 0xff);
    Bytes rr = concat({pointer(static_cast<std::uint16_t>(prev)), {0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4}});
    packet.insert(packet.end(), rr.begin(), rr.end());
    auto d = decode(packet, "e.example", RecordType::a);
    EXPECT_TRUE(d.question_matches);
    if (pieces == 40) {  // 40 hops, 91 bytes: a fine name, owned by another name than asked
      EXPECT_EQ(d.answer.status, Status::ok) << d.error;
      EXPECT_FALSE(d.answer.has_records());
    } else {
      EXPECT_EQ(d.answer.status, Status::server_failure);
    }
  }
}

TEST(DecodeResponse, DotsInsideLabelsAreEscaped) {
  Bytes target = concat({{3, 'a', '.', 'b'}, wire_name("example")});
  Bytes b = PacketBuilder(1, kOk)
                .question("p.example", PTR)
                .record(PacketBuilder::answer, pointer(12), PTR, 1, target)
                .bytes();
  auto d = decode(b, "p.example", RecordType::ptr);
  EXPECT_EQ(d.answer.names, std::vector<std::string>{"a\\.b.example"});
  // A question whose single label holds a dot is not the two-label name asked for.
  Bytes q = concat({{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}, {3, 'a', '.', 'b', 0}, {0, 1, 0, 1}});
  EXPECT_FALSE(decode(q, "a.b", RecordType::a).question_matches);
}

TEST(DecodeResponse, HugeTxtOverTcp) {
  // About 64 KB of TXT: 250 strings of 255 bytes in one record (RDLENGTH 64000).
  std::string chunk(255, 'z');
  Bytes rdata;
  for (int i = 0; i < 250; ++i) {
    rdata.push_back(255);
    rdata.insert(rdata.end(), chunk.begin(), chunk.end());
  }
  Bytes b = PacketBuilder(1, kOk)
                .question("big.example", TXT)
                .record(PacketBuilder::answer, pointer(12), TXT, 60, rdata)
                .bytes();
  auto d = decode(b, "big.example", RecordType::txt);
  ASSERT_EQ(d.answer.texts.size(), 1u) << d.error;
  EXPECT_EQ(d.answer.texts[0].size(), 250u * 255u);
}

TEST(DecodeResponse, IgnoresOtherTypesAndClassesAtTheOwner) {
  Bytes b = PacketBuilder(1, kOk)
                .question("e.example", TXT)
                .record(PacketBuilder::answer, pointer(12), 46, 5, Bytes{1, 2, 3})  // RRSIG-ish
                .record(PacketBuilder::answer, pointer(12), TXT, 5, txt_rdata({"chaos"}), 3)
                .record(PacketBuilder::answer, pointer(12), TXT, 7, txt_rdata({"in"}))
                .bytes();
  auto d = decode(b, "e.example", RecordType::txt);
  EXPECT_EQ(d.answer.texts, std::vector<std::string>{"in"});
  EXPECT_EQ(d.answer.ttl, 7u);
}
