// Hostile-input test of the real mailward-milter daemon, driven through the milter protocol by
// tests/milter_client, with DNS from an in-test server (common/dns/test_server.h) that we control.
//
// Each hostile case — 1 MB header lines, 5000 header fields, an empty body, NUL bytes in header and
// body, a DKIM-Signature with garbage tags; huge TXT records, include loops, macro bombs, CNAME loops
// and lookup floods served by our DNS; garbage on the socket (random packets, truncated packets,
// oversized and zero length fields) — must get a correct protocol reply (or, where libmilter's own
// framing rules apply, a closed connection), the daemon must stay up, and a normal message sent
// afterwards must still get its normal answer (accept with spf=pass). The cases run three rounds;
// the daemon's RSS may not grow from round one to round three beyond a small margin.
// A second daemon whose DNS server never answers must answer TEMPFAIL, never REJECT.
//
// Needs the mailward-milter binary: $MAILWARD_MILTER (set by CTest). Without it the test is skipped.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "common/dns/test_server.h"
#include "tests/milter_client/session.h"

namespace mailward {
namespace {

using namespace std::string_literals;
using namespace milter_client;
namespace dt = dns::testing;
using std::chrono::milliseconds;

constexpr std::uint16_t kA = 1, kCname = 5, kTxt = 16;

dt::Bytes txt_of(const std::string& text) {  // one TXT record, split in 255-byte strings
  dt::Bytes out;
  for (std::size_t at = 0; at < text.size() || at == 0; at += 255) {
    std::string part = text.substr(at, 255);
    out.push_back(static_cast<std::uint8_t>(part.size()));
    out.insert(out.end(), part.begin(), part.end());
    if (text.empty()) break;
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The test zones. Anything not listed is NXDOMAIN.
std::vector<dt::Bytes> answer(const dt::Query& q) {
  const std::string name = lower(q.name);
  auto txt = [&](const std::string& text) {
    dt::Bytes rdata = txt_of(text);
    if (!q.tcp && rdata.size() > 1000) return std::vector<dt::Bytes>{dt::reply_to(q, 0x8380).bytes()};  // TC
    return std::vector<dt::Bytes>{dt::reply_to(q).record(dt::PacketBuilder::answer, dt::wire_name(q.name), kTxt, 300, rdata).bytes()};
  };
  auto cname = [&](const std::string& target) {
    return std::vector<dt::Bytes>{dt::reply_to(q).record(dt::PacketBuilder::answer, dt::wire_name(q.name), kCname, 300, dt::wire_name(target)).bytes()};
  };
  auto nodata = [&] { return std::vector<dt::Bytes>{dt::reply_to(q).bytes()}; };
  auto nxdomain = [&] { return std::vector<dt::Bytes>{dt::reply_to(q, 0x8183).bytes()}; };

  // CNAME loops answer every type.
  if (name == "a.cname.example") return cname("b.cname.example");
  if (name == "b.cname.example") return cname("a.cname.example");
  if (name == "cname.example") return cname("a.cname.example");
  if (q.type == kA) {
    if (name == "mail.good.example") return {dt::reply_to(q).record(dt::PacketBuilder::answer, dt::wire_name(q.name), kA, 300, dt::a_rdata("192.0.2.10")).bytes()};
    return nxdomain();
  }
  if (q.type != kTxt) return nodata();
  if (name == "good.example") return txt("v=spf1 ip4:192.0.2.10 -all");
  if (name == "_dmarc.good.example") return txt("v=DMARC1; p=reject");
  if (name == "s1._domainkey.good.example") return txt("v=DKIM1; k=rsa; p=!!garbage!!; t=y:s:?");
  if (name == "huge.example") {
    std::string rec = "v=spf1";
    while (rec.size() < 60000) rec += " ip4:198.51.100." + std::to_string(rec.size() % 250) + "/32";
    return txt(rec + " -all");
  }
  if (name == "_dmarc.huge.example") return txt("v=DMARC1; p=reject; rua=" + std::string(30000, 'x'));
  if (name == "loop.example") return txt("v=spf1 include:loop.example include:loop2.example -all");
  if (name == "loop2.example") return txt("v=spf1 include:loop.example -all");
  if (name == "bomb.example") {
    std::string rec = "v=spf1";
    for (int i = 0; i < 9; ++i)
      rec += " exists:%{l}%{l}%{l}%{l}%{l}%{l}%{l}%{l}.%{d}.%{d}.%{d}.%{i}.%{h}.%{o}.x" + std::to_string(i) + ".bomb.example";
    return txt(rec + " -all");
  }
  if (name == "flood.example") {
    std::string rec = "v=spf1";
    for (int i = 0; i < 40; ++i) rec += " include:f" + std::to_string(i) + ".flood.example";
    return txt(rec + " -all");
  }
  if (ends_with(name, ".flood.example")) return txt("v=spf1 a mx ptr exists:%{i}.void.example -all");
  if (name == "manytxt.example") {
    dt::PacketBuilder b = dt::reply_to(q);
    for (int i = 0; i < 40; ++i)
      b.record(dt::PacketBuilder::answer, dt::wire_name(q.name), kTxt, 300, txt_of("v=spf1 ip4:192.0.2." + std::to_string(i) + " -all"));
    return {b.bytes()};
  }
  return nxdomain();
}

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// One mailward-milter process with its own config and socket.
class Daemon {
 public:
  Daemon(const std::string& binary, const std::string& dir, const std::string& dns_server) {
    socket_ = dir + "/milter.sock";
    log_ = dir + "/milter.log";
    std::string conf = dir + "/mailward.conf";
    std::ofstream(conf) << "[log]\ndestination = " << log_ << "\nlevel = info\n"
                        << "[dns]\nservers = " << dns_server << "\ntimeout = 500ms\nattempts = 1\n"
                        << "[milter]\nsocket = " << socket_ << "\nauthserv_id = mx.hostile.example\n"
                        << "trusted_networks = 127.0.0.1/32\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      std::freopen((dir + "/milter.stderr").c_str(), "w", stderr);
      ::execl(binary.c_str(), binary.c_str(), "--config", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !std::filesystem::exists(socket_); ++i)
      std::this_thread::sleep_for(milliseconds(100));
  }
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 50 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(milliseconds(100));
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  bool alive() {
    int status = 0;
    return pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == 0;
  }
  pid_t pid() const { return pid_; }
  const std::string& socket() const { return socket_; }
  std::string log_tail() {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    std::string all = s.str();
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }

 private:
  pid_t pid_ = -1;
  std::string socket_, log_;
};

Envelope envelope(const std::string& domain) {
  Envelope e;
  e.client_name = "mail." + domain;
  e.client_address = "192.0.2.10";
  e.helo = "mail." + domain;
  e.mail_from = "alice@" + domain;
  e.recipients = {"bob@mx.hostile.example"};
  return e;
}

std::vector<mail::HeaderField> headers(const std::string& domain) {
  return {{"From", " Alice <alice@" + domain + ">"}, {"To", " bob@mx.hostile.example"},
          {"Subject", " test"}, {"Message-ID", " <1@" + domain + ">"}};
}

std::string added_text(const Result& r) {
  std::string s;
  for (const HeaderEdit& e : r.edits) s += e.name + ":" + e.value + "\n";
  return s;
}

// A correct final answer to a whole message: any of the milter's actions, never a broken stream.
bool is_protocol_answer(const Result& r) {
  return r.outcome == Outcome::accept || r.outcome == Outcome::reject ||
         r.outcome == Outcome::tempfail || r.outcome == Outcome::discard;
}

class Hostile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* bin = std::getenv("MAILWARD_MILTER");
    if (!bin || !*bin || !std::filesystem::exists(bin)) return;
    binary_ = bin;
    char tmpl[] = "/tmp/mw-hostile-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    dns_ = new dt::FakeDnsServer(answer);
    std::filesystem::create_directories(dir_ + "/live");
    daemon_ = new Daemon(binary_, dir_ + "/live", dns_->address().to_string());
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dns_;
    daemon_ = nullptr;
    dns_ = nullptr;
    if (!dir_.empty() && !std::getenv("MAILWARD_KEEP")) std::filesystem::remove_all(dir_);
  }
  void SetUp() override {
    if (binary_.empty()) GTEST_SKIP() << "MAILWARD_MILTER not set or missing: mailward-milter not built";
    ASSERT_TRUE(daemon_->alive()) << daemon_->log_tail();
  }

  // Opens a fresh session; fails the test if the daemon does not negotiate.
  static bool open(Session& s) {
    std::string error;
    if (!s.connect(daemon_->socket(), error) || !s.negotiate(error)) {
      ADD_FAILURE() << "cannot open a milter session: " << error;
      return false;
    }
    return true;
  }

  // A normal message gets its normal answer: accept, with spf=pass in our Authentication-Results.
  void expect_normal(const std::string& after) {
    ASSERT_TRUE(daemon_->alive()) << "daemon died after " << after << "\n" << daemon_->log_tail();
    Session s;
    if (!open(s)) return;
    Result r = s.send_message(envelope("good.example"), headers("good.example"), "Hello.\r\n");
    EXPECT_EQ(r.outcome, Outcome::accept) << "after " << after << ": " << to_string(r.outcome) << " "
                                          << r.reply << " " << r.detail;
    EXPECT_NE(added_text(r).find("spf=pass"), std::string::npos) << "after " << after << ":\n"
                                                                 << added_text(r);
    s.quit();
  }

  // One message; it must get a protocol answer (or, with `may_close`, a closed connection).
  Result one(const std::string& what, const Envelope& env, const std::vector<mail::HeaderField>& h,
             std::string_view body, bool may_close = false) {
    Session::Options o;
    o.timeout = milliseconds(20000);
    Session s(o);
    Result r;
    if (!open(s)) return r;
    auto start = std::chrono::steady_clock::now();
    r = s.send_message(env, h, body);
    auto took = std::chrono::steady_clock::now() - start;
    std::printf("  %-34s %-15s at %-6s %4lld ms %s\n", what.c_str(), std::string(to_string(r.outcome)).c_str(),
                std::string(to_string(r.stage)).c_str(),
                static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()),
                r.reply.c_str());
    const bool closed = may_close && r.outcome == Outcome::io_error &&
                        (r.detail.find("closed") != std::string::npos ||
                         r.detail.find("write") != std::string::npos);
    if (!closed) {
      EXPECT_TRUE(is_protocol_answer(r)) << what << ": " << to_string(r.outcome) << " at "
                                         << to_string(r.stage) << ": " << r.detail;
    }
    EXPECT_LT(took, std::chrono::seconds(15)) << what;
    s.quit();
    expect_normal(what);
    return r;
  }

