// notify_microbench: CPU per notification without Dovecot's noise (issue 3, bench/notify/README.md).
//
// Part "write": the Sieve plugin's commit path exactly as plugin.c calls it (mw_webhook_commit with
// a cached config: build the event, serialise, notify::write_event), and write_event's variants
// side by side, interleaved in rounds so that load changes hit every variant alike. Each variant
// writes into its own spool under DIR (default /var/spool, the real spool's filesystem); the files
// are unlinked between rounds, outside the measured interval, as notifyd would.
//
// Part "send": mailward-notifyd's per-event work, phase by phase as daemon.cpp does it: read the
// file, parse_event, build_request (payload + HMAC-SHA256), send through a curl multi handle to a
// local HTTPS receiver (a forked child, OpenSSL, keep-alive; its CPU is not counted), unlink, and
// the info log line (to a log file). One event at a time, as in a paced stream.
//
// CPU: getrusage(RUSAGE_SELF) user and sys separately over each batch; per phase
// CLOCK_THREAD_CPUTIME_ID (user+sys). Usage:
//   notify_microbench [--n N] [--dir DIR] [--part write|send|all] [--round R]
#include <dirent.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <curl/curl.h>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/notify/event.h"
#include "common/notify/payload.h"
#include "common/notify/slot.h"
#include "common/notify/targets.h"
#include "dovecot-plugins/notifyd/spool.h"
#include "dovecot-plugins/notifyd/transfer.h"
#include "dovecot-plugins/sieve-webhook/bridge.h"

namespace fs = std::filesystem;
using namespace mailward;

