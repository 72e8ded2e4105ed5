// Test-only: a private redis-server on a unix socket in a temporary directory, started and stopped
// (or killed and restarted) by the test. A missing redis-server is a test failure, not a skip.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/store/test_backends.h"

namespace mailward::store {

class RedisTestServer {
 public:
  explicit RedisTestServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {}
  ~RedisTestServer() { stop(); }

  // Starts redis-server; returns "" or why it failed.
  std::string start() {
    if (dir_.path.empty()) return "cannot create a temporary directory";
    socket_ = dir_.path + "/redis.sock";
    std::vector<std::string> args{"redis-server", "--port", "0", "--unixsocket", socket_,
                                  "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                                  "--daemonize", "no", "--dir", dir_.path,
                                  "--logfile", dir_.path + "/redis.log"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = ::fork();
    if (pid_ < 0) return "fork failed";
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) && WEXITSTATUS(status) == 127
                   ? "redis-server not found in PATH (apt-get install redis-server)"
                   : "redis-server exited at start-up; see " + dir_.path + "/redis.log";
      }
      if (can_connect()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "redis-server did not open " + socket_ + " within 5 s";
  }

  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      ::unlink(socket_.c_str());
    }
  }
  void stop() { kill_now(); }
  const std::string& socket_path() const { return socket_; }
  const std::string& dir() const { return dir_.path; }

 private:
  bool can_connect() const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, socket_.c_str(), sizeof sa.sun_path - 1);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return ok;
  }

  std::vector<std::string> extra_;
  TempDir dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

struct RedisBackend {
  std::string skip_reason;  // here a failure reason: a missing Redis fails the test
  std::unique_ptr<RedisTestServer> server;
  void setup() {
    server = std::make_unique<RedisTestServer>();
    skip_reason = server->start();
  }
  void teardown() { server.reset(); }
  std::unique_ptr<Store> open() {
    RedisSettings s;
    s.host = server->socket_path();
    s.timeout = std::chrono::milliseconds(500);
    return open_redis_store(s);
  }
  // Redis expires keys by its own clock: real time has to pass.
  void advance(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }
  static std::string describe_prefix() { return "redis:"; }
};

}  // namespace mailward::store
