// milter_bench: drives one milter, or a chain of milters, through the milter protocol over unix
// sockets (tests/milter_client), as Postfix would, and reports messages/s and CPU per message.
//
//   milter_bench --label NAME --socket PATH [--socket PATH2 ...] --pid PID [--pid PID2 ...]
//                --messages DIR [--count N] [--warmup N] [--connections C] [--per-connection M]
//                [--client-ip IP] [--helo NAME] [--mail-from ADDR] [--rcpt ADDR]
//
// Each message file in DIR (sorted by name, used round-robin) is parsed once. C threads each open a
// connection per M messages to every milter of the chain and send each message through the chain in
// order; the header fields a milter inserts are passed on to the next one, as Postfix does when its
// cleanup server hands the queue file to each milter in turn (so OpenDMARC sees OpenDKIM's
// Authentication-Results). The daemons' CPU is the delta of utime+stime in /proc/PID/stat over the
// measured run (all threads; resolution one clock tick); the client's own CPU is getrusage(SELF).
//
// Output: one human line, then "RESULT LABEL MSGS_PER_S DAEMON_CPU_MS_PER_MSG CLIENT_CPU_MS_PER_MSG
// ACCEPTED TOTAL DKIM_PASS DMARC_PASS" for scripts (bench/run_milter_bench.sh).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/mail/message.h"
#include "tests/milter_client/session.h"

using namespace mailward;
using namespace mailward::milter_client;

namespace {

struct Options {
  std::string label = "milter";
  std::vector<std::string> sockets;
  std::vector<long> pids;
  std::string messages_dir;
  std::size_t count = 2000;
  std::size_t warmup = 200;
  unsigned connections = 4;
  std::size_t per_connection = 10;
  Envelope envelope;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "milter_bench: %s\nusage: milter_bench --label NAME --socket PATH [--socket PATH] "
               "--pid PID [--pid PID] --messages DIR [--count N] [--warmup N] [--connections C] "
               "[--per-connection M] [--client-ip IP] [--helo NAME] [--mail-from ADDR] [--rcpt ADDR]\n",
               why);
  std::exit(64);
}

std::size_t number(const char* text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (!end || *end != '\0') usage("not a number");
  return static_cast<std::size_t>(v);
}

Options parse(int argc, char** argv) {
  Options o;
  o.envelope.client_name = "mail.bench.example";
  o.envelope.client_address = "192.0.2.10";
  o.envelope.helo = "mail.bench.example";
  o.envelope.mail_from = "alice@bench.example";
  o.envelope.recipients = {"bob@mx.example"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--label") o.label = v;
    else if (a == "--socket") o.sockets.emplace_back(v);
    else if (a == "--pid") o.pids.push_back(static_cast<long>(number(v)));
    else if (a == "--messages") o.messages_dir = v;
    else if (a == "--count") o.count = number(v);
    else if (a == "--warmup") o.warmup = number(v);
    else if (a == "--connections") o.connections = static_cast<unsigned>(std::max<std::size_t>(1, number(v)));
    else if (a == "--per-connection") o.per_connection = std::max<std::size_t>(1, number(v));
    else if (a == "--client-ip") o.envelope.client_address = v;
    else if (a == "--helo") o.envelope.helo = v;
    else if (a == "--mail-from") o.envelope.mail_from = v;
    else if (a == "--rcpt") o.envelope.recipients = {v};
    else usage(("unknown option " + a).c_str());
  }
  if (o.sockets.empty() || o.messages_dir.empty()) usage("--socket and --messages are required");
  return o;
}

// Whole file; "" when unreadable. (stdio: g++ 12 warns falsely on istreambuf_iterator.)
std::string read_file(const std::string& path) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

// utime + stime of a process (all its threads), in clock ticks; -1 if unreadable.
long long cpu_ticks(long pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  // Fields after the command name start at field 3 (state); utime is 14 and stime 15.
  for (int f = 3; f <= 15 && rest >> field; ++f) {
    if (f == 14) utime = std::atoll(field.c_str());
    if (f == 15) stime = std::atoll(field.c_str());
  }
  return utime + stime;
}

double self_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Tally {
  std::atomic<std::size_t> accepted{0}, rejected{0}, tempfailed{0}, other{0}, dkim_pass{0},
      dmarc_pass{0};
  std::mutex mutex;
  std::string first_problem;
};

// Applies a milter's header edits to the fields the next milter of the chain will see.
void apply_edits(std::vector<mail::HeaderField>& headers, const std::vector<HeaderEdit>& edits) {
  for (const HeaderEdit& e : edits) {
    mail::HeaderField f{e.name, " " + e.value};
    if (e.kind == HeaderEdit::Kind::add) {
      headers.push_back(f);
    } else if (e.kind == HeaderEdit::Kind::insert) {
      std::size_t at = std::min<std::size_t>(e.index, headers.size());
      headers.insert(headers.begin() + static_cast<std::ptrdiff_t>(at), f);
    }  // changes (removals of forged fields) do not matter to the next milter here
  }
}

