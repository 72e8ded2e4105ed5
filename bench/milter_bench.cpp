// milter_bench: drives one milter, or a chain of milters, through the milter protocol over unix
// sockets (tests/milter_client), as Postfix would, and reports messages/s and CPU per message.
//
//   milter_bench --label NAME --socket PATH [--socket PATH2 ...] --pid PID [--pid PID2 ...]
//                --messages DIR [--count N] [--warmup N] [--connections C] [--per-connection M]
//                [--client-ip IP] [--helo NAME] [--mail-from ADDR] [--rcpt ADDR]
//                [--policy "COMMAND ARGS..." [--policy-name NAME]]
//
// Each message file in DIR (sorted by name, used round-robin) is parsed once. C threads each open a
// connection per M messages to every milter of the chain and send each message through the chain in
// order; the header fields a milter inserts are passed on to the next one, as Postfix does when its
// cleanup server hands the queue file to each milter in turn (so OpenDMARC sees OpenDKIM's
// Authentication-Results). The daemons' CPU is the delta of utime+stime in /proc/PID/stat over the
// measured run (all threads; resolution one clock tick); the client's own CPU is getrusage(SELF).
//
// --policy runs a Postfix policy service (policyd-spf) in front of the milters the way Postfix runs
// one through spawn(8) with smtpd_recipient_restrictions = check_policy_service: one process per
// policy connection, reading requests on stdin and answering on stdout (SMTPD_POLICY_README). Each
// client thread spawns one process per --per-connection messages (when it reconnects to the
// milters), sends it one request per recipient at RCPT time with the attributes Postfix 3.7 sends,
// and, when the action is PREPEND, puts that header field at the top of the message the milters see
// (smtpd writes PREPENDed fields before its own Received: field). A REJECT/DEFER/4xx/5xx action ends
// the message before the milters, as Postfix would. The policy processes' CPU is their rusage from
// wait4() (utime+stime, their waited-for children included), start-up included, summed over the
// processes of the measured run; it is reported as its own part and added to the daemon CPU.
//
// Output: one human line, then "RESULT LABEL MSGS_PER_S DAEMON_CPU_MS_PER_MSG CLIENT_CPU_MS_PER_MSG
// ACCEPTED TOTAL DKIM_PASS DMARC_PASS" for scripts (bench/run_milter_bench.sh); DAEMON_CPU includes
// the policy processes' CPU when --policy is given.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  std::vector<std::string> policy_argv;  // empty: no policy service
  std::string policy_name = "policy service";
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "milter_bench: %s\nusage: milter_bench --label NAME --socket PATH [--socket PATH] "
               "--pid PID [--pid PID] --messages DIR [--count N] [--warmup N] [--connections C] "
               "[--per-connection M] [--client-ip IP] [--helo NAME] [--mail-from ADDR] [--rcpt ADDR] "
               "[--policy \"COMMAND ARGS...\" [--policy-name NAME]]\n",
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
    else if (a == "--policy") {
      std::istringstream words(v);  // split on white space (no quoting: paths here have no spaces)
      o.policy_argv.clear();
      for (std::string w; words >> w;) o.policy_argv.push_back(w);
      if (o.policy_argv.empty()) usage("--policy needs a command");
    } else if (a == "--policy-name") o.policy_name = v;
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

// One Postfix policy service process, spawned as spawn(8) does: stdin and stdout are the policy
// connection. Requests are "name=value" lines ended by an empty line; so is the reply, whose
// "action=" attribute is the answer (SMTPD_POLICY_README, "Protocol description").
class PolicyProcess {
 public:
  PolicyProcess() = default;
  PolicyProcess(const PolicyProcess&) = delete;
  PolicyProcess& operator=(const PolicyProcess&) = delete;
  ~PolicyProcess() { finish(); }

  bool running() const noexcept { return pid_ > 0; }

