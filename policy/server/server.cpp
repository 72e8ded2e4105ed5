// mailward-policyd's single-threaded epoll loop and its two protocol sessions (server.h).
#include "policy/server/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log/log.h"
#include "common/net/ip_address.h"
#include "common/net/socket_address.h"
#include "common/util/text.h"

namespace mailward::policy {

namespace {
void log_decision(const Request& r, const Decision& d) {
  // Every decision at info, with its reason (DUNNO: "passed relay, sender, rate").
  log::Level level = d.check == "protocol" ? log::Level::error : log::Level::info;
  if (log::enabled(level)) log::for_message(level, r.queue_id, describe(r, d));
}

std::string malformed_answer(const RequestParser& parser, ParseError e) {
  Decision d = malformed_request_decision(parser.detail());
  log::error("policy request rejected (", to_string(e), "): ", parser.detail(), "; answered \"",
             d.action, "\" and closing the connection");
  return format_response(d.action);
}
}  // namespace

void DecisionBatch::add(Request request, std::string* out) {
  entries_.push_back({out, requests_.size(), {}});
  requests_.push_back(std::move(request));
}

void DecisionBatch::add_answer(std::string answer, std::string* out) {
  entries_.push_back({out, std::string::npos, std::move(answer)});
}

void DecisionBatch::run(store::Clock::time_point now) {
  std::vector<const Request*> ptrs;
  ptrs.reserve(requests_.size());
  for (const Request& r : requests_) ptrs.push_back(&r);
  std::vector<Decision> decisions;
  try {
    decisions = engine_.evaluate_batch(ptrs, now);
  } catch (const std::exception& e) {  // verdicts are values; this is out of memory at most
    log::error("internal error answering ", ptrs.size(), " requests: ", e.what());
    decisions.assign(ptrs.size(), Decision{"DEFER_IF_PERMIT 4.3.0 internal error", "protocol",
                                           "internal error"});
  }
  for (Entry& e : entries_) {
    if (e.request == std::string::npos) {
      *e.out += e.answer;
      continue;
    }
    const Decision& d = decisions[e.request];
    log_decision(requests_[e.request], d);
    *e.out += format_response(d.action);
  }
  entries_.clear();
  requests_.clear();
}

bool PolicySession::on_data(std::string_view bytes, std::string& out) {
  requests_.clear();
  ParseError e = parser_.feed(bytes, requests_);
  if (batch_) {
    for (Request& r : requests_) batch_->add(std::move(r), &out);
    if (e != ParseError::none) {
      batch_->add_answer(malformed_answer(parser_, e), &out);
      return false;
    }
    return true;
  }
  auto now = store::Clock::now();
  for (const Request& r : requests_) {
    Decision d = engine_.evaluate(r, now);
    log_decision(r, d);
    out += format_response(d.action);
  }
  if (e != ParseError::none) {
    out += malformed_answer(parser_, e);
    return false;
  }
  return true;
}

namespace {
// Client bytes in a log line: printable ASCII only, bounded (a socketmap key may hold anything).
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 256)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}
}  // namespace

bool SocketmapSession::on_data(std::string_view bytes, std::string& out) {
  queries_.clear();
  bool ok = parser_.feed(bytes, queries_);
  for (const SocketmapQuery& q : queries_) {
    std::string reply = engine_.socketmap_reply(q);
    if (log::enabled(log::Level::debug))
      log::debug("socketmap ", printable(q.name), " '", printable(q.key), "' -> ", reply);
    out += netstring(reply);
  }
  if (!ok) {
    log::error("socketmap request rejected: ", parser_.detail(), "; closing the connection");
    out += netstring("PERM malformed request");
    return false;
  }
  return true;
}

struct PolicyServer::Connection {
  int fd = -1;
  std::unique_ptr<Session> session;
  std::string out;
  std::size_t out_pos = 0;
  bool closing = false;       // close once `out` is written
  bool want_write = false;    // EPOLLOUT registered
  std::chrono::steady_clock::time_point last_active;
};

