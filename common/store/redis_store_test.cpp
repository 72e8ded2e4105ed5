// Redis-specific behaviour: two Store instances (two hosts) share counters and one atomic bucket;
// Redis killed -> Status::unavailable quickly; Redis back -> ok again without re-opening the store;
// password file and database number; key prefix.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fstream>
#include <thread>

#include "common/store/redis_test_server.h"
#include "common/store/store.h"

namespace mailward::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RedisSettings settings_for(const RedisTestServer& server) {
  RedisSettings s;
  s.host = server.socket_path();
  s.timeout = milliseconds(300);
  return s;
}

TEST(RedisStore, TwoStoresShareCounters) {
  RedisTestServer server;
  ASSERT_EQ(server.start(), "");
  auto a = open_redis_store(settings_for(server));
  auto b = open_redis_store(settings_for(server));
  std::vector<CounterUpdate> u{{"n", 1, seconds(60)}};
  constexpr int kPer = 300;
  std::thread ta([&] { for (int i = 0; i < kPer; ++i) ASSERT_TRUE(a->add(u).ok()); });
  std::thread tb([&] { for (int i = 0; i < kPer; ++i) ASSERT_TRUE(b->add(u).ok()); });
  ta.join();
  tb.join();
  std::vector<std::string> k{"n"};
  EXPECT_EQ(a->get(k).value, (std::vector<std::int64_t>{2 * kPer}));
  EXPECT_EQ(b->get(k).value, (std::vector<std::int64_t>{2 * kPer}));
}

TEST(RedisStore, TwoStoresShareOneAtomicBucket) {
  RedisTestServer server;
  ASSERT_EQ(server.start(), "");
  auto a = open_redis_store(settings_for(server));
  auto b = open_redis_store(settings_for(server));
  const auto t0 = Clock::time_point(seconds(1'800'000'000));
  const BucketSpec spec{50, 0.001};  // refills one token per 1000 s: none during the test
  std::atomic<int> allowed{0};
  auto run = [&](Store& s) {
    for (int i = 0; i < 100; ++i) {
      auto r = s.take("bucket", spec, 1, t0);
      ASSERT_TRUE(r.ok()) << r.detail;
      if (r.value.allowed) ++allowed;
    }
  };
  std::thread ta([&] { run(*a); });
  std::thread tb([&] { run(*b); });
  ta.join();
  tb.join();
  EXPECT_EQ(allowed.load(), 50);
}

TEST(RedisStore, KilledRedisIsUnavailableQuicklyAndRecoversWithoutReopen) {
  RedisTestServer server;
  ASSERT_EQ(server.start(), "");
  auto s = open_redis_store(settings_for(server));
  std::vector<CounterUpdate> u{{"c", 1, seconds(0)}};
  ASSERT_TRUE(s->add(u).ok());

  server.kill_now();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    auto r = s->add(u);
    EXPECT_EQ(r.status, Status::unavailable) << i;
    EXPECT_FALSE(r.detail.empty());
    std::vector<std::string> k{"c"};
    EXPECT_EQ(s->get(k).status, Status::unavailable);
    EXPECT_EQ(s->take("b", BucketSpec{1, 1}, 1, Clock::now()).status, Status::unavailable);
  }
  // 150 calls against a dead Redis: far below one timeout (300 ms) each.
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));

  ASSERT_EQ(server.start(), "");  // a fresh, empty Redis on the same socket
  Status last = Status::unavailable;
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  while (last != Status::ok && std::chrono::steady_clock::now() < deadline) {
    last = s->add(u).status;
    if (last != Status::ok) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_EQ(last, Status::ok);
  std::vector<std::string> k{"c"};
  EXPECT_EQ(s->get(k).value, (std::vector<std::int64_t>{1}));  // the restarted Redis was empty
  // The bucket script is loaded again (NOSCRIPT -> EVAL) on the new server.
  auto r = s->take("b", BucketSpec{2, 1}, 1, Clock::now());
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_TRUE(r.value.allowed);
}