  bool start(const std::vector<std::string>& argv, std::string& error) {
    int in[2], out[2];  // in: we write, it reads; out: it writes, we read
    if (pipe2(in, O_CLOEXEC) != 0) return fail("pipe: ", error);
    if (pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      return fail("pipe: ", error);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);  // dup2 clears FD_CLOEXEC on 0 and 1
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);  // main() ignores SIGPIPE; the child gets the default back
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      error = "spawn " + argv[0] + ": " + std::strerror(rc);
      return false;
    }
    pid_ = pid;
    to_ = in[1];
    from_ = out[0];
    inbuf_.clear();
    return true;
  }

  // Sends one request and reads the reply; `action` is the value of its action= attribute.
  bool ask(const std::string& request, std::string& action, std::string& error) {
    std::size_t done = 0;
    while (done < request.size()) {
      ssize_t n = ::write(to_, request.data() + done, request.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail("policy write: ", error);
      done += static_cast<std::size_t>(n);
    }
    std::size_t end;
    while ((end = inbuf_.find("\n\n")) == std::string::npos) {
      pollfd p{from_, POLLIN, 0};
      int ready = ::poll(&p, 1, 30000);
      if (ready == 0) {
        error = "policy service: no reply within 30 s";
        return false;
      }
      if (ready < 0) {
        if (errno == EINTR) continue;
        return fail("policy poll: ", error);
      }
      char buf[4096];
      ssize_t n = ::read(from_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail("policy read: ", error);
      if (n == 0) {
        error = "policy service closed its output";
        return false;
      }
      inbuf_.append(buf, static_cast<std::size_t>(n));
    }
    std::string reply = inbuf_.substr(0, end + 1);
    inbuf_.erase(0, end + 2);
    action.clear();
    std::istringstream lines(reply);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("action=", 0) == 0) action = line.substr(7);
    return true;
  }

  // Closes its stdin (end of the policy connection), waits for it to exit and returns its CPU
  // (utime + stime, its waited-for children included) in seconds; 0 when none is running.
  double finish() {
    if (pid_ <= 0) return 0.0;
    ::close(to_);
    ::close(from_);
    to_ = from_ = -1;
    int status = 0;
    rusage u{};
    pid_t r;
    do r = ::wait4(pid_, &status, 0, &u);
    while (r < 0 && errno == EINTR);
    pid_ = -1;
    if (r < 0) return 0.0;
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }

 private:
  static bool fail(const char* what, std::string& error) {
    error = std::string(what) + std::strerror(errno);
    return false;
  }
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string inbuf_;
};

// The attributes Postfix 3.7 smtpd sends at RCPT time (SMTPD_POLICY_README, "Protocol
// description"), for an unauthenticated client without TLS; queue_id is empty because smtpd opens
// the queue file only after the first accepted RCPT (smtpd_delay_open_until_valid_rcpt = yes).
std::string policy_request(const Envelope& env, const std::string& recipient, std::size_t n,
                           std::size_t size) {
  std::string r;
  auto attr = [&r](const char* name, const std::string& value) {
    r += name;
    r += '=';
    r += value;
    r += '\n';
  };
  attr("request", "smtpd_access_policy");
  attr("protocol_state", "RCPT");
  attr("protocol_name", "ESMTP");
  attr("client_address", env.client_address);
  attr("client_name", env.client_name);
  attr("client_port", std::to_string(env.client_port));
  attr("reverse_client_name", env.client_name);
  attr("server_address", "192.0.2.25");
  attr("server_port", "25");
  attr("helo_name", env.helo);
  attr("sender", env.mail_from);
  attr("recipient", recipient);
  attr("recipient_count", "0");
  attr("queue_id", "");
  attr("instance", "1a2b." + std::to_string(n) + ".0");  // per-transaction, as smtpd makes it
  attr("size", std::to_string(size));
  for (const char* empty : {"etrn_domain", "stress", "sasl_method", "sasl_username", "sasl_sender",
                            "ccert_subject", "ccert_issuer", "ccert_fingerprint",
                            "ccert_pubkey_fingerprint", "encryption_protocol", "encryption_cipher"})
    attr(empty, "");
  attr("encryption_keysize", "0");
  attr("policy_context", "");
  attr("compatibility_level", "3.6");
  attr("mail_version", "3.7.11");
  r += '\n';
  return r;
}

// The SIZE= a client would announce: the message as sent, CRLF line ends.
std::size_t message_size(const mail::Message& m) {
  std::size_t size = 2 + m.body.size();
  for (const mail::HeaderField& f : m.headers) size += f.name.size() + 1 + f.value.size() + 2;
  return size;
}

bool starts_with_nocase(const std::string& s, const char* prefix) {
  std::size_t n = std::strlen(prefix);
  return s.size() >= n && strncasecmp(s.c_str(), prefix, n) == 0;
}

