// policy_bench: decisions per second and latency percentiles of a Postfix policy service, over a
// unix socket or TCP, with persistent connections, as Postfix's smtpd processes use it: each
// connection has one request outstanding at a time (closed loop), `--connections` of them at once.
// The requests are a fixed mix (see make_requests): authenticated submissions as an own address,
// as someone else's address, unauthenticated mail to a local domain and relay attempts, spread over
// 1000 users and 250 client addresses, each RCPT of a new message (fresh instance).
//
//   policy_bench (--unix PATH | --tcp HOST:PORT) [--connections 8] [--seconds 5] [--label NAME]
//                [--rate R]
//
// Without --rate (saturation, closed loop): each connection sends its next request as soon as the
// answer to the previous one arrives; the decisions/s is the service's throughput on this machine
// and the latency is mostly queueing (8 requests always waiting), not the service's own.
// With --rate R (latency, open loop): requests are due at a fixed rate of R per second in total,
// whether or not the service keeps up; a due request goes out on any idle connection (each still
// has at most one request outstanding, as Postfix's smtpd does), and its latency counts from when
// it was due, not from when it could be sent — so a stalled service shows as latency instead of
// silently slowing the client ("coordinated omission").
//
// Prints one line: label, decisions/s, p50/p99/p99.9 latency in microseconds, and how many answers
// of each kind came back (so two services can be checked to have decided the same way).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int connect_to(const std::string& unix_path, const std::string& tcp) {
  if (!unix_path.empty()) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", unix_path.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -1;
    return fd;
  }
  std::size_t colon = tcp.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(tcp.c_str() + colon + 1)));
  inet_pton(AF_INET, tcp.substr(0, colon).c_str(), &a.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -1;
  return fd;
}

std::string make_request(unsigned i) {
  unsigned user = i % 1000;
  unsigned kind = i % 10;  // 0-6 own sender, 7 foreign sender, 8 local inbound, 9 relay attempt
  std::string client = "192.0.2." + std::to_string(1 + (i / 7) % 250);
  std::string sasl, sender, recipient;
  if (kind <= 7) {
    sasl = "u" + std::to_string(user) + "@ex.org";
    sender = kind == 7 ? "u" + std::to_string((user + 1) % 1000) + "@ex.org" : sasl;
    recipient = "r" + std::to_string(i % 5000) + "@remote" + std::to_string(i % 50) + ".example";
  } else {
    sender = "s" + std::to_string(i % 3000) + "@outside.example";
    recipient = kind == 8 ? "u" + std::to_string(user) + "@ex.org" : "v@victim.example";
  }
  std::string r;
  r.reserve(700);
  r += "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n";
  r += "client_address=" + client + "\nclient_name=host" + client + ".example\n";
  r += "reverse_client_name=host" + client + ".example\nhelo_name=host.example\n";
  r += "sender=" + sender + "\nrecipient=" + recipient + "\nrecipient_count=0\n";
  r += "queue_id=\ninstance=" + std::to_string(i) + ".bench\nsize=0\netrn_domain=\nstress=\n";
  r += "sasl_method=" + std::string(sasl.empty() ? "" : "PLAIN") + "\nsasl_username=" + sasl +
       "\nsasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\n";
  r += "ccert_pubkey_fingerprint=\nencryption_protocol=\nencryption_cipher=\n";
  r += "encryption_keysize=0\npolicy_context=\nserver_address=198.51.100.1\nserver_port=587\n\n";
  return r;
}

std::string classify(const std::string& answer) {
  // "action=XYZ ..." -> "XYZ" (first word), lowercased DUNNO/dunno both count as DUNNO.
  std::string a = answer.substr(7);
  std::string word = a.substr(0, a.find_first_of(" \n"));
  for (char& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (word == "OK") word = "DUNNO";  // "OK" and "DUNNO" both let Postfix continue here
  return word;
}

}  // namespace