namespace {

struct Usage {
  double user_ms = 0, sys_ms = 0, wall_ms = 0;
  double cpu_ms = 0;  // CLOCK_PROCESS_CPUTIME_ID: exact; getrusage's user/sys split is sampled
};

double tv_ms(const timeval& tv) { return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3; }
double mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Usage measure(const std::function<void()>& f) {
  rusage a{}, b{};
  getrusage(RUSAGE_SELF, &a);
  double w0 = mono_ms(), c0 = process_cpu_ms();
  f();
  double w1 = mono_ms(), c1 = process_cpu_ms();
  getrusage(RUSAGE_SELF, &b);
  return {tv_ms(b.ru_utime) - tv_ms(a.ru_utime), tv_ms(b.ru_stime) - tv_ms(a.ru_stime), w1 - w0, c1 - c0};
}

double loadavg() {
  double l[1] = {0};
  getloadavg(l, 1);
  return l[0];
}

notify::Event sample_event(const std::string& target) {
  notify::Event e;
  e.id = notify::new_event_id();
  e.time_ms = static_cast<std::int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  e.user = "bench@example.org";
  e.mailbox = "INBOX";
  e.envelope_from = "sender@example.net";
  e.header_from = "Sender Name <sender@example.net>";
  e.to = "bench@example.org";
  e.subject = "Benchmark message with a subject of ordinary length";
  e.message_id = "<20251128.123456.abcdef@example.net>";
  e.size = 4321;
  e.target = target;
  e.title = "New mail";
  e.message = e.subject;
  return e;
}

// The writer as it shipped before 2025-11-28 (h18): create in tmp/, write, fsync, rename into
// new/, fsync new/. Kept here only so that the benchmark can pair it with write_event.
bool write_event_rename(const std::string& spool, const notify::Event& e, bool datasync) {
  const std::string body = notify::serialize(e);
  const std::string name = notify::event_file_name(e);
  const std::string tmp = spool + "/tmp/" + name, dst = spool + "/new/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  (void)::fchmod(fd, 0640);
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ok = ok && (datasync ? ::fdatasync(fd) : ::fsync(fd)) == 0;
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::rename(tmp.c_str(), dst.c_str()) == 0;
  int dfd = ::open((spool + "/new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ok = ok && dfd >= 0 && ::fsync(dfd) == 0;
  if (dfd >= 0) ::close(dfd);
  return ok;
}

// O_TMPFILE in tmp/ (no name until it is complete), linked into new/ through /proc/self/fd.
// link_first: link, then fsync the file (its inode then carries the link count 1), then new/.
bool write_event_tmpfile(const std::string& spool, const notify::Event& e, bool link_first, bool datasync, bool dir_sync = true) {
  const std::string body = notify::serialize(e);
  const std::string dst = spool + "/new/" + notify::event_file_name(e);
  int fd = ::open((spool + "/tmp").c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  auto sync = [&] { return (datasync ? ::fdatasync(fd) : ::fsync(fd)) == 0; };
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  auto link = [&] { return ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, dst.c_str(), AT_SYMLINK_FOLLOW) == 0; };
  if (link_first) ok = ok && link() && sync();
  else ok = ok && sync() && link();
  ok = ::close(fd) == 0 && ok;
  if (dir_sync) {
    int dfd = ::open((spool + "/new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok = ok && dfd >= 0 && ::fsync(dfd) == 0;
    if (dfd >= 0) ::close(dfd);
  }
  return ok;
}

// Recycled inode: take a sent event's file from free/ (rename, so concurrent writers never share
// one), overwrite it in place, fsync, rename into new/, fsync new/. No inode is allocated (ext4
// without a journal scans past recently freed inodes for every allocation) and notifyd frees none.
bool write_event_recycled(const std::string& spool, const notify::Event& e, bool sync = true) {
  const std::string body = notify::serialize(e);
  const std::string name = notify::event_file_name(e);
  const std::string tmp = spool + "/tmp/" + name, dst = spool + "/new/" + name;
  int fd = -1;
  if (DIR* d = ::opendir((spool + "/free").c_str())) {
    while (dirent* ent = ::readdir(d)) {
      if (ent->d_name[0] == '.') continue;
      if (::rename((spool + "/free/" + ent->d_name).c_str(), tmp.c_str()) != 0) continue;
      fd = ::open(tmp.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
      break;
    }
    ::closedir(d);
  }
  if (fd < 0) fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  bool ok = ::pwrite(fd, body.data(), body.size(), 0) == static_cast<ssize_t>(body.size());
  ok = ok && ::ftruncate(fd, static_cast<off_t>(body.size())) == 0 && (!sync || ::fsync(fd) == 0);
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::rename(tmp.c_str(), dst.c_str()) == 0;
  if (!sync) return ok;
  int dfd = ::open((spool + "/new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ok = ok && dfd >= 0 && ::fsync(dfd) == 0;
  if (dfd >= 0) ::close(dfd);
  return ok;
}

// Creating the file alone (no sync at all): the floor of one file per event.
bool write_event_nosync(const std::string& spool, const notify::Event& e) {
  const std::string body = notify::serialize(e);
  const std::string dst = spool + "/new/" + notify::event_file_name(e);
  int fd = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  return ::close(fd) == 0 && ok;
}

void log_to_bench(void*, mw_log_level level, const char* text) {
  if (level >= MW_LOG_WARNING) std::fprintf(stderr, "plugin: %s\n", text);
}

int part_write(const std::string& base, int n, int round) {
  // Two configurations: the plugin's spool with slots/ (as notifyd and the package create it), and
  // one without, where the plugin writes event files (its fallback).
  auto write_conf = [&](const std::string& conf, const char* spool) {
    FILE* f = std::fopen(conf.c_str(), "w");
    std::fprintf(f, "[notify]\nspool = %s/%s\n[target.phone]\nurl = https://127.0.0.1:1/x\nusers = *\n", base.c_str(), spool);
    std::fclose(f);
  };
  const std::string conf = base + "/mailward.conf", conf_files = base + "/mailward-files.conf";
  write_conf(conf, "plugin");
  write_conf(conf_files, "pluginfile");
  struct Variant {
    std::string name;
    std::function<bool(const std::string&)> write;  // spool -> ok
    Usage total;
    int done = 0;
    bool recycle = false;  // notifyd's side: Spool::remove_delivered (recycles into free/), else unlink
    Usage removal{};
    bool slots = false;  // the spool has slots/; notifyd's side then reads and frees each slot
  };
  mw_webhook_config* config = mw_webhook_config_load(conf.c_str(), log_to_bench, nullptr);
  mw_webhook_config* config_files = mw_webhook_config_load(conf_files.c_str(), log_to_bench, nullptr);
  if (!config || !config_files) return 1;
  const mw_webhook_request request{"phone", "New mail", "Benchmark message", "normal", nullptr, 0, nullptr};
  const mw_webhook_message message{"bench@example.org", "INBOX", "sender@example.net",
                                   "Sender Name <sender@example.net>", "bench@example.org",
                                   "Benchmark message with a subject of ordinary length",
                                   "<20251128.123456.abcdef@example.net>", 4321, nullptr, 0};
  std::vector<Variant> variants;
  variants.push_back({"plugin commit (mw_webhook_commit), slot", [&](const std::string&) {
                        return mw_webhook_commit(config, &request, &message, log_to_bench, nullptr) == MW_COMMIT_WRITTEN;
                      }, {}, 0, false, {}, true});
  variants.push_back({"plugin commit, event file (no slots/)", [&](const std::string&) {
                        return mw_webhook_commit(config_files, &request, &message, log_to_bench, nullptr) == MW_COMMIT_WRITTEN;
                      }, {}, 0, true});
  variants.push_back({"write_event_to_slot", [](const std::string& s) {
                        std::string path, error;
                        return notify::write_event_to_slot(s, notify::serialize(sample_event("phone")), path, error);
                      }, {}, 0, false, {}, true});
  variants.push_back({"write_event + remove_delivered (ships)", [](const std::string& s) {
                        return notify::write_event(s, sample_event("phone")).ok;
                      }, {}, 0, true});
  variants.push_back({"before: tmp+fsync+rename+fsync, unlink", [](const std::string& s) {
                        return write_event_rename(s, sample_event("phone"), false);
                      }, {}, 0});
  variants.push_back({"tmp+fdatasync+rename+fsync new/", [](const std::string& s) {
                        return write_event_rename(s, sample_event("phone"), true);
                      }, {}, 0});
  variants.push_back({"O_TMPFILE+fsync+linkat+fsync new/", [](const std::string& s) {
                        return write_event_tmpfile(s, sample_event("phone"), false, false);
                      }, {}, 0});
  variants.push_back({"O_TMPFILE+linkat+fsync+fsync new/", [](const std::string& s) {
                        return write_event_tmpfile(s, sample_event("phone"), true, false);
                      }, {}, 0});
  variants.push_back({"O_TMPFILE+linkat+fdatasync+fsync new/", [](const std::string& s) {
                        return write_event_tmpfile(s, sample_event("phone"), true, true);
                      }, {}, 0});
  variants.push_back({"O_TMPFILE+linkat+fsync, no dir fsync", [](const std::string& s) {
                        return write_event_tmpfile(s, sample_event("phone"), true, false, false);
                      }, {}, 0});
  variants.push_back({"sketch: recycled, no checks", [](const std::string& s) {
                        return write_event_recycled(s, sample_event("phone"));
                      }, {}, 0, true});
  variants.push_back({"floor of reuse: sketch without fsyncs", [](const std::string& s) {
                        return write_event_recycled(s, sample_event("phone"), false);
                      }, {}, 0, true});
  variants.push_back({"floor: create+write in new/, no sync", [](const std::string& s) {
                        return write_event_nosync(s, sample_event("phone"));
                      }, {}, 0});
  // MW_BENCH_ONLY=I (an index in the table): only that variant, e.g. under perf record.
  if (const char* only = std::getenv("MW_BENCH_ONLY")) {
    std::size_t i = static_cast<std::size_t>(std::atoi(only));
    if (i < variants.size()) variants = {variants[i]};
  }
  std::vector<std::string> spools;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    std::string s = variants[i].name.starts_with("plugin commit (") ? base + "/plugin"
                    : variants[i].name.starts_with("plugin commit,")  ? base + "/pluginfile"
                                                                      : base + "/v" + std::to_string(i);
    fs::create_directories(s + "/tmp");
    fs::create_directories(s + "/new");
    fs::create_directories(s + "/free");
    if (variants[i].slots) fs::create_directories(s + "/slots");
    spools.push_back(s);
  }
  std::vector<notifyd::Spool> notifyd_spools(spools.begin(), spools.end());
  std::printf("part write: %d events per variant in rounds of %d, interleaved; spool filesystem: ", n, round);
  std::fflush(stdout);
  std::string df = "df -T " + base + " | awk 'NR==2 {printf \"%s (%s)\", $2, $7}'";
  if (std::system(df.c_str()) != 0) std::printf("?");
  std::printf("; load %.2f at start\n", loadavg());
  while (variants[0].done < n) {
    for (std::size_t i = 0; i < variants.size(); ++i) {
      Variant& v = variants[i];
      bool ok = true;
      Usage u = measure([&] {
        for (int k = 0; k < round; ++k) ok = v.write(spools[i]) && ok;
      });
      if (!ok) {
        std::fprintf(stderr, "variant %s failed: %s\n", v.name.c_str(), std::strerror(errno));
        return 1;
      }
      v.total.user_ms += u.user_ms;
      v.total.sys_ms += u.sys_ms;
      v.total.wall_ms += u.wall_ms;
      v.total.cpu_ms += u.cpu_ms;
      v.done += round;
      // notifyd's part: remove (or recycle) the sent files, one syscall each, measured apart.
      std::vector<std::pair<std::string, std::size_t>> sent;
      for (const auto& ent : fs::directory_iterator(spools[i] + "/new"))
        sent.emplace_back(ent.path().filename(), static_cast<std::size_t>(ent.file_size()));
      notifyd::Spool& sp = notifyd_spools[i];
      std::vector<std::string> slots;
      if (v.slots) slots = sp.list_slots();
      Usage r = measure([&] {
        for (const std::string& slot : slots) {  // notifyd: read the slot, free it after the 2xx
          const std::string path = sp.slots_dir() + "/" + slot;
          std::string error;
          if (notify::read_slot(path).state == notify::SlotState::ready) (void)notify::free_slot(path, error);
        }
        for (const auto& [f, bytes] : sent) {
          if (v.recycle) sp.remove_delivered(f, false, bytes);
          else (void)::unlink((spools[i] + "/new/" + f).c_str());
        }
      });
      v.removal.cpu_ms += r.cpu_ms;
    }
  }
  std::printf("%-40s %10s %10s %10s %10s %12s\n", "variant", "user ms", "sys ms", "CPU ms", "wall ms",
              "remove CPU");
  std::printf("(user/sys: getrusage, tick-sampled; CPU: CLOCK_PROCESS_CPUTIME_ID, exact)\n");
  for (const Variant& v : variants) {
    double d = v.done;
    std::printf("%-40s %10.3f %10.3f %10.3f %10.3f %12.3f\n", v.name.c_str(), v.total.user_ms / d,
                v.total.sys_ms / d, v.total.cpu_ms / d, v.total.wall_ms / d, v.removal.cpu_ms / d);
  }
  std::printf("(per event; load %.2f at end)\n", loadavg());
  mw_webhook_config_free(config);
  return 0;
}

// ---- part send ----

// Minimal HTTPS/1.1 keep-alive receiver: answers every request with 200 and an empty body.
[[noreturn]] void receiver(int listen_fd, const std::string& cert, const std::string& key) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    _exit(2);
  while (true) {
    int c = ::accept(listen_fd, nullptr, nullptr);
    if (c < 0) continue;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      std::string buf;
      char tmp[16384];
      while (true) {
        std::size_t end = buf.find("\r\n\r\n");
        if (end != std::string::npos) {
          std::size_t len = 0;
          std::size_t cl = buf.find("Content-Length:");
          if (cl == std::string::npos) cl = buf.find("content-length:");
          if (cl != std::string::npos && cl < end) len = std::strtoul(buf.c_str() + cl + 15, nullptr, 10);
          if (buf.size() >= end + 4 + len) {
            buf.erase(0, end + 4 + len);
            static const char kReply[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
            SSL_write(ssl, kReply, sizeof kReply - 1);
            continue;
          }
        }
        int got = SSL_read(ssl, tmp, sizeof tmp);
        if (got <= 0) break;
        buf.append(tmp, static_cast<std::size_t>(got));
      }
    }
    SSL_free(ssl);
    ::close(c);
  }
}

int part_send(const std::string& base, int n) {
  const std::string cert = base + "/cert.pem", key = base + "/key.pem";
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost "
                    "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert + " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "openssl req failed\n");
    return 1;
  }
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sin;
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sin), sl) != 0 || ::listen(lfd, 16) != 0 ||
      ::getsockname(lfd, reinterpret_cast<sockaddr*>(&sin), &sl) != 0) {
    std::perror("listen");
    return 1;
  }
  const int port = ntohs(sin.sin_port);
  pid_t child = ::fork();
  if (child == 0) receiver(lfd, cert, key);
  ::close(lfd);

  const std::string secret = base + "/secret";
  {
    FILE* f = std::fopen(secret.c_str(), "w");
    std::fputs("0123456789abcdef0123456789abcdef\n", f);
    std::fclose(f);
  }
  std::string conf_text = "[notify]\nspool = " + base + "/send\n[target.phone]\nurl = https://127.0.0.1:" +
                          std::to_string(port) + "/hook\nformat = generic\nusers = *\nsecret_file = " + secret +
                          "\nca_file = " + cert + "\n";
  notify::NotifySettings settings = notify::parse_notify_settings(config::Config::parse(conf_text, "bench.conf"));
  const notify::Target& target = settings.targets.at(0);
  notify::Secrets secrets;
  secrets.signing_key = "0123456789abcdef0123456789abcdef";
  notifyd::Spool spool(settings.spool);
  std::string error;
  if (!spool.ensure(error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  log::Settings ls;
  ls.destination = log::Destination::file;
  ls.file_path = base + "/notifyd.log";
  ls.ident = "mailward-notifyd";
  log::init(ls);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 64L);
  std::vector<CURL*> idle;
  auto send_one = [&](const notify::Request& req) -> long {
    CURL* reuse = nullptr;
    if (!idle.empty()) {
      reuse = idle.back();
      idle.pop_back();
    }
    std::string err;
    auto t = notifyd::Transfer::create(req, target, false, {}, err, reuse);
    curl_multi_add_handle(multi, t->handle());
    int running = 1;
    long status = 0;
    while (true) {
      curl_multi_perform(multi, &running);
      int left = 0;
      bool done = false;
      while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        curl_multi_remove_handle(multi, m->easy_handle);
        status = t->finish(m->data.result).status;
        done = true;
      }
      if (done) break;
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    idle.push_back(t->release());
    return status;
  };

  // Warm-up: TLS handshake and connection in the cache (the daemon keeps it alive).
  {
    notify::Event e = sample_event("phone");
    if (send_one(notify::build_request(e, target, secrets, e.time_ms / 1000)) != 200) {
      std::fprintf(stderr, "warm-up request failed\n");
      return 1;
    }
  }
  // Rounds of 50: the events are written (write_event, not measured: it takes the files that
  // the previous rounds handed back), then sent one by one (measured). Rounds alternate between
  // unlinking the sent files and log::info (before) and Spool::remove_delivered (recycling) and
  // the daemon's cheaper log line (ships).
  enum { kRead, kParse, kBuild, kSend, kRemove, kLog, kPhases };
  const char* phase_names[kPhases] = {"read file", "parse_event", "build_request (payload+HMAC)",
                                      "send (curl multi, TLS, TCP)", "remove sent file", "info log line"};
  struct Mode {
    const char* name;
    bool recycle;
    double phase[kPhases] = {};
    Usage total{};
    int done = 0;
  };
  Mode modes[2] = {{"before: unlink, log::info", false}, {"ships: remove_delivered (recycle), log_sent", true}};
  int failures = 0;
  std::printf("part send: %d events per mode, HTTPS receiver on 127.0.0.1:%d (keep-alive), load %.2f at start\n", n,
              port, loadavg());
  const int round = 50;
  for (int r = 0; modes[1].done < n; ++r) {
    Mode& m = modes[r % 2];
    std::vector<std::string> names;
    for (int i = 0; i < round; ++i) {
      notify::Event e = sample_event("phone");
      if (!notify::write_event(settings.spool, e).ok) return 1;
      names.push_back(notify::event_file_name(e));
    }
    Usage u = measure([&] {
      for (const std::string& name : names) {
        double t0 = thread_cpu_ms();
        auto text = spool.read_event(name, error);
        double t1 = thread_cpu_ms();
        notify::ParseResult parsed = notify::parse_event(*text);
        double t2 = thread_cpu_ms();
        notify::Request req = notify::build_request(*parsed.event, target, secrets, parsed.event->time_ms / 1000);
        double t3 = thread_cpu_ms();
        long status = send_one(req);
        double t4 = thread_cpu_ms();
        if (m.recycle) spool.remove_delivered(name, false, text->size());
        else (void)::unlink((settings.spool + "/new/" + name).c_str());
        double t5 = thread_cpu_ms();
        if (m.recycle) {  // ships: daemon.cpp's log_sent (appends, then log::write)
          std::string line;
          line.reserve(96 + parsed.event->target.size());
          line.append("event ").append(parsed.event->id).append(" sent to ").append(parsed.event->target);
          line.append(": HTTP ").append(std::to_string(status)).append(" in ").append(std::to_string(1L)).append(" ms");
          log::write(log::Level::info, {}, line);
        } else {  // before: log::info's ostringstream
          log::info("event ", parsed.event->id, " sent to ", parsed.event->target, ": HTTP ", status, " in ", 1L, " ms");
        }
        double t6 = thread_cpu_ms();
        if (status != 200) ++failures;
        const double t[] = {t0, t1, t2, t3, t4, t5, t6};
        for (int k = 0; k < kPhases; ++k) m.phase[k] += t[k + 1] - t[k];
      }
    });
    m.total.cpu_ms += u.cpu_ms;
    m.total.user_ms += u.user_ms;
    m.total.sys_ms += u.sys_ms;
    m.total.wall_ms += u.wall_ms;
    m.done += round;
  }
  for (const Mode& m : modes) {
    const double d = m.done;
    std::printf("%s:\n%-32s %10s %8s\n", m.name, "phase", "CPU ms/ev", "share");
    double sum = 0;
    for (double p : m.phase) sum += p;
    for (int i = 0; i < kPhases; ++i)
      std::printf("  %-30s %10.4f %7.1f%%\n", phase_names[i], m.phase[i] / d, 100.0 * m.phase[i] / sum);
    std::printf("  %-30s %10.4f  (user %.4f + sys %.4f by getrusage; wall %.4f)\n", "total", m.total.cpu_ms / d,
                m.total.user_ms / d, m.total.sys_ms / d, m.total.wall_ms / d);
  }
  std::printf("(failures %d; load %.2f at end)\n", failures, loadavg());
  for (CURL* h : idle) curl_easy_cleanup(h);
  curl_multi_cleanup(multi);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 2000, round = 50;
  std::string dir = "/var/spool", part = "all";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--n") n = std::atoi(argv[i + 1]);
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--part") part = argv[i + 1];
    else if (a == "--round") round = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: notify_microbench [--n N] [--dir DIR] [--part write|send|all] [--round R]\n");
      return 2;
    }
  }
  std::string tmpl = dir + "/mw-microbench.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string base = buf.data();
  int rc = 0;
  if (part == "write" || part == "all") rc |= part_write(base, n, round);
  if (part == "send" || part == "all") rc |= part_send(base, n);
  std::error_code ec;
  fs::remove_all(base, ec);
  return rc;
}