struct Tally {
  std::atomic<std::size_t> accepted{0}, rejected{0}, tempfailed{0}, other{0}, dkim_pass{0},
      dmarc_pass{0}, policy_processes{0}, policy_prepends{0}, policy_spf_pass{0};
  std::mutex mutex;
  std::string first_problem;
  double policy_cpu = 0.0;  // seconds, under mutex
  std::string first_prepend;

  void problem(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (first_problem.empty()) first_problem = what;
  }
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
    PolicyProcess policy;
    auto end_policy = [&] {
      if (!policy.running()) return;
      double cpu = policy.finish();
      std::lock_guard<std::mutex> lock(tally.mutex);
      tally.policy_cpu += cpu;
    };
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
        if (!o.policy_argv.empty()) {
          end_policy();
          std::string error;
          if (!policy.start(o.policy_argv, error)) {
            std::fprintf(stderr, "milter_bench: %s\n", error.c_str());
            std::exit(1);
          }
          ++tally.policy_processes;
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
      bool refused = false;  // by the policy service, at RCPT: the milters never see the message
      if (policy.running()) {
        std::size_t prepended = 0;
        for (const std::string& rcpt : env.recipients) {
          std::string action, error;
          if (!policy.ask(policy_request(env, rcpt, n, message_size(m)), action, error)) {
            std::fprintf(stderr, "milter_bench: %s\n", error.c_str());
            std::exit(1);
          }
          if (starts_with_nocase(action, "PREPEND ")) {
            std::string field = action.substr(8);
            std::size_t colon = field.find(':');
            if (colon == std::string::npos) continue;  // Postfix logs and ignores a bad PREPEND
            headers.insert(headers.begin() + static_cast<std::ptrdiff_t>(prepended++),
                           mail::HeaderField{field.substr(0, colon), field.substr(colon + 1)});
            ++tally.policy_prepends;
            if (starts_with_nocase(field, "Received-SPF: Pass")) ++tally.policy_spf_pass;
            std::lock_guard<std::mutex> lock(tally.mutex);
            if (tally.first_prepend.empty()) tally.first_prepend = field;
          } else if (starts_with_nocase(action, "REJECT") || starts_with_nocase(action, "DEFER") ||
                     (!action.empty() && (action[0] == '4' || action[0] == '5'))) {
            final_outcome = action[0] == '4' || starts_with_nocase(action, "DEFER")
                                ? Outcome::tempfail
                                : Outcome::reject;
            tally.problem("policy service at RCPT: " + action);
            refused = true;
            break;
          }
        }
      }
      for (Session& s : sessions) {
        if (refused) break;
        Result r = s.send_message(env, headers, m.body);
        for (const HeaderEdit& e : r.edits) added += e.name + ":" + e.value + "\n";
        apply_edits(headers, r.edits);
        final_outcome = r.outcome;
        if (r.outcome != Outcome::accept) {
          tally.problem(std::string(to_string(r.outcome)) + " at " + std::string(to_string(r.stage)) +
                        " " + r.reply + " " + r.detail);
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
    end_policy();
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < o.connections; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);  // a policy process that dies shows as a write error, not a kill
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
  if (!o.policy_argv.empty()) {
    char part[160];
    std::snprintf(part, sizeof(part), "%s%s (%zu processes, <= %zu msgs each): %.3f",
                  per_pid.empty() ? "" : ", ", o.policy_name.c_str(),
                  tally.policy_processes.load(), o.per_connection, tally.policy_cpu * 1000.0 / n);
    per_pid += part;
  }
  const double daemon_ms = static_cast<double>(ticks) * tick * 1000.0 / n + tally.policy_cpu * 1000.0 / n;
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
  if (!o.policy_argv.empty())
    std::printf("%s: policy service: %zu PREPENDs (%zu Received-SPF: Pass) for %zu messages; first: "
                "%s\n",
                o.label.c_str(), tally.policy_prepends.load(), tally.policy_spf_pass.load(), o.count,
                tally.first_prepend.c_str());
  if (!tally.first_problem.empty())
    std::printf("%s: first non-accept: %s\n", o.label.c_str(), tally.first_problem.c_str());
  std::printf("RESULT %s %.1f %.4f %.4f %zu %zu %zu %zu\n", o.label.c_str(), rate, daemon_ms, client_ms,
              tally.accepted.load(), o.count, tally.dkim_pass.load(), tally.dmarc_pass.load());
  return 0;
}
