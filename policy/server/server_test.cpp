// Tests for mailward-policyd's event loop over real unix sockets: persistent and pipelined
// requests, many concurrent connections, malformed and oversized requests (temporary failure, then
// close), the socketmap table, and an orderly stop.
#include "policy/server/server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include "common/log/log.h"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

namespace mailward::policy {
namespace {

int connect_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    ASSERT_GT(n, 0);
    off += static_cast<std::size_t>(n);
  }
}

// Reads until `terminators` occurrences of "\n\n" (policy) or EOF.
std::string read_answers(int fd, int terminators) {
  std::string got;
  char buf[4096];
  for (;;) {
    std::size_t count = 0;
    for (std::size_t p = got.find("\n\n"); p != std::string::npos; p = got.find("\n\n", p + 2))
      ++count;
    if (static_cast<int>(count) >= terminators) break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

bool at_eof(int fd) {
  char c;
  return read(fd, &c, 1) == 0;
}

std::string request(const std::string& client, const std::string& rcpt) {
  return "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=" + client +
         "\nsender=x@else.example\nrecipient=" + rcpt + "\ninstance=1\n\n";
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::Settings quiet;
    quiet.min_level = log::Level::fatal;  // the refusals below are expected
    log::init(quiet);
    dir_ = std::filesystem::temp_directory_path() /
           ("mw-policy-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    policy_path_ = (dir_ / "p.sock").string();
    map_path_ = (dir_ / "m.sock").string();
    PolicySettings s = load_policy_settings(config::Config::parse(
        "[policy]\nchecks = relay, route\nlocal_domains = ex.org\nsocketmap_socket = x\n"
        "route_fallback = [relay.example]:587\n",
        "t.conf"));
    engine_ = std::make_unique<PolicyEngine>(s, nullptr, SenderMap{});
    ServerSettings ss;
    ss.limits.max_line = 512;
    server_ = std::make_unique<PolicyServer>(*engine_, ss);
    std::string error;
    ASSERT_TRUE(server_->listen_policy_unix(policy_path_, 0660, "", error)) << error;
    ASSERT_TRUE(server_->listen_socketmap_unix(map_path_, 0660, "", error)) << error;
    ASSERT_TRUE(server_->listen_policy_tcp("127.0.0.1:0", error)) << error;
    tcp_port_ = server_->last_tcp_port();
    ASSERT_GT(tcp_port_, 0);
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
    server_.reset();
    EXPECT_FALSE(std::filesystem::exists(policy_path_));  // removed on exit
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::string policy_path_, map_path_;
  std::unique_ptr<PolicyEngine> engine_;
  std::unique_ptr<PolicyServer> server_;
  std::thread thread_;
  int tcp_port_ = 0;
};

TEST_F(ServerTest, Tcp) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(tcp_port_));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  send_all(fd, request("203.0.113.9", "v@victim.example") + request("203.0.113.9", "bob@ex.org"));
  EXPECT_EQ(read_answers(fd, 2),
            "action=554 5.7.1 <v@victim.example>: Relay access denied\n\naction=DUNNO\n\n");
  close(fd);
}

TEST_F(ServerTest, SocketMode) {
  auto perms = std::filesystem::status(policy_path_).permissions();
  EXPECT_EQ(static_cast<unsigned>(perms) & 0777u, 0660u);
}

TEST_F(ServerTest, PersistentAndPipelined) {
  int fd = connect_unix(policy_path_);
  ASSERT_GE(fd, 0);
  send_all(fd, request("203.0.113.9", "bob@ex.org"));
  EXPECT_EQ(read_answers(fd, 1), "action=DUNNO\n\n");
  send_all(fd, request("203.0.113.9", "v@victim.example") + request("203.0.113.9", "bob@ex.org") +
                   request("127.0.0.1", "v@victim.example"));
  EXPECT_EQ(read_answers(fd, 3),
            "action=554 5.7.1 <v@victim.example>: Relay access denied\n\n"
            "action=DUNNO\n\naction=DUNNO\n\n");
  close(fd);
}

TEST_F(ServerTest, ManyConcurrentConnections) {
  std::vector<int> fds;
  for (int i = 0; i < 200; ++i) {
    fds.push_back(connect_unix(policy_path_));
    ASSERT_GE(fds.back(), 0);
  }
  for (int round = 0; round < 3; ++round) {
    for (int fd : fds) send_all(fd, request("203.0.113.9", "v@victim.example"));
    for (int fd : fds)
      EXPECT_EQ(read_answers(fd, 1), "action=554 5.7.1 <v@victim.example>: Relay access denied\n\n");
  }
  for (int fd : fds) close(fd);
}

TEST_F(ServerTest, MalformedAndOversizedGetTemporaryFailureThenClose) {
  const std::vector<std::string> bad = {
      "request=smtpd_access_policy\nthis line has no equals\n\n",
      "request=smtpd_access_policy\nsender=" + std::string(600, 'a') + "\n\n",
      "request=smtpd_access_policy\nsender=a\nsender=b\n\n",
  };
  for (const std::string& b : bad) {
    int fd = connect_unix(policy_path_);
    ASSERT_GE(fd, 0);
    send_all(fd, request("203.0.113.9", "bob@ex.org") + b);
    EXPECT_EQ(read_answers(fd, 2),
              "action=DUNNO\n\naction=DEFER_IF_PERMIT 4.3.5 malformed policy request\n\n");
    EXPECT_TRUE(at_eof(fd));
    close(fd);
  }
}

TEST_F(ServerTest, UnsupportedRequestIsDeferred) {
  int fd = connect_unix(policy_path_);
  send_all(fd, "request=junk\n\n");
  EXPECT_EQ(read_answers(fd, 1), "action=DEFER_IF_PERMIT 4.3.5 unsupported policy request\n\n");
  close(fd);
}

TEST_F(ServerTest, Socketmap) {
  int fd = connect_unix(map_path_);
  ASSERT_GE(fd, 0);
  send_all(fd, "22:relayhost @example.org,21:transport example.com,");
  std::string got;
  char buf[512];
  const std::string expected = "22:OK [relay.example]:587,9:NOTFOUND ,";
  while (got.size() < expected.size()) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(got, expected);
  send_all(fd, "x:bad,");
  got.clear();
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(got, "22:PERM malformed request,");
  close(fd);
}

}  // namespace
}  // namespace mailward::policy