  void message_cases() {
    const Envelope good = envelope("good.example");
    // 1 MB header line: libmilter refuses packets of 64 KB or more (MILTER_MAX_DATA_SIZE) by
    // closing the connection; that is the protocol's answer, and the daemon must survive it.
    one("1 MB header line", good, {{"From", " alice@good.example"}, {"X-Big", " " + std::string(1 << 20, 'a')}},
        "x\r\n", /*may_close=*/true);
    // 1.2 MB of header in 60 KB lines, each within the packet limit.
    std::vector<mail::HeaderField> big = headers("good.example");
    for (int i = 0; i < 20; ++i) big.push_back({"X-Fill", " " + std::string(60000, 'b')});
    one("20 header lines of 60 KB", good, big, "x\r\n");
    std::vector<mail::HeaderField> many = headers("good.example");
    for (int i = 0; i < 5000; ++i) many.push_back({"X-Many-" + std::to_string(i), " v"});
    one("5000 header fields", good, many, "x\r\n");
    one("empty body", good, headers("good.example"), "");
    std::vector<mail::HeaderField> nul = headers("good.example");
    nul.push_back({"X-Nul", " a\0b\0c"s});
    nul.push_back({"Subject", " \0"s});
    one("NUL bytes in header and body", good, nul, "a\0b\r\n\0\0\0\r\n"s);
    std::vector<mail::HeaderField> sig = headers("good.example");
    sig.insert(sig.begin(), {"DKIM-Signature", " v=1; a=rsa-sha256; d=good.example; s=s1; c=x/y; h=;"
                                               " bh=!!!; b=\x01\x02; l=-5; x=99999999999999999999;"
                                               " t=; q=dns/txt; i=@@; z=|||; ===; ;;;"});
    sig.insert(sig.begin(), {"DKIM-Signature", " " + std::string(50000, '=')});
    sig.insert(sig.begin(), {"DKIM-Signature", ""});
    one("DKIM-Signature with garbage tags", good, sig, "x\r\n");
    // The DNS side: each sender domain makes the SPF/DMARC evaluators chew on hostile records.
    for (const char* d : {"huge.example", "loop.example", "bomb.example", "cname.example",
                          "flood.example", "manytxt.example", "a.cname.example"}) {
      one(std::string("DNS: ") + d, envelope(d), headers(d), "x\r\n");
    }
  }