void run(const Options& o, const std::vector<mail::Message>& messages, std::size_t total, Tally& tally) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    std::vector<Session> sessions(o.sockets.size());
    std::size_t on_connection = o.per_connection;
    for (;;) {
      std::size_t n = next.fetch_add(1);
      if (n >= total) break;
      if (on_connection >= o.per_connection) {
        for (std::size_t i = 0; i < sessions.size(); ++i) {
          sessions[i].quit();
          std::string error;
          if (!sessions[i].connect(o.sockets[i], error) || !sessions[i].negotiate(error)) {
            std::fprintf(stderr, "milter_bench: %s: %s\n", o.sockets[i].c_str(), error.c_str());
            std::exit(1);
          }
        }
        on_connection = 0;
      }
      ++on_connection;
      const mail::Message& m = messages[n % messages.size()];
      Envelope env = o.envelope;
      env.queue_id = "4B" + std::to_string(n);
      std::vector<mail::HeaderField> headers = m.headers;
      Outcome final_outcome = Outcome::accept;
      std::string added;
      for (Session& s : sessions) {
        Result r = s.send_message(env, headers, m.body);
        for (const HeaderEdit& e : r.edits) added += e.name + ":" + e.value + "\n";
        apply_edits(headers, r.edits);
        final_outcome = r.outcome;
        if (r.outcome != Outcome::accept) {
          std::lock_guard<std::mutex> lock(tally.mutex);
          if (tally.first_problem.empty())
            tally.first_problem = std::string(to_string(r.outcome)) + " at " +
                                  std::string(to_string(r.stage)) + " " + r.reply + " " + r.detail;
          if (!s.is_open()) on_connection = o.per_connection;  // reconnect
          break;
        }
      }
      switch (final_outcome) {
        case Outcome::accept: ++tally.accepted; break;
        case Outcome::reject: ++tally.rejected; break;
        case Outcome::tempfail: ++tally.tempfailed; break;
        default: ++tally.other; break;
      }
      if (added.find("dkim=pass") != std::string::npos) ++tally.dkim_pass;
      if (added.find("dmarc=pass") != std::string::npos) ++tally.dmarc_pass;
    }
    for (Session& s : sessions) s.quit();
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < o.connections; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(o.messages_dir, ec))
    if (e.is_regular_file()) files.push_back(e.path());
  if (ec || files.empty()) usage(("no message files in " + o.messages_dir).c_str());
  std::sort(files.begin(), files.end());
  std::vector<mail::Message> messages;
  std::size_t bytes = 0;
  for (const auto& f : files) {
    std::string raw = read_file(f.string());
    bytes += raw.size();
    messages.push_back(mail::parse_message(raw));
  }

  if (o.warmup > 0) {
    Tally warm;
    run(o, messages, o.warmup, warm);
  }

  Tally tally;
  std::vector<long long> before;
  for (long pid : o.pids) before.push_back(cpu_ticks(pid));
  const double client_before = self_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  run(o, messages, o.count, tally);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double client_cpu = self_cpu_seconds() - client_before;
  long long ticks = 0;
  std::string per_pid;
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  const double n = static_cast<double>(o.count);
  for (std::size_t i = 0; i < o.pids.size(); ++i) {
    long long after = cpu_ticks(o.pids[i]);
    if (after < 0 || before[i] < 0) {
      std::fprintf(stderr, "milter_bench: cannot read /proc/%ld/stat\n", o.pids[i]);
      return 1;
    }
    ticks += after - before[i];
    char part[64];
    std::snprintf(part, sizeof(part), "%spid %ld: %.3f", per_pid.empty() ? "" : ", ", o.pids[i],
                  static_cast<double>(after - before[i]) * tick * 1000.0 / n);
    per_pid += part;
  }
  const double daemon_ms = static_cast<double>(ticks) * tick * 1000.0 / n;
  const double client_ms = client_cpu * 1000.0 / n;
  const double rate = n / wall;
  std::printf("%s: %zu messages (avg %zu bytes), %u connections x %zu msgs: %.0f msg/s, daemon CPU "
              "%.3f ms/msg, client CPU %.3f ms/msg; accept=%zu reject=%zu tempfail=%zu other=%zu; "
              "dkim=pass %zu, dmarc=pass %zu\n",
              o.label.c_str(), o.count, bytes / messages.size(), o.connections, o.per_connection, rate,
              daemon_ms, client_ms, tally.accepted.load(), tally.rejected.load(),
              tally.tempfailed.load(), tally.other.load(), tally.dkim_pass.load(),
              tally.dmarc_pass.load());
  std::printf("%s: daemon CPU ms/msg by process: %s\n", o.label.c_str(), per_pid.c_str());
  if (!tally.first_problem.empty())
    std::printf("%s: first non-accept: %s\n", o.label.c_str(), tally.first_problem.c_str());
  std::printf("RESULT %s %.1f %.4f %.4f %zu %zu %zu %zu\n", o.label.c_str(), rate, daemon_ms, client_ms,
              tally.accepted.load(), o.count, tally.dkim_pass.load(), tally.dmarc_pass.load());
  return 0;
}