TEST(RedisStore, NeverStartedRedisIsUnavailable) {
  TempDir dir;
  RedisSettings s;
  s.host = dir.path + "/none.sock";
  auto store = open_redis_store(s);  // opening does not need Redis to be up
  std::vector<std::string> k{"x"};
  auto r = store->get(k);
  EXPECT_EQ(r.status, Status::unavailable);
  EXPECT_NE(r.detail.find("none.sock"), std::string::npos) << r.detail;
  EXPECT_EQ(store->describe(), "redis:" + s.host);
}

TEST(RedisStore, PasswordFileAndDatabase) {
  RedisTestServer server({"--requirepass", "s3cret"});
  ASSERT_EQ(server.start(), "");
  const std::string pw = server.dir() + "/pw";
  std::ofstream(pw) << "s3cret\n";
  RedisSettings s = settings_for(server);
  s.password_file = pw;
  s.database = 3;
  auto store = open_redis_store(s);
  std::vector<CounterUpdate> u{{"d", 5, seconds(0)}};
  auto r = store->add(u);
  ASSERT_TRUE(r.ok()) << r.detail;
  // Another store on database 0 does not see it.
  RedisSettings s0 = s;
  s0.database = 0;
  auto other = open_redis_store(s0);
  std::vector<std::string> k{"d"};
  EXPECT_EQ(other->get(k).value, (std::vector<std::int64_t>{0}));
  EXPECT_EQ(store->get(k).value, (std::vector<std::int64_t>{5}));
  // A wrong password: the store cannot be used.
  std::ofstream(pw) << "wrong\n";
  auto bad = open_redis_store(s);
  auto br = bad->get(k);
  EXPECT_EQ(br.status, Status::unavailable);
  EXPECT_NE(br.detail.find("set-up"), std::string::npos) << br.detail;
}

TEST(RedisStore, MissingPasswordFileThrows) {
  RedisSettings s;
  s.password_file = "/nonexistent/pw";
  EXPECT_THROW(open_redis_store(s), StoreError);
  RedisSettings p;
  p.port = 70000;
  EXPECT_THROW(open_redis_store(p), StoreError);
}

TEST(RedisStore, KeyPrefixSeparatesStores) {
  RedisTestServer server;
  ASSERT_EQ(server.start(), "");
  RedisSettings s1 = settings_for(server), s2 = settings_for(server);
  s1.key_prefix = "one:";
  s2.key_prefix = "two:";
  auto a = open_redis_store(s1);
  auto b = open_redis_store(s2);
  std::vector<CounterUpdate> u{{"k", 1, seconds(0)}};
  ASSERT_TRUE(a->add(u).ok());
  std::vector<std::string> k{"k"};
  EXPECT_EQ(b->get(k).value, (std::vector<std::int64_t>{0}));
  EXPECT_EQ(a->get(k).value, (std::vector<std::int64_t>{1}));
}

}  // namespace
}  // namespace mailward::store

namespace mailward::store {
namespace {

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

TEST(RedisStore, OverTcp) {
  const int port = free_tcp_port();
  RedisTestServer server({"--port", std::to_string(port), "--bind", "127.0.0.1"});
  ASSERT_EQ(server.start(), "");
  RedisSettings s;
  s.host = "127.0.0.1";
  s.port = port;
  auto store = open_redis_store(s);
  EXPECT_EQ(store->describe(), "redis:127.0.0.1:" + std::to_string(port));
  std::vector<CounterUpdate> u{{"tcp", 3, std::chrono::seconds(10)}};
  auto r = store->add(u);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.value, (std::vector<std::int64_t>{3}));
}

// A server that accepts connections (the kernel's backlog does) but never answers: the first call
// costs one timeout, the calls during the back-off cost nothing.
TEST(RedisStore, SilentServerCostsOneTimeoutNotOnePerCall) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 64), 0);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  RedisSettings s;
  s.host = "127.0.0.1";
  s.port = ntohs(sa.sin_port);
  s.timeout = milliseconds(200);
  auto store = open_redis_store(s);
  std::vector<std::string> k{"x"};
  auto t0 = std::chrono::steady_clock::now();
  auto r = store->get(k);
  auto first = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, Status::unavailable) << r.detail;
  EXPECT_GE(first, milliseconds(150));
  EXPECT_LT(first, milliseconds(1000));
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(store->get(k).status, Status::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(100));
  ::close(fd);
}

}  // namespace
}  // namespace mailward::store