  void socket_cases() {
    std::mt19937 rng(12345);
    auto random_bytes = [&](std::size_t n) {
      std::string s(n, '\0');
      for (char& c : s) c = static_cast<char>(rng() & 0xFF);
      return s;
    };
    struct Case {
      std::string what;
      bool negotiate;      // send a proper OPTNEG first
      std::string bytes;   // then these
    };
    std::vector<Case> cases = {
        {"garbage before OPTNEG", false, random_bytes(300)},
        {"oversized length field", true, "\xff\xff\xff\xff" "C"s},
        {"zero length field", true, "\0\0\0\0\0\0\0\0"s},
        {"truncated packet", true, "\0\0\0\x40" "Chost\0"s},
        {"unknown command", true, encode_frame('z', "abc")},
        {"body before MAIL", true, encode_body("hello")},
        {"EOB without anything", true, encode_body_eob()},
        {"header with no NUL", true, encode_frame('L', "Subject")},
        {"connect with bad family", true, encode_frame('C', "h\0Z\x01\x02x\0"s)},
        {"macro for bad command", true, encode_frame('D', "\x01name\0value\0"s)},
        {"second OPTNEG", true, encode_optneg({})},
    };
    for (int i = 0; i < 20; ++i) {
      std::string frames;
      for (int k = 0; k < 5; ++k) {
        std::size_t n = rng() % 200;
        frames += encode_frame(static_cast<char>("ABCDEHKLMNOQRTU"[rng() % 15]), random_bytes(n));
      }
      cases.push_back({"random packets #" + std::to_string(i), true, frames});
    }
    for (const Case& c : cases) {
      Session::Options o;
      o.timeout = milliseconds(1000);
      Session s(o);
      std::string error;
      ASSERT_TRUE(s.connect(daemon_->socket(), error)) << error;
      if (c.negotiate) {
        ASSERT_TRUE(s.negotiate(error)) << c.what << ": " << error;
      }
      s.write_raw(c.bytes, error);
      // Whatever comes back must be well-formed replies, then (typically) the connection closes.
      for (int k = 0; k < 20; ++k) {
        ReadResult r = s.read_reply();
        if (r.status == ReadStatus::ok) continue;
        EXPECT_NE(r.status, ReadStatus::bad_packet) << c.what << ": " << r.detail;
        // A timeout means libmilter waits for more bytes of a packet: fine, we close.
        break;
      }
      s.close();
      expect_normal(c.what);
    }
  }