namespace mailward::policy {
namespace {

// Another protocol hosted by the loop (as the Dovecot auth-policy endpoint is): an upper-casing
// line echo that closes on "QUIT".
class UpperSession : public Session {
 public:
  bool on_data(std::string_view bytes, std::string& out) override {
    for (char c : bytes) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out.find("QUIT") == std::string::npos;
  }
};

TEST(ServerHosting, ForeignSessionOnUnixSocket) {
  log::Settings quiet;
  quiet.min_level = log::Level::fatal;
  log::init(quiet);
  PolicyEngine engine(load_policy_settings(config::Config::parse(
                          "[policy]\nchecks = relay\nlocal_domains = ex.org\n", "t.conf")),
                      nullptr, SenderMap{});
  PolicyServer server(engine, ServerSettings{});
  std::string path = (std::filesystem::temp_directory_path() /
                      ("mw-host-" + std::to_string(getpid()) + ".sock"))
                         .string();
  std::string error;
  ASSERT_TRUE(server.listen_unix(path, 0600, "", [] { return std::make_unique<UpperSession>(); },
                                 error))
      << error;
  std::thread t([&] { server.run(); });
  int fd = connect_unix(path);
  ASSERT_GE(fd, 0);
  send_all(fd, "hello\n");
  char buf[64];
  ssize_t n = read(fd, buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n > 0 ? n : 0)), "HELLO\n");
  send_all(fd, "quit\n");
  std::string rest;
  while ((n = read(fd, buf, sizeof(buf))) > 0) rest.append(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(rest, "QUIT\n");  // answered, then closed
  close(fd);
  server.stop();
  t.join();
}

// Many connections sending pipelined requests at once against one limit in the embedded store:
// the loop decides each turn's requests as one batch (one LMDB transaction), and exactly the
// limit's worth of messages passes — no more, no fewer.
TEST(ServerBatching, ConcurrentConnectionsShareOneLimitExactly) {
  log::Settings quiet;
  quiet.min_level = log::Level::fatal;
  log::init(quiet);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mw-policy-batch-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto st = store::open_lmdb_store(store::LmdbSettings{(dir / "state.mdb").string(), 16u << 20});
  PolicyEngine engine(load_policy_settings(config::Config::parse(
                          "[policy]\nchecks = rate\nlimit = client messages 50/1d\n", "t.conf")),
                      st.get(), SenderMap{});
  PolicyServer server(engine, ServerSettings{});
  const std::string path = (dir / "p.sock").string();
  std::string error;
  ASSERT_TRUE(server.listen_policy_unix(path, 0600, "", error)) << error;
  std::thread loop([&] { server.run(); });
  constexpr int kConnections = 16, kRounds = 4, kPipelined = 5;  // 320 messages for 50 tokens
  std::atomic<int> passed{0}, deferred{0}, other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&, c] {
      int fd = connect_unix(path);
      ASSERT_GE(fd, 0);
      for (int round = 0; round < kRounds; ++round) {
        std::string batch;
        for (int k = 0; k < kPipelined; ++k) {
          std::string r = request("198.51.100.7", "a@x.example");
          const std::string instance = "instance=" + std::to_string(c) + "." +
                                       std::to_string(round) + "." + std::to_string(k);
          r.replace(r.find("instance=1"), 10, instance);
          batch += r;
        }
        send_all(fd, batch);
        std::string got = read_answers(fd, kPipelined);
        for (std::size_t p = 0; (p = got.find("action=", p)) != std::string::npos; p += 7) {
          if (got.compare(p, 12, "action=DUNNO") == 0) ++passed;
          else if (got.compare(p, 14, "action=450 4.7") == 0) ++deferred;
          else ++other;
        }
      }
      close(fd);
    });
  }
  for (auto& t : clients) t.join();
  server.stop();
  loop.join();
  EXPECT_EQ(passed.load(), 50);
  EXPECT_EQ(deferred.load(), kConnections * kRounds * kPipelined - 50);
  EXPECT_EQ(other.load(), 0);
  std::filesystem::remove_all(dir);
}

