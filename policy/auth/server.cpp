// A minimal standalone listener for the auth-policy endpoint (see server.h).
#include "policy/auth/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "common/log/log.h"
#include "common/net/ip_address.h"
#include "common/net/socket_address.h"
#include "common/util/text.h"

namespace mailward::auth_policy {
namespace {

constexpr std::size_t kMaxPendingOut = 1u << 20;
constexpr auto kIdleTimeout = std::chrono::seconds(120);

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

struct Conn {
  int fd = -1;
  std::unique_ptr<AuthPolicyConnection> session;
  std::string out;
  bool closing = false;  // close once `out` is written
  std::chrono::steady_clock::time_point last_active;
};

}  // namespace

AuthPolicyServer::AuthPolicyServer(AuthPolicyEndpoint& endpoint, std::size_t max_connections)
    : endpoint_(endpoint), max_connections_(max_connections) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
}

AuthPolicyServer::~AuthPolicyServer() {
  stop();
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

bool AuthPolicyServer::listen(const std::string& address, std::string& error) {
  if (!address.empty() && address[0] == '/') {
    sockaddr_un sa{};
    if (address.size() >= sizeof sa.sun_path) {
      error = "unix socket path too long: " + address;
      return false;
    }
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address.c_str(), address.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::unlink(address.c_str());
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::chmod(address.c_str(), 0660) != 0 || ::listen(fd, 128) != 0) {
      error = "cannot listen on " + address + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    set_nonblocking(fd);
    listen_fd_ = fd;
    unix_path_ = address;
    return true;
  }
  // host:port or [v6]:port
  const auto where = net::parse_socket_address(address);
  if (!where) {
    error = "bad listen address (IPv4:port or [IPv6]:port): " + address;
    return false;
  }
  sockaddr_storage ss{};
  const socklen_t len = net::to_sockaddr(where->ip, where->port, ss);
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 128) != 0) {
    error = "cannot listen on " + address + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(bound.ss_family == AF_INET
                    ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                    : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  set_nonblocking(fd);
  listen_fd_ = fd;
  return true;
}

void AuthPolicyServer::start() {
  thread_ = std::thread([this] { run(); });
}

void AuthPolicyServer::stop() noexcept {
  stopping_ = true;
  if (wake_[1] >= 0) {
    const char c = 'x';
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  }
}

void AuthPolicyServer::run() {
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<pollfd> fds;
  char buf[16384];
  while (!stopping_) {
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, static_cast<short>(conns.size() < max_connections_ ? POLLIN : 0), 0});
    for (const auto& c : conns) {
      fds.push_back({c->fd, static_cast<short>(c->out.empty() ? POLLIN : POLLOUT), 0});
    }
    const int n = ::poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) {
      log::error("auth-policy listener: poll: ", std::strerror(errno));
      break;
    }
    if (stopping_) break;
    const auto now = std::chrono::steady_clock::now();
    if (fds[1].revents & POLLIN) {
      for (;;) {
        int cfd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) break;
        auto c = std::make_unique<Conn>();
        c->fd = cfd;
        c->session = std::make_unique<AuthPolicyConnection>(endpoint_);
        c->last_active = now;
        conns.push_back(std::move(c));
        if (conns.size() >= max_connections_) break;
      }
    }
    for (std::size_t i = 0; i + 2 < fds.size(); ++i) {
      Conn& c = *conns[i];
      const short re = fds[i + 2].revents;
      bool dead = false;
      if (re & (POLLIN | POLLHUP | POLLERR)) {
        if (c.out.empty()) {
          const ssize_t got = ::read(c.fd, buf, sizeof buf);
          if (got > 0) {
            c.last_active = now;
            if (!c.session->on_data(std::string_view(buf, static_cast<std::size_t>(got)), c.out)) {
              c.closing = true;
            }
          } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
            dead = true;
          }
        } else if (re & (POLLHUP | POLLERR)) {
          dead = true;
        }
      }
      if (!dead && !c.out.empty()) {
        const ssize_t put = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (put > 0) {
          c.out.erase(0, static_cast<std::size_t>(put));
          c.last_active = now;
        } else if (put < 0 && errno != EAGAIN && errno != EINTR) {
          dead = true;
        }
        if (c.out.size() > kMaxPendingOut) dead = true;
      }
      if (c.closing && c.out.empty()) dead = true;
      if (now - c.last_active > kIdleTimeout) dead = true;
      if (dead) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(conns, [](const std::unique_ptr<Conn>& c) { return c->fd < 0; });
  }
  for (auto& c : conns) ::close(c->fd);
}

}  // namespace mailward::auth_policy