  static inline std::string binary_, dir_;
  static inline dt::FakeDnsServer* dns_ = nullptr;
  static inline Daemon* daemon_ = nullptr;
};

TEST_F(Hostile, DaemonSurvivesEveryCaseAndMemoryStaysBounded) {
  expect_normal("start");
  long rss_start = rss_kb(daemon_->pid());
  long rss_round1 = 0;
  for (int round = 1; round <= 3; ++round) {
    message_cases();
    socket_cases();
    long rss = rss_kb(daemon_->pid());
    std::printf("round %d: RSS %ld kB (at start %ld kB)\n", round, rss, rss_start);
    if (round == 1) rss_round1 = rss;
    ASSERT_TRUE(daemon_->alive()) << daemon_->log_tail();
    EXPECT_LT(rss, 256 * 1024) << "RSS in round " << round;
  }
  long rss_end = rss_kb(daemon_->pid());
  EXPECT_LT(rss_end - rss_round1, 16 * 1024) << "RSS grew from " << rss_round1 << " kB to " << rss_end << " kB";
}

TEST_F(Hostile, DeadDnsGivesTempfailNeverReject) {
  // A UDP socket that never answers: every query times out.
  int silent = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  socklen_t len = sizeof sin;
  ::getsockname(silent, reinterpret_cast<sockaddr*>(&sin), &len);
  const std::string server = "127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
  std::filesystem::create_directories(dir_ + "/dead");
  {
    Daemon dead(binary_, dir_ + "/dead", server);
    ASSERT_TRUE(dead.alive()) << dead.log_tail();
    for (const char* d : {"good.example", "huge.example", "loop.example", "unknown.example"}) {
      Session::Options o;
      o.timeout = milliseconds(20000);
      Session s(o);
      std::string error;
      ASSERT_TRUE(s.connect(dead.socket(), error) && s.negotiate(error)) << error;
      Result r = s.send_message(envelope(d), headers(d), "x\r\n");
      EXPECT_EQ(r.outcome, Outcome::tempfail) << d << ": " << to_string(r.outcome) << " " << r.reply
                                              << " " << r.detail;
      EXPECT_TRUE(r.reply.empty() || r.reply[0] == '4') << d << ": " << r.reply;
      s.quit();
    }
    EXPECT_TRUE(dead.alive());
  }
  ::close(silent);
}

}  // namespace
}  // namespace mailward