// The batch writes nothing before run() (an answer never precedes its decision, so the store
// has committed everything a client was told), then each connection's answers in queue order.
TEST(ServerBatching, AnswersOnlyAfterRunInQueueOrder) {
  log::Settings quiet;
  quiet.min_level = log::Level::fatal;
  log::init(quiet);
  PolicyEngine engine(load_policy_settings(config::Config::parse(
                          "[policy]\nchecks = relay\nlocal_domains = ex.org\n", "t.conf")),
                      nullptr, SenderMap{});
  DecisionBatch batch(engine);
  auto req = [](const std::string& rcpt) {
    Request r;
    r.request = "smtpd_access_policy";
    r.protocol_state = "RCPT";
    r.client_address = "203.0.113.9";
    r.recipient = rcpt;
    return r;
  };
  std::string a, b;
  batch.add(req("v@victim.example"), &a);
  batch.add(req("bob@ex.org"), &b);
  batch.add_answer("action=X\n\n", &a);
  batch.add(req("bob@ex.org"), &a);
  EXPECT_EQ(batch.size(), 4u);
  EXPECT_EQ(a, "");
  EXPECT_EQ(b, "");
  batch.run(store::Clock::now());
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(a,
            "action=554 5.7.1 <v@victim.example>: Relay access denied\n\naction=X\n\n"
            "action=DUNNO\n\n");
  EXPECT_EQ(b, "action=DUNNO\n\n");
}

}  // namespace
}  // namespace mailward::policy
