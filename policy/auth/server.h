// A minimal standalone listener for the auth-policy endpoint: one thread, poll(2), non-blocking
// sockets, on TCP ("127.0.0.1:8099", "[::1]:8099", port 0 = any free port) or a unix socket path.
// mailward-policyd hosts the endpoint in its own event loop (AuthPolicyConnection fits its
// Session); this listener serves the tests and `mailward-auth-policy` until then.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "policy/auth/endpoint.h"

namespace mailward::auth_policy {

class AuthPolicyServer {
 public:
  explicit AuthPolicyServer(AuthPolicyEndpoint& endpoint, std::size_t max_connections = 256);
  ~AuthPolicyServer();
  AuthPolicyServer(const AuthPolicyServer&) = delete;
  AuthPolicyServer& operator=(const AuthPolicyServer&) = delete;

  // Binds and listens; false with `error` set on failure. A unix socket replaces an old one and
  // gets mode 0660.
  bool listen(const std::string& address, std::string& error);
  int port() const noexcept { return port_; }  // the bound TCP port (after listen)

  // Serves until stop() (from any thread) — on the calling thread...
  void run();
  // ... or on a thread of its own.
  void start();
  void stop() noexcept;

 private:
  AuthPolicyEndpoint& endpoint_;
  std::size_t max_connections_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::string unix_path_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace mailward::auth_policy
