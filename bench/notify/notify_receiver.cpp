// notify_receiver: the HTTPS receiver of the notification benchmark (run_notify_bench.sh).
//
// It stands for the remote service (ntfy, Gotify, ...) that notifications go to. That service's
// CPU is not spent on the mail server; here it runs on the same two cores as Dovecot and
// mailward-notifyd, so it must cost as little as possible or it distorts the delivery throughput
// being measured. The Python receiver of the integration tests (tests/integration/notify/
// receiver.py) spends about 0.8 ms of CPU per request; this one, one thread with epoll and
// OpenSSL, a small fraction of that (the bench prints the receiver's CPU per message).
//
// Every request is answered 200 {"ok":true} on a kept-alive HTTP/1.1 connection and logged as one
// JSON line {"time": UNIX_SECONDS, "path": PATH, "body": BODY} (the fields the bench reads), the log
// flushed after every batch of ready connections.
//
// Usage: notify_receiver --bind IPV4:PORT --cert PEM --key PEM --log FILE   (prints "ready")
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace {

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string in;   // bytes read, not yet consumed as a request
  std::string out;  // reply bytes not yet written
  ~Connection() {
    if (ssl != nullptr) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
};

double unix_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      out += esc;
    } else {
      out += c;
    }
  }
  out += '"';
}

// Content-Length of a request head (0 when absent), or -1 when the head is not one we accept.
long content_length(std::string_view head) {
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    constexpr std::string_view name = "content-length:";
    if (head.size() - pos < name.size()) break;
    bool match = true;
    for (std::size_t i = 0; i < name.size(); ++i) {
      char c = head[pos + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != name[i]) {
        match = false;
        break;
      }
    }
    if (match) {
      long n = std::strtol(std::string(head.substr(pos + name.size(), 20)).c_str(), nullptr, 10);
      return n >= 0 && n <= (1L << 20) ? n : -1;
    }
  }
  return 0;
}

// Consumes complete requests from c.in: logs each, queues its reply. False on a malformed request.
bool serve_requests(Connection& c, std::string& log) {
  for (;;) {
    std::size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return c.in.size() < 65536;
    std::string_view head(c.in.data(), end + 2);
    long length = content_length(head);
    if (length < 0) return false;
    const std::size_t total = end + 4 + static_cast<std::size_t>(length);
    if (c.in.size() < total) return true;
    std::string_view line = head.substr(0, head.find("\r\n"));
    std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    std::string_view path = sp1 != std::string_view::npos && sp2 > sp1 ? line.substr(sp1 + 1, sp2 - sp1 - 1) : "";
    char when[32];
    std::snprintf(when, sizeof when, "%.6f", unix_seconds());
    log += "{\"time\": ";
    log += when;
    log += ", \"path\": ";
    append_json_string(log, path);
    log += ", \"body\": ";
    append_json_string(log, std::string_view(c.in).substr(end + 4, static_cast<std::size_t>(length)));
    log += "}\n";
    c.out += "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
    c.in.erase(0, total);
  }
}

// Reads what TLS has, answers complete requests, writes replies. False: close the connection.
bool pump(Connection& c, std::string& log) {
  if (!SSL_is_init_finished(c.ssl)) {
    int r = SSL_accept(c.ssl);
    if (r != 1) {
      int e = SSL_get_error(c.ssl, r);
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    }
  }
  char buf[16384];
  for (;;) {
    int n = SSL_read(c.ssl, buf, sizeof buf);
    if (n > 0) {
      c.in.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    int e = SSL_get_error(c.ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    return false;  // closed by the peer or broken
  }
  if (!serve_requests(c, log)) return false;
  while (!c.out.empty()) {
    int n = SSL_write(c.ssl, c.out.data(), static_cast<int>(c.out.size()));
    if (n > 0) {
      c.out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    int e = SSL_get_error(c.ssl, n);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
  }
  return true;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "notify_receiver: %s: %s\n", what, std::strerror(errno));
  ERR_print_errors_fp(stderr);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string bind, cert, key, log_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view a = argv[i];
    if (a == "--bind") bind = argv[i + 1];
    else if (a == "--cert") cert = argv[i + 1];
    else if (a == "--key") key = argv[i + 1];
    else if (a == "--log") log_path = argv[i + 1];
  }
  std::size_t colon = bind.rfind(':');
  if (bind.empty() || cert.empty() || key.empty() || log_path.empty() || colon == std::string::npos) {
    std::fprintf(stderr, "usage: notify_receiver --bind IPV4:PORT --cert PEM --key PEM --log FILE\n");
    return 2;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr || SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    die("TLS set-up");
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  std::FILE* log = std::fopen(log_path.c_str(), "a");
  if (log == nullptr) die("open the log");

  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(bind.c_str() + colon + 1)));
  if (::inet_pton(AF_INET, bind.substr(0, colon).c_str(), &sa.sin_addr) != 1) die("bind address");
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lfd, 128) != 0)
    die("listen");
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::printf("ready\n");
  std::fflush(stdout);

  std::unordered_map<int, std::unique_ptr<Connection>> conns;
  std::string lines;
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(ep, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        int cfd;
        while ((cfd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto c = std::make_unique<Connection>();
          c->fd = cfd;
          c->ssl = SSL_new(ctx);
          SSL_set_fd(c->ssl, cfd);
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLOUT | EPOLLET;
          cev.data.fd = cfd;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
          conns[cfd] = std::move(c);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      if (!pump(*it->second, lines)) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        conns.erase(it);
      }
    }
    if (!lines.empty()) {
      std::fwrite(lines.data(), 1, lines.size(), log);
      std::fflush(log);
      lines.clear();
    }
  }
}