int main(int argc, char** argv) {
  std::string unix_path, tcp, label = "service";
  int connections = 8;
  double seconds = 5;
  double rate = 0;  // 0: closed loop
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--unix") unix_path = argv[i + 1];
    else if (k == "--tcp") tcp = argv[i + 1];
    else if (k == "--connections") connections = std::atoi(argv[i + 1]);
    else if (k == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (k == "--label") label = argv[i + 1];
    else if (k == "--rate") rate = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 64;
    }
  }
  if (unix_path.empty() == tcp.empty() || connections < 1) {
    std::fprintf(stderr, "usage: policy_bench (--unix PATH | --tcp HOST:PORT) [--connections N] "
                         "[--seconds S] [--label NAME] [--rate R]\n");
    return 64;
  }
  const unsigned kRequests = 100000;
  std::vector<std::string> requests;
  requests.reserve(kRequests);
  for (unsigned i = 0; i < kRequests; ++i) requests.push_back(make_request(i));

  struct Conn {
    int fd;
    std::string in;
    Clock::time_point sent;  // when the outstanding request was due (open loop) or sent
    bool busy = false;
  };
  std::vector<Conn> conns;
  std::vector<pollfd> pfds;
  unsigned next = 0;
  for (int c = 0; c < connections; ++c) {
    int fd = connect_to(unix_path, tcp);
    if (fd < 0) {
      std::fprintf(stderr, "%s: cannot connect: %s\n", label.c_str(), std::strerror(errno));
      return 1;
    }
    conns.push_back({fd, {}, {}, false});
    pfds.push_back({fd, POLLIN, 0});
  }
  auto send_next = [&](Conn& c, Clock::time_point due) {
    const std::string& r = requests[next++ % kRequests];
    c.sent = due;
    c.busy = true;
    std::size_t off = 0;
    while (off < r.size()) {
      ssize_t n = write(c.fd, r.data() + off, r.size() - off);
      if (n <= 0) {
        std::fprintf(stderr, "%s: write failed\n", label.c_str());
        std::exit(1);
      }
      off += static_cast<std::size_t>(n);
    }
  };
  std::vector<double> latencies_us;
  latencies_us.reserve(4000000);
  std::map<std::string, unsigned long> answers;
  // Warm-up: one second not counted.
  auto start = Clock::now();
  auto warm_until = start + std::chrono::seconds(1);
  auto end = warm_until + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  // Open loop: the k-th request is due at start + k / rate.
  const bool open_loop = rate > 0;
  const auto interval = open_loop ? std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(1.0 / rate))
                                  : Clock::duration::zero();
  Clock::time_point next_due = start;
  std::vector<Clock::time_point> backlog;  // due, not yet sent (every connection busy)
  std::size_t backlog_pos = 0;
  unsigned long max_backlog = 0;
  if (!open_loop)
    for (Conn& c : conns) send_next(c, Clock::now());
  unsigned long counted = 0;
  unsigned long all_answers = 0;  // warm-up included: what the server's CPU time was spent on
  char buf[65536];
  bool measuring = false;
  Clock::time_point measure_start;
  while (true) {
    auto now = Clock::now();
    if (!measuring && now >= warm_until) {
      measuring = true;
      measure_start = now;
    }
    if (now >= end) break;
    timespec timeout{1, 0};
    if (open_loop) {
      while (next_due <= now) {
        backlog.push_back(next_due);
        next_due += interval;
      }
      for (Conn& c : conns) {
        if (backlog_pos == backlog.size()) break;
        if (!c.busy) send_next(c, backlog[backlog_pos++]);
      }
      if (backlog_pos == backlog.size()) {
        backlog.clear();
        backlog_pos = 0;
      }
      max_backlog = std::max<unsigned long>(max_backlog, backlog.size() - backlog_pos);
      // Sleep until the next request is due (ppoll: microsecond resolution).
      auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next_due - Clock::now());
      long long ns = std::max<long long>(0, wait.count());
      timeout = timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    }
    int n = ppoll(pfds.data(), pfds.size(), &timeout, nullptr);
    if (n <= 0) continue;
    for (std::size_t i = 0; i < pfds.size(); ++i) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Conn& c = conns[i];
      ssize_t got = read(c.fd, buf, sizeof(buf));
      if (got <= 0) {
        std::fprintf(stderr, "%s: server closed a connection\n", label.c_str());
        return 1;
      }
      c.in.append(buf, static_cast<std::size_t>(got));
      std::size_t end_of_answer = c.in.find("\n\n");
      if (end_of_answer == std::string::npos) continue;
      auto done = Clock::now();
      ++all_answers;
      if (measuring) {
        latencies_us.push_back(std::chrono::duration<double, std::micro>(done - c.sent).count());
        ++answers[classify(c.in.substr(0, end_of_answer))];
        ++counted;
      }
      c.in.erase(0, end_of_answer + 2);
      c.busy = false;
      if (!open_loop) send_next(c, Clock::now());
      else if (backlog_pos < backlog.size()) send_next(c, backlog[backlog_pos++]);
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - measure_start).count();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    if (latencies_us.empty()) return 0.0;
    return latencies_us[std::min(latencies_us.size() - 1,
                                 static_cast<std::size_t>(p * static_cast<double>(latencies_us.size())))];
  };
  std::printf("%-22s %9.0f decisions/s  p50 %7.1f us  p99 %7.1f us  p99.9 %7.1f us  (%lu in %.1f s, "
              "%d connections)  answers:",
              label.c_str(), static_cast<double>(counted) / elapsed, pct(0.50), pct(0.99),
              pct(0.999), counted, elapsed, connections);
  for (const auto& [k, v] : answers) std::printf(" %s=%lu", k.c_str(), v);
  if (open_loop) std::printf("  offered %.0f/s, largest backlog %lu", rate, max_backlog);
  std::printf("  all %lu", all_answers);
  std::printf("\n");
  for (Conn& c : conns) close(c.fd);
  return 0;
}