namespace {

// epoll data: listeners are pointers; connections, the signalfd and the wake eventfd are tagged.
constexpr std::uint64_t kConnTag = std::uint64_t{1} << 63;
constexpr std::uint64_t kSignalTag = std::uint64_t{1} << 62;
constexpr std::uint64_t kWakeTag = std::uint64_t{1} << 61;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

int unix_listener(const std::string& path, unsigned mode, const std::string& group,
                  std::string& error) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    error = "socket path too long: " + path;
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  unlink(path.c_str());
  // Created with no permissions for others, then opened up to exactly `mode` and `group`, so
  // there is no moment where another user could connect.
  mode_t old = umask(0177);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old);
  if (rc != 0) {
    error = errno_text("bind " + path);
    close(fd);
    return -1;
  }
  if (!group.empty()) {
    struct group* g = getgrnam(group.c_str());
    if (!g) {
      error = "unknown group '" + group + "' for " + path;
      close(fd);
      return -1;
    }
    if (chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      error = errno_text("chown " + path);
      close(fd);
      return -1;
    }
  }
  if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    error = errno_text("chmod " + path);
    close(fd);
    return -1;
  }
  if (listen(fd, 1024) != 0) {
    error = errno_text("listen " + path);
    close(fd);
    return -1;
  }
  return fd;
}

int tcp_listener(const std::string& address, std::string& error) {
  const auto where = net::parse_socket_address(address);
  if (!where) {
    error = "bad TCP address '" + address + "' (expected IPv4:port or [IPv6]:port)";
    return -1;
  }
  sockaddr_storage ss{};
  const socklen_t len = net::to_sockaddr(where->ip, where->port, ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 1024) != 0) {
    error = errno_text("bind/listen " + address);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

PolicyServer::PolicyServer(PolicyEngine& engine, ServerSettings settings)
    : engine_(engine), settings_(settings), batch_(std::make_unique<DecisionBatch>(engine)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ >= 0 && wake_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }
}

PolicyServer::~PolicyServer() {
  for (auto& [fd, c] : connections_) close(fd);
  for (auto& l : listeners_) close(l->fd);
  for (const std::string& p : unlink_on_exit_) unlink(p.c_str());
  if (signal_fd_ >= 0) close(signal_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void PolicyServer::block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool PolicyServer::add_listener(int fd, SessionFactory factory, std::string& error) {
  if (fd < 0) return false;
  auto l = std::make_unique<Listener>(Listener{fd, std::move(factory)});
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = l.get();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    error = errno_text("epoll_ctl");
    close(fd);
    return false;
  }
  listeners_.push_back(std::move(l));
  return true;
}

bool PolicyServer::listen_policy_unix(const std::string& path, unsigned mode,
                                      const std::string& group, std::string& error) {
  Limits limits = settings_.limits;
  PolicyEngine* engine = &engine_;
  DecisionBatch* batch = batch_.get();
  if (!add_listener(unix_listener(path, mode, group, error),
                    [engine, limits, batch] {
                      return std::make_unique<PolicySession>(*engine, limits, batch);
                    },
                    error))
    return false;
  unlink_on_exit_.push_back(path);
  return true;
}

bool PolicyServer::listen_socketmap_unix(const std::string& path, unsigned mode,
                                         const std::string& group, std::string& error) {
  PolicyEngine* engine = &engine_;
  if (!add_listener(unix_listener(path, mode, group, error),
                    [engine] { return std::make_unique<SocketmapSession>(*engine); }, error))
    return false;
  unlink_on_exit_.push_back(path);
  return true;
}

bool PolicyServer::listen_policy_tcp(const std::string& address, std::string& error) {
  Limits limits = settings_.limits;
  PolicyEngine* engine = &engine_;
  DecisionBatch* batch = batch_.get();
  return listen_tcp(
      address,
      [engine, limits, batch] { return std::make_unique<PolicySession>(*engine, limits, batch); },
      error);
}

bool PolicyServer::listen_tcp(const std::string& address, SessionFactory factory,
                              std::string& error) {
  int fd = tcp_listener(address, error);
  if (fd < 0) return false;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    last_tcp_port_ = ss.ss_family == AF_INET
                         ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                         : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return add_listener(fd, std::move(factory), error);
}

bool PolicyServer::listen_unix(const std::string& path, unsigned mode, const std::string& group,
                               SessionFactory factory, std::string& error) {
  if (!add_listener(unix_listener(path, mode, group, error), std::move(factory), error))
    return false;
  unlink_on_exit_.push_back(path);
  return true;
}

void PolicyServer::stop() noexcept {
  running_ = false;
  std::uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
}

void PolicyServer::accept_all(const Listener& listener) {
  for (;;) {
    int fd = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN)
        log::warning("accept: ", std::strerror(errno));
      return;
    }
    if (connections_.size() >= settings_.max_connections) {
      log::warning("too many connections (", connections_.size(), "), refusing one");
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // fails harmlessly on unix
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->session = listener.factory();
    c->last_active = std::chrono::steady_clock::now();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    // Listener pointers and connection fds share data: connections are told apart by a tag bit.
    ev.data.u64 = static_cast<std::uint64_t>(fd) | kConnTag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      continue;
    }
    connections_.emplace(fd, std::move(c));
  }
}

