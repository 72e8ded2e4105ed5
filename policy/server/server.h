// mailward-policyd's event loop: one thread, epoll, non-blocking sockets. It serves
//   - the Postfix policy protocol (check_policy_service) on a unix socket and optionally TCP,
//     persistent connections, requests answered in order (pipelined requests in one read are
//     answered with one write);
//   - the socketmap routing table (socketmap_table(5)) on its own unix socket;
//   - extra listeners handed in by other parts (the Dovecot auth-policy HTTP endpoint) through
//     the Handler interface below.
// A malformed or oversized policy request is logged and answered
// `DEFER_IF_PERMIT 4.3.5 malformed policy request`, then the connection is closed (the answer is a
// temporary failure, never a permit). Idle connections are closed after idle_timeout.
// SIGTERM/SIGINT stop the loop; SIGHUP calls the reload hook (sender map). Signals are read with a
// signalfd: the caller blocks them first (block_signals()).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/checks/engine.h"
#include "policy/protocol/request.h"

namespace mailward::policy {

// A byte-stream protocol served on a listener: one Session per connection.
class Session {
 public:
  virtual ~Session() = default;
  // Consumes received bytes, appends what to send to `out`. Returns false to close the connection
  // once `out` has been written.
  virtual bool on_data(std::string_view bytes, std::string& out) = 0;
};
using SessionFactory = std::function<std::unique_ptr<Session>()>;

class DecisionBatch;

struct ServerSettings {
  Limits limits;
  std::chrono::milliseconds idle_timeout{300000};
  std::size_t max_connections = 4096;
};

class PolicyServer {
 public:
  PolicyServer(PolicyEngine& engine, ServerSettings settings);
  ~PolicyServer();
  PolicyServer(const PolicyServer&) = delete;
  PolicyServer& operator=(const PolicyServer&) = delete;

  // Unix socket at `path` (an old socket there is replaced), mode and group applied before any
  // client can connect. False with `error` set on failure.
  bool listen_policy_unix(const std::string& path, unsigned mode, const std::string& group,
                          std::string& error);
  bool listen_socketmap_unix(const std::string& path, unsigned mode, const std::string& group,
                             std::string& error);
  // "127.0.0.1:10040" or "[::1]:10040".
  bool listen_policy_tcp(const std::string& address, std::string& error);
  // Another protocol (e.g. HTTP for Dovecot's auth policy) on a TCP address or a unix socket.
  bool listen_tcp(const std::string& address, SessionFactory factory, std::string& error);
  bool listen_unix(const std::string& path, unsigned mode, const std::string& group,
                   SessionFactory factory, std::string& error);

  // The port the last TCP listener bound (useful with port 0 in tests); 0 when none.
  int last_tcp_port() const noexcept { return last_tcp_port_; }

  void set_reload_hook(std::function<void()> hook) { reload_ = std::move(hook); }
  // Serves until SIGTERM/SIGINT (signals must be blocked by the caller) or stop().
  // Returns 0, or 1 when the loop could not run.
  int run();
  void stop() noexcept;  // from any thread (an eventfd wakes the loop)

  static void block_signals();

 private:
  struct Connection;
  struct Listener {
    int fd;
    SessionFactory factory;
  };
  bool add_listener(int fd, SessionFactory factory, std::string& error);
  void accept_all(const Listener& listener);
  void on_readable(Connection& c);
  void flush(Connection& c);
  void close_connection(int fd);
  void expire_idle();

  PolicyEngine& engine_;
  ServerSettings settings_;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> running_{true};  // false once stop() or a signal asked
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::vector<std::string> unlink_on_exit_;
  std::function<void()> reload_;
  int last_tcp_port_ = 0;
  std::unique_ptr<DecisionBatch> batch_;  // this loop turn's policy requests
  std::vector<int> flush_after_batch_;    // connections whose answers wait for batch_
};

// The policy requests of every connection that became readable in one turn of the event loop,
// decided together (PolicyEngine::evaluate_batch: one store transaction / round trip for all)
// before any of their answers is written. Answers go to each connection's output in the order
// they were queued, so pipelined requests and a final "malformed" answer keep their order.
// Nothing is lost by waiting: the loop turn is not over until run() has answered everything.
class DecisionBatch {
 public:
  explicit DecisionBatch(PolicyEngine& engine) : engine_(engine) {}
  void add(Request request, std::string* out);
  void add_answer(std::string answer, std::string* out);  // an answer known already
  bool empty() const noexcept { return entries_.empty(); }
  std::size_t size() const noexcept { return entries_.size(); }
  // Decides, logs every decision, appends the answers; then the batch is empty.
  void run(store::Clock::time_point now);

 private:
  struct Entry {
    std::string* out;
    std::size_t request;  // index into requests_, or npos for `answer`
    std::string answer;
  };
  PolicyEngine& engine_;
  std::vector<Entry> entries_;
  std::vector<Request> requests_;
};

// The policy protocol session (public for tests): parser + engine + response formatting. With a
// batch, requests are queued there and answered when the server runs it; without one (tests),
// each is decided at once.
class PolicySession : public Session {
 public:
  PolicySession(PolicyEngine& engine, Limits limits, DecisionBatch* batch = nullptr)
      : engine_(engine), parser_(limits), batch_(batch) {}
  bool on_data(std::string_view bytes, std::string& out) override;

 private:
  PolicyEngine& engine_;
  RequestParser parser_;
  DecisionBatch* batch_;
  std::vector<Request> requests_;
};

class SocketmapSession : public Session {
 public:
  explicit SocketmapSession(PolicyEngine& engine) : engine_(engine) {}
  bool on_data(std::string_view bytes, std::string& out) override;

 private:
  PolicyEngine& engine_;
  SocketmapParser parser_;
  std::vector<SocketmapQuery> queries_;
};

}  // namespace mailward::policy
