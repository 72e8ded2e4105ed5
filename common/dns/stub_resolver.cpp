// dns::StubResolver: the socket side of DNS (UDP with EDNS0, TCP fallback, retries over servers).
// The wire format is wire.cpp's; this file only moves bytes and decides which reply to believe.
#include "common/dns/stub_resolver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "common/dns/wire.h"
#include "common/net/socket_address.h"
#include "common/util/text.h"

namespace mailward::dns {

std::optional<ServerAddress> ServerAddress::parse(std::string_view text) {
  text = text::trim(text);
  ServerAddress out;
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (std::size_t colon = text.find(':');
             colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    host = text.substr(0, colon);  // exactly one colon: IPv4 with a port
    port = text.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  auto ip = net::IpAddress::parse(host);
  if (!ip) return std::nullopt;
  if (!text.empty() && text.front() == '[' && !ip->is_v6()) return std::nullopt;
  out.ip = *ip;
  if (!port.empty()) {
    unsigned long long value = 0;
    if (!text::parse_uint(port, 65535, value) || value == 0) return std::nullopt;
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

std::string ServerAddress::to_string() const {
  if (ip.is_v6()) return "[" + ip.to_string() + "]:" + std::to_string(port);
  return ip.to_string() + ":" + std::to_string(port);
}

std::vector<ServerAddress> servers_from_resolv_conf(const std::string& path) {
  std::vector<ServerAddress> out;
  std::ifstream in(path);
  std::string line;
  while (in && std::getline(in, line)) {
    auto fields = text::split_list(line);
    if (fields.size() < 2 || fields[0] != "nameserver") continue;  // also skips # and ; comments
    // resolv.conf names addresses only, always on port 53; "[::1]:5353" would be a mistake there.
    if (auto ip = net::IpAddress::parse(fields[1])) out.push_back({*ip, 53});
  }
  if (out.empty()) out.push_back({net::IpAddress::v4(0x7f000001), 53});  // resolv.conf(5) default
  return out;
}

namespace {

using SteadyClock = std::chrono::steady_clock;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

std::uint16_t random_id() {
  std::uint16_t id = 0;
  if (::getrandom(&id, sizeof id, GRND_NONBLOCK) == static_cast<ssize_t>(sizeof id)) return id;
  std::random_device rd;  // getrandom unavailable (very early boot): the library's own source
  return static_cast<std::uint16_t>(rd());
}

socklen_t to_sockaddr(const ServerAddress& server, sockaddr_storage& storage) {
  return net::to_sockaddr(server.ip, server.port, storage);
}

// Milliseconds left until `deadline`, rounded up, for poll(); 0 when past.
int remaining_ms(SteadyClock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  if (left <= 0) return 0;
  return left > 3600000 ? 3600000 : static_cast<int>(left);
}

// Waits for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error.
int wait_for(int fd, short events, SteadyClock::time_point deadline) {
  for (;;) {
    int ms = remaining_ms(deadline);
    if (ms == 0) return 0;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) continue;  // loop re-checks the deadline
    return 1;
  }
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

enum class Outcome { answered, failed, no_reply, unreachable };

struct Attempt {
  Outcome outcome = Outcome::no_reply;
  Answer answer;      // answered / failed
  std::string error;  // failed / unreachable / no_reply, for the final error text
};

Attempt from_decoded(DecodedResponse& d) {
  Attempt a;
  a.answer = std::move(d.answer);
  a.outcome = a.answer.status == Status::server_failure ? Outcome::failed : Outcome::answered;
  a.error = a.answer.error;
  return a;
}

Attempt failed(std::string error) {
  Attempt a;
  a.outcome = Outcome::failed;
  a.error = error;
  a.answer = Answer::failure(Status::server_failure, std::move(error));
  return a;
}

// RFC 7766 §8: two-byte length prefix, then the message, in both directions.
Attempt ask_tcp(const ServerAddress& server, std::string_view name, RecordType type,
                std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  const std::uint16_t id = random_id();
  std::vector<std::uint8_t> query = encode_query(id, name, type, true);
  std::vector<std::uint8_t> out;
  out.reserve(query.size() + 2);
  out.push_back(static_cast<std::uint8_t>(query.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(query.size() & 0xff));
  out.insert(out.end(), query.begin(), query.end());

  sockaddr_storage addr;
  socklen_t addr_len = to_sockaddr(server, addr);
  Socket s(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return failed(errno_text("TCP socket"));
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), addr_len) < 0 &&
      errno != EINPROGRESS)
    return failed(errno_text("TCP connect"));
  int ready = wait_for(s.fd(), POLLOUT, deadline);
  if (ready == 0) return {Outcome::no_reply, {}, "TCP connect timed out"};
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (ready < 0 || ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &so_error, &len) < 0)
    return failed(errno_text("TCP connect"));
  if (so_error != 0) return failed(std::string("TCP connect: ") + std::strerror(so_error));

  std::size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(s.fd(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return failed(errno_text("TCP send"));
    int w = wait_for(s.fd(), POLLOUT, deadline);
    if (w == 0) return {Outcome::no_reply, {}, "TCP send timed out"};
    if (w < 0) return failed(errno_text("TCP poll"));
  }

  // Read exactly `want` bytes into buf (grows it); false with `a` set on timeout, EOF or error.
  std::vector<std::uint8_t> buf;
  auto read_exact = [&](std::size_t want, Attempt& a) {
    buf.assign(want, 0);
    std::size_t got = 0;
    while (got < want) {
      ssize_t n = ::recv(s.fd(), buf.data() + got, want - got, 0);
      if (n > 0) {
        got += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) {
        a = failed("TCP connection closed before the whole reply arrived");
        return false;
      }
      if (errno != EAGAIN && errno != EINTR) {
        a = failed(errno_text("TCP receive"));
        return false;
      }
      int w = wait_for(s.fd(), POLLIN, deadline);
      if (w == 0) {
        a = {Outcome::no_reply, {}, "TCP reply timed out"};
        return false;
      }
      if (w < 0) {
        a = failed(errno_text("TCP poll"));
        return false;
      }
    }
    return true;
  };
  Attempt a;
  if (!read_exact(2, a)) return a;
  std::size_t size = (std::size_t{buf[0]} << 8) | buf[1];
  if (!read_exact(size, a)) return a;
  DecodedResponse d = decode_response(buf.data(), buf.size(), name, type);
  // One connection, one query: a reply that does not match is the server's fault, not a spoof.
  if (!d.question_matches || d.id != id)
    return failed("TCP reply does not match the query" + (d.error.empty() ? "" : ": " + d.error));
  return from_decoded(d);
}

Attempt ask_udp(const ServerAddress& server, std::string_view name, RecordType type,
                std::chrono::milliseconds timeout, bool edns) {
  const auto deadline = SteadyClock::now() + timeout;
  const std::uint16_t id = random_id();
  std::vector<std::uint8_t> query = encode_query(id, name, type, edns);

  sockaddr_storage addr;
  socklen_t addr_len = to_sockaddr(server, addr);
  Socket s(::socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return failed(errno_text("UDP socket"));
  // connect(): the kernel binds a random ephemeral port and drops datagrams from other sources.
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), addr_len) < 0)
    return {Outcome::unreachable, {}, errno_text("UDP connect")};
  if (::send(s.fd(), query.data(), query.size(), 0) < 0) {
    if (errno == ECONNREFUSED) return {Outcome::unreachable, {}, "connection refused"};
    return failed(errno_text("UDP send"));
  }
  std::vector<std::uint8_t> buf(65535);
  for (;;) {
    int w = wait_for(s.fd(), POLLIN, deadline);
    if (w == 0) return {Outcome::no_reply, {}, "no reply"};
    if (w < 0) return failed(errno_text("UDP poll"));
    ssize_t n = ::recv(s.fd(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno == ECONNREFUSED) return {Outcome::unreachable, {}, "connection refused"};
      return failed(errno_text("UDP receive"));
    }
    DecodedResponse d = decode_response(buf.data(), static_cast<std::size_t>(n), name, type);
    if (!d.question_matches || d.id != id) continue;  // RFC 5452 §9.1: not ours; keep waiting
    if (d.truncated) return ask_tcp(server, name, type, timeout);
    // RFC 6891 §7: a server that does not know EDNS may answer FORMERR; ask once more without it.
    if (edns && d.rcode == 1) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (left.count() > 0) return ask_udp(server, name, type, left, false);
    }
    return from_decoded(d);
  }
}

}  // namespace