void PolicyServer::close_connection(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  close(fd);
  connections_.erase(fd);
}

void PolicyServer::flush(Connection& c) {
  while (c.out_pos < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_pos += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN)) {
      if (!c.want_write) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
        ev.data.u64 = static_cast<std::uint64_t>(c.fd) | kConnTag;
        epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
        c.want_write = true;
      }
      return;
    }
    close_connection(c.fd);  // peer gone
    return;
  }
  c.out.clear();
  c.out_pos = 0;
  if (c.want_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = static_cast<std::uint64_t>(c.fd) | kConnTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_write = false;
  }
  if (c.closing) close_connection(c.fd);
}

void PolicyServer::on_readable(Connection& c) {
  char buf[16384];
  for (int rounds = 0; rounds < 16; ++rounds) {
    ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      c.last_active = std::chrono::steady_clock::now();
      if (!c.closing) {
        // A session that throws (it should not: verdicts are values) fails closed like a
        // malformed request: temporary failure, connection closed.
        try {
          if (!c.session->on_data(std::string_view(buf, static_cast<std::size_t>(n)), c.out))
            c.closing = true;
        } catch (const std::exception& e) {
          log::error("internal error answering a request: ", e.what());
          c.out += format_response("DEFER_IF_PERMIT 4.3.0 internal error");
          c.closing = true;
        }
      }
      if (static_cast<std::size_t>(n) < sizeof(buf)) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN)) break;
    // EOF or error: answer what is pending, then close.
    c.closing = true;
    break;
  }
  // Answers queued in the batch are written once it has run (end of this loop turn).
  if (batch_ && !batch_->empty()) {
    flush_after_batch_.push_back(c.fd);
    return;
  }
  flush(c);
}

void PolicyServer::expire_idle() {
  auto now = std::chrono::steady_clock::now();
  std::vector<int> idle;
  for (auto& [fd, c] : connections_)
    if (now - c->last_active > settings_.idle_timeout) idle.push_back(fd);
  for (int fd : idle) {
    log::debug("closing idle connection");
    close_connection(fd);
  }
}

int PolicyServer::run() {
  if (epoll_fd_ < 0) {
    log::fatal("epoll_create1: ", std::strerror(errno));
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kSignalTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &ev);
  }
  epoll_event events[256];
  auto last_sweep = std::chrono::steady_clock::now();
  while (running_) {
    int n = epoll_wait(epoll_fd_, events, 256, 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::fatal("epoll_wait: ", std::strerror(errno));
      return 1;
    }
    for (int i = 0; i < n && running_; ++i) {
      std::uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) continue;  // stop() woke us
      if (tag == kSignalTag) {
        signalfd_siginfo si{};
        while (read(signal_fd_, &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) {
          if (si.ssi_signo == SIGHUP) {
            log::info("SIGHUP: reloading");
            if (reload_) reload_();
          } else {
            log::info("signal ", si.ssi_signo, ": stopping");
            running_ = false;
          }
        }
        continue;
      }
      if (tag & kConnTag) {
        int fd = static_cast<int>(tag & std::uint64_t{0xffffffff});
        auto it = connections_.find(fd);
        if (it == connections_.end()) continue;
        Connection& c = *it->second;
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
          on_readable(c);
        } else if (events[i].events & EPOLLOUT) {
          flush(c);
        }
        continue;
      }
      accept_all(*static_cast<Listener*>(events[i].data.ptr));
    }
    if (!batch_->empty()) batch_->run(store::Clock::now());
    for (int fd : flush_after_batch_) {
      auto it = connections_.find(fd);
      if (it != connections_.end()) flush(*it->second);
    }
    flush_after_batch_.clear();
    auto now = std::chrono::steady_clock::now();
    if (now - last_sweep > std::chrono::seconds(1)) {
      expire_idle();
      last_sweep = now;
    }
  }
  return 0;
}

}  // namespace mailward::policy