StubResolver::StubResolver(StubSettings settings) : settings_(std::move(settings)) {
  if (settings_.servers.empty()) settings_.servers = servers_from_resolv_conf();
  if (settings_.attempts == 0) settings_.attempts = 1;
  if (settings_.timeout.count() <= 0) settings_.timeout = std::chrono::milliseconds(1);
}

Answer StubResolver::lookup(std::string_view name, RecordType type) {
  if (encode_query(0, name, type, true).empty())
    return Answer::failure(Status::server_failure,
                           "invalid DNS name \"" + std::string(name.substr(0, 300)) + "\"");
  const auto& servers = settings_.servers;
  std::vector<bool> given_up(servers.size(), false);
  std::optional<Answer> last_failure;
  std::vector<std::string> problems(servers.size());
  for (unsigned round = 0; round < settings_.attempts; ++round) {
    for (std::size_t i = 0; i < servers.size(); ++i) {
      if (given_up[i]) continue;
      Attempt a = ask_udp(servers[i], name, type, settings_.timeout, true);
      switch (a.outcome) {
        case Outcome::answered: return std::move(a.answer);
        case Outcome::failed:
          given_up[i] = true;
          a.answer.error = servers[i].to_string() + ": " + a.answer.error;
          last_failure = std::move(a.answer);
          break;
        case Outcome::unreachable: given_up[i] = true; [[fallthrough]];
        case Outcome::no_reply: problems[i] = a.error; break;
      }
    }
  }
  if (last_failure) return std::move(*last_failure);
  std::string error = "no answer for " + text::normalize_domain(name) + "/" +
                      std::string(to_string(type)) + " from";
  for (std::size_t i = 0; i < servers.size(); ++i)
    error += (i ? ", " : " ") + servers[i].to_string() + " (" + problems[i] + ")";
  error += "; " + std::to_string(settings_.attempts) + " attempt(s) of " +
           std::to_string(settings_.timeout.count()) + " ms";
  return Answer::failure(Status::timeout, std::move(error));
}

}  // namespace mailward::dns
