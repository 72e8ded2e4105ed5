// mailward-notifyd's event loop (see daemon.h and README.md).
#include "dovecot-plugins/notifyd/daemon.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>

#include "common/log/log.h"
#include "common/notify/event.h"
#include "common/notify/payload.h"
#include "common/notify/slot.h"
#include "dovecot-plugins/notifyd/address_check.h"
#include "dovecot-plugins/notifyd/retry.h"
#include "dovecot-plugins/notifyd/spool.h"
#include "dovecot-plugins/notifyd/transfer.h"

namespace mailward::notifyd {

void Metrics::observe(double seconds) {
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++bucket_counts[i];
  ++latency_count;
  latency_sum += seconds;
}

std::string Metrics::render() const {
  std::ostringstream o;
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    o << "# HELP mailward_notify_" << name << "_total " << help << "\n# TYPE mailward_notify_" << name
      << "_total counter\nmailward_notify_" << name << "_total " << v << "\n";
  };
  counter("queued", "Events picked up from the spool.", queued);
  counter("sent", "Events delivered (2xx).", sent);
  counter("failed", "Failed send attempts (transport error, non-2xx, refused URL).", failed);
  counter("retried", "Attempts scheduled again after a failure.", retried);
  counter("dead_lettered", "Events moved to the dead-letter directory.", dead_lettered);
  o << "# HELP mailward_notify_pending Events waiting or in flight.\n# TYPE mailward_notify_pending gauge\n"
    << "mailward_notify_pending " << pending << "\n";
  o << "# HELP mailward_notify_in_flight Requests in flight.\n# TYPE mailward_notify_in_flight gauge\n"
    << "mailward_notify_in_flight " << in_flight << "\n";
  o << "# HELP mailward_notify_send_seconds Time of one HTTP request.\n"
    << "# TYPE mailward_notify_send_seconds histogram\n";
  for (std::size_t i = 0; i < kBuckets.size(); ++i)
    o << "mailward_notify_send_seconds_bucket{le=\"" << kBuckets[i] << "\"} " << bucket_counts[i] << "\n";
  o << "mailward_notify_send_seconds_bucket{le=\"+Inf\"} " << latency_count << "\n"
    << "mailward_notify_send_seconds_sum " << latency_sum << "\n"
    << "mailward_notify_send_seconds_count " << latency_count << "\n";
  return o.str();
}

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Job {
  std::string name;
  notify::Event event;
  RetryState state;
  std::int64_t due_ms = 0;
  bool in_flight = false;
  std::size_t bytes = 0;  // size of the event file (decides whether it is recycled)
  std::string slot;       // the event is in slots/SLOT (not in new/) until sent or copied there
};

class Dispatcher {
 public:
  explicit Dispatcher(const notify::NotifySettings& s) : settings_(s), spool_(s.spool), rng_(std::random_device{}()) {}

  int run() {
    std::string error;
    if (!spool_.ensure(error)) {
      log::fatal("spool: ", error);
      return 1;
    }
    load_all_secrets();
    for (const notify::Target& t : settings_.targets) target_buckets_[t.name] = TokenBucket(t.rate_per_target);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    sfd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    ifd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (sfd_ < 0 || ifd_ < 0 ||
        inotify_add_watch(ifd_, spool_.new_dir().c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
      log::fatal("inotify/signalfd on ", spool_.new_dir(), ": ", std::strerror(errno));
      return 1;
    }
    // A writer closes its slot after the record is written and synced.
    slots_wd_ = inotify_add_watch(ifd_, spool_.slots_dir().c_str(), IN_CLOSE_WRITE);
    if (slots_wd_ < 0) {
      log::fatal("inotify on ", spool_.slots_dir(), ": ", std::strerror(errno));
      return 1;
    }
    if (!settings_.metrics_listen.empty() && !open_metrics()) return 1;

    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(settings_.max_in_flight));
    // Keep as many idle connections as may be busy at once. libcurl's default keeps 4 per easy
    // handle currently added, which with one or two requests in flight is 4-8: a short burst then
    // closed the extra connections and the next burst paid TCP + TLS handshakes again.
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(settings_.max_in_flight));
    log::info("mailward-notifyd started: spool ", settings_.spool, ", ", settings_.targets.size(), " targets");
    rescan();
    std::int64_t next_rescan = mono_ms() + settings_.rescan_interval.count() * 1000;
    std::int64_t stop_deadline = 0;
    // [notify] batch_window: after inotify says an event arrived, notifyd waits this long before
    // reading inotify again, so the events of a busy moment are read, sent and answered in one
    // turn of the loop instead of one wake-up each (LMTP benchmark: notifyd 0.30-0.36 ms of CPU per
    // event with 10 ms against 0.41-0.48 without, the receiver 0.07-0.09 against 0.11-0.13; each
    // notification later by up to the window). 0: read and send at once.
    const std::int64_t batch_ms = settings_.batch_window.count();
    std::int64_t batch_until = 0;  // > 0: inotify is left unread until then

    while (true) {
      if (!stopping_) start_ready();
      if (stopping_ && (transfers_.empty() || mono_ms() >= stop_deadline)) break;

      curl_waitfd extra[3] = {};
      unsigned n = 0;
      const bool batching = batch_until > 0;
      for (int fd : {sfd_, ifd_, metrics_fd_}) {
        if (fd < 0 || (batching && fd == ifd_)) continue;
        extra[n].fd = fd;
        extra[n].events = CURL_WAIT_POLLIN;
        ++n;
      }
      int timeout = static_cast<int>(std::clamp<std::int64_t>(next_wakeup() - now_ms(), 0, 1000));
      // No later than a monotonic deadline (ms).
      auto wake_by = [&timeout](std::int64_t deadline) {
        timeout = static_cast<int>(std::min<std::int64_t>(timeout, std::max<std::int64_t>(0, deadline - mono_ms())));
      };
      wake_by(next_rescan);
      if (batching) wake_by(batch_until);
      curl_multi_poll(multi_, extra, n, timeout, nullptr);
      // Only the descriptors poll reported are read (a wake-up for a curl socket costs no
      // signalfd read, inotify read or accept); if curl_multi_poll failed, revents stay 0 and the
      // periodic rescan still finds every event.
      bool signal_ready = false, inotify_ready = false, metrics_ready = false;
      for (unsigned i = 0; i < n; ++i) {
        if ((extra[i].revents & CURL_WAIT_POLLIN) == 0) continue;
        if (extra[i].fd == sfd_) signal_ready = true;
        else if (extra[i].fd == ifd_) inotify_ready = true;
        else if (extra[i].fd == metrics_fd_) metrics_ready = true;
      }

      if (signal_ready && read_signals() && !stopping_) {
        stopping_ = true;
        stop_deadline = mono_ms() + 5000;
        log::info("stopping: waiting up to 5 s for ", transfers_.size(), " requests in flight");
      }
      if (batching && mono_ms() >= batch_until) {
        batch_until = 0;
        read_inotify();  // everything that arrived during the window
      } else if (inotify_ready) {
        if (batch_ms > 0) batch_until = mono_ms() + batch_ms;
        else read_inotify();
      }
      if (metrics_ready) serve_metrics();
      int running = 0;
      curl_multi_perform(multi_, &running);
      complete_finished();
      if (mono_ms() >= next_rescan) {
        rescan();
        next_rescan = mono_ms() + settings_.rescan_interval.count() * 1000;
      }
    }
    for (auto& [handle, name] : transfers_) curl_multi_remove_handle(multi_, handle);
    if (!transfers_.empty()) log::warning(transfers_.size(), " requests unfinished at exit; they stay in the spool");
    transfers_.clear();
    owned_.clear();
    for (CURL* h : idle_handles_) curl_easy_cleanup(h);
    idle_handles_.clear();
    curl_multi_cleanup(multi_);
    log::info("mailward-notifyd stopped");
    return 0;
  }

 private:
  void load_all_secrets() {
    for (const notify::Target& t : settings_.targets) {
      notify::Secrets s;
      std::string error;
      if (!load_secrets(t, s, error)) log::error("target ", t.name, ": ", error, " (requests go out unsigned/without token)");
      secrets_[t.name] = std::move(s);
    }
  }

  bool open_metrics() {
    const std::string& spec = settings_.metrics_listen;
    std::size_t colon = spec.rfind(':');
    std::string host = spec.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    int port = std::stoi(spec.substr(colon + 1));
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) == 1) {
      sin->sin_family = AF_INET;
      sin->sin_port = htons(static_cast<std::uint16_t>(port));
      len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) == 1) {
      family = AF_INET6;
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(static_cast<std::uint16_t>(port));
      len = sizeof(sockaddr_in6);
    } else {
      log::fatal("[notify] metrics_listen: '", spec, "' is not an IP address and port");
      return false;
    }
    metrics_fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(metrics_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (metrics_fd_ < 0 || ::bind(metrics_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(metrics_fd_, 16) != 0) {
      log::fatal("metrics on ", spec, ": ", std::strerror(errno));
      return false;
    }
    return true;
  }

  void serve_metrics() {
    while (true) {
      int c = ::accept4(metrics_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      timeval tv{0, 200000};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      char buf[2048];
      ssize_t got = ::recv(c, buf, sizeof buf, 0);  // request line; we answer every path the same
      (void)got;
      metrics_.pending = jobs_.size();
      metrics_.in_flight = transfers_.size();
      std::string body = metrics_.render();
      std::string reply = "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      std::size_t done = 0;
      while (done < reply.size()) {
        ssize_t n = ::send(c, reply.data() + done, reply.size() - done, MSG_NOSIGNAL);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      ::close(c);
    }
  }

  // True on SIGTERM/SIGINT.
  bool read_signals() {
    bool stop = false;
    signalfd_siginfo si{};
    while (::read(sfd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      if (si.ssi_signo == SIGHUP) {
        log::info("SIGHUP: re-reading secret files");
        load_all_secrets();
      } else {
        stop = true;
      }
    }
    return stop;
  }

  void read_inotify() {
    alignas(inotify_event) char buf[16384];
    while (true) {
      ssize_t n = ::read(ifd_, buf, sizeof buf);
      if (n <= 0) return;
      for (ssize_t off = 0; off < n;) {
        inotify_event ev{};
        std::memcpy(&ev, buf + off, sizeof ev);
        std::string name;
        if (ev.len > 0) name = std::string(buf + off + static_cast<ssize_t>(sizeof ev));
        off += static_cast<ssize_t>(sizeof ev) + static_cast<ssize_t>(ev.len);
        if (ev.mask & IN_Q_OVERFLOW) {
          rescan();
          continue;
        }
        if (ev.wd == slots_wd_) {
          if (auto own = own_closes_.find(name); own != own_closes_.end()) {
            // notifyd's own close after freeing the slot; any writer's close after it is still
            // reported (and a skipped one was before ours, so the slot is read after both).
            if (--own->second == 0) own_closes_.erase(own);
            continue;
          }
          if (notify::is_slot_name(name)) add_slot_job(name);
          continue;
        }
        // A name that just arrived in new/ has no retry state: nothing to look up in state/.
        if (name.ends_with(".json") && !name.starts_with(".")) add_job(name, /*fresh=*/true);
      }
    }
  }

  void rescan() {
    std::map<std::string, bool> present;
    for (const std::string& name : spool_.list_new()) {
      present[name] = true;
      add_job(name);
    }
    own_closes_.clear();
    for (const std::string& slot : spool_.list_slots())
      if (std::string name = add_slot_job(slot); !name.empty()) present[name] = true;
    if (const std::size_t idle = spool_.remove_idle_slots(now_ms() / 1000); idle > 0)
      log::info("removed ", idle, " slots unused for a day");
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (!it->second.in_flight && !present.contains(it->first)) {
        due_.erase({it->second.due_ms, it->first});
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // `fresh`: the name was just moved into new/ (inotify), so state/ holds nothing for it; jobs
  // found by a rescan (start-up, safety net) look their retry state up.
  void add_job(const std::string& name, bool fresh = false) {
    if (jobs_.contains(name)) return;
    std::string error;
    auto text = spool_.read_event(name, error);
    if (!text) return;  // vanished (delivered by a previous run, or removed)
    notify::ParseResult parsed = notify::parse_event(*text);
    ++metrics_.queued;
    if (!parsed.event) {
      RetryState st;
      st.last_error = "unreadable event: " + parsed.error;
      bury(name, "", st);
      return;
    }
    Job job;
    job.name = name;
    job.bytes = text->size();
    job.event = std::move(*parsed.event);
    if (!fresh) {
      if (auto st = spool_.read_state(name)) job.state = *st;
    }
    job.due_ms = job.state.next_ms;
    due_.emplace(job.due_ms, name);
    jobs_.emplace(name, std::move(job));
  }

  // A ready slot becomes a job named like its event file would be. Returns that name when the slot
  // holds the event of a job (new or already known), else "".
  std::string add_slot_job(const std::string& slot) {
    const std::string path = spool_.slots_dir() + "/" + slot;
    notify::SlotRead r = notify::read_slot(path);
    if (!r.opened || r.busy || r.state == notify::SlotState::free) return {};
    std::string error;
    if (r.state == notify::SlotState::invalid) {
      if (r.not_a_slot_file) {
        log::warning("slots/", slot, ": ", r.error, "; ignored");
        return {};
      }
      // Torn by a writer that died before its delivery was answered (read under our shared lock,
      // so no writer is at work on it): nothing to send.
      log::warning("slots/", slot, ": ", r.error, "; slot freed");
      free_own(slot);
      return {};
    }
    // Prepared and nobody holds it: left by a crash or a killed delivery process, perhaps after
    // its delivery was answered (slot.h): sent, at least once.
    if (r.state == notify::SlotState::prepared)
      log::info("slots/", slot, ": event of a delivery that did not finish (crash or kill); sending it");
    notify::ParseResult parsed = notify::parse_event(r.json);
    if (!parsed.event) {
      ++metrics_.queued;
      RetryState st;
      st.last_error = "unreadable event in slots/" + slot + ": " + parsed.error;
      const std::string name = std::to_string(now_ms()) + "-" + notify::new_event_id() + ".json";
      if (!spool_.dead_letter_content(name, r.json, st, error)) {
        log::error("dead-letter slots/", slot, ": ", error);
        return {};
      }
      ++metrics_.dead_lettered;
      log::warning("slots/", slot, " dead-lettered as ", name, ": ", st.last_error);
      free_own(slot);
      return {};
    }
    const std::string name = notify::event_file_name(*parsed.event);
    if (auto it = jobs_.find(name); it != jobs_.end()) {
      // Copied into new/ before a crash kept us from freeing the slot: new/ has it.
      if (it->second.slot != slot) free_own(slot);
      return name;
    }
    ++metrics_.queued;
    Job job;
    job.name = name;
    job.slot = slot;
    job.bytes = r.json.size();
    job.event = std::move(*parsed.event);
    job.due_ms = 0;
    due_.emplace(job.due_ms, name);
    jobs_.emplace(name, std::move(job));
    return name;
  }

  void free_own(const std::string& slot) {
    std::string error;
    if (notify::free_slot(spool_.slots_dir() + "/" + slot, error)) ++own_closes_[slot];
    else log::error("free slot: ", error);
  }

  // Before the event of a slot waits for a retry or goes to dead/: a durable copy in new/ (the
  // usual retry state and dead-letter handling apply from there), then the slot is freed. On
  // failure the event stays in its slot; the retry state is then kept in memory only.
  void move_slot_to_new(Job& job) {
    if (job.slot.empty()) return;
    notify::WriteResult w = notify::write_event(spool_.root(), job.event);
    if (!w.ok) {
      log::error("event ", job.event.id, ": copying slots/", job.slot, " into new/: ", w.error);
      return;
    }
    if (!w.error.empty()) log::warning("event ", job.event.id, ": ", w.error);
    free_own(job.slot);
    job.slot.clear();
  }

  std::int64_t next_wakeup() const {
    std::int64_t soonest = now_ms() + 1000;
    if (!due_.empty() && due_.begin()->first < soonest) soonest = due_.begin()->first;
    return soonest;
  }

  void bury(const std::string& name, const std::string& id, const RetryState& st) {
    if (auto it = jobs_.find(name); it != jobs_.end() && !it->second.slot.empty()) {
      move_slot_to_new(it->second);
      if (!it->second.slot.empty()) {  // still only in its slot: try again in a minute
        reschedule(it->second, now_ms() + 60000);
        return;
      }
    }
    std::string error;
    if (!spool_.dead_letter(name, st, error)) log::error("dead-letter ", name, ": ", error);
    ++metrics_.dead_lettered;
    log::warning("event ", id.empty() ? name : id, " dead-lettered: ", st.last_error);
    if (auto it = jobs_.find(name); it != jobs_.end()) {
      if (!it->second.in_flight) due_.erase({it->second.due_ms, name});
      jobs_.erase(it);
    }
  }

  // The line per sent event, at info (default) or debug ([notify] log_sent). Built by appending
  // rather than through log::info's ostringstream: this runs once per notification.
  void log_sent(const notify::Event& event, const Response& r) const {
    const log::Level level = settings_.log_sent_debug ? log::Level::debug : log::Level::info;
    if (!log::enabled(level)) return;
    std::string line;
    line.reserve(96 + event.target.size());
    line.append("event ").append(event.id).append(" sent to ").append(event.target).append(": HTTP ");
    line.append(std::to_string(r.status)).append(" in ");
    line.append(std::to_string(static_cast<long>(r.seconds * 1000))).append(" ms");
    log::write(level, {}, line);
  }

  void reschedule(Job& job, std::int64_t at) {
    job.in_flight = false;
    job.due_ms = at;
    due_.emplace(at, job.name);
  }

  void fail_permanently(Job& job, const std::string& why) {
    ++metrics_.failed;
    ++job.state.attempts;
    job.state.last_error = why;
    bury(job.name, job.event.id, job.state);
  }

  void start_ready() {
    const std::int64_t now = now_ms();
    // Jobs due now, oldest due first; each is taken out of due_ and put back with a new time
    // when it has to wait (rate limit) or fails to start.
    std::vector<std::pair<std::int64_t, std::string>> ready;
    for (auto d = due_.begin(); d != due_.end() && d->first <= now; ++d) {
      if (ready.size() + transfers_.size() >= settings_.max_in_flight) break;
      ready.push_back(*d);
    }
    for (const auto& entry : ready) {
      const std::string& name = entry.second;
      due_.erase(entry);
      auto it = jobs_.find(name);
      if (it == jobs_.end()) continue;
      Job& job = it->second;
      job.in_flight = true;  // not in due_ now; bury() and the paths below keep that consistent
      const notify::Target* target = settings_.find(job.event.target);
      if (!target) {
        fail_permanently(job, "unknown target \"" + job.event.target + "\"");
        continue;
      }
      if (!target->allows_user(job.event.user)) {
        fail_permanently(job, "user " + job.event.user + " may not use target " + target->name);
        continue;
      }
      // Rate limits delay, never drop (issue 3): wait for both buckets, then take from both.
      TokenBucket& tb = target_buckets_[target->name];
      auto ukey = target->name + "\n" + job.event.user;
      auto ub = user_buckets_.find(ukey);
      if (ub == user_buckets_.end()) ub = user_buckets_.emplace(ukey, TokenBucket(target->rate_per_user)).first;
      std::int64_t at = std::max(tb.ready_at(now), ub->second.ready_at(now));
      if (at > now) {
        reschedule(job, at);
        continue;
      }
      tb.acquire(now);
      ub->second.acquire(now);

      const bool user_url = target->allow_user_url && job.event.url && !job.event.url->empty();
      std::vector<net::IpAddress> pinned;
      if (user_url) {
        UrlCheck check = check_user_url(*job.event.url, *target, system_resolve);
        if (!check.ok) {
          fail_permanently(job, check.error);
          continue;
        }
        pinned = std::move(check.addresses);
      }
      notify::Request request = notify::build_request(job.event, *target, secrets_[target->name], now / 1000);
      std::string error;
      CURL* reuse = nullptr;
      if (!idle_handles_.empty()) {
        reuse = idle_handles_.back();
        idle_handles_.pop_back();
      }
      std::unique_ptr<Transfer> t = Transfer::create(request, *target, user_url, pinned, error, reuse);
      if (!t) {
        reschedule(job, now + 1000);
        log::error("event ", job.event.id, ": ", error);
        continue;
      }
      curl_multi_add_handle(multi_, t->handle());
      transfers_[t->handle()] = name;
      owned_[t->handle()] = std::move(t);
    }
  }

  void complete_finished() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* h = msg->easy_handle;
      CURLcode code = msg->data.result;
      curl_multi_remove_handle(multi_, h);
      std::string name = transfers_[h];
      std::unique_ptr<Transfer> t = std::move(owned_[h]);
      transfers_.erase(h);
      owned_.erase(h);
      Response r = t->finish(code);
      metrics_.observe(r.seconds);
      // The handle goes back to the pool (reset when reused); its connection stays in the multi
      // handle's cache either way. At most max_in_flight handles are kept.
      if (idle_handles_.size() < settings_.max_in_flight) {
        if (CURL* released = t->release()) idle_handles_.push_back(released);
      }
      auto it = jobs_.find(name);
      if (it == jobs_.end()) continue;
      Job& job = it->second;
      job.in_flight = false;
      const notify::Target* target = settings_.find(job.event.target);
      Outcome outcome = classify_status(r.status);
      if (outcome == Outcome::delivered) {
        if (!job.slot.empty()) free_own(job.slot);
        else spool_.remove_delivered(name, job.state.attempts > 0, job.bytes);
        ++metrics_.sent;
        log_sent(job.event, r);
        jobs_.erase(it);
        continue;
      }
      std::string why = r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
      if (outcome == Outcome::permanent || !target) {
        fail_permanently(job, why);
        continue;
      }
      ++metrics_.failed;
      ++job.state.attempts;
      job.state.last_error = why;
      std::optional<std::chrono::seconds> retry_after;
      if ((r.status == 429 || r.status == 503) && !r.retry_after.empty())
        retry_after = parse_retry_after(r.retry_after, now_ms() / 1000);
      RetryDecision d = decide_retry(*target, job.state.attempts, job.event.time_ms, now_ms(), retry_after,
                                     std::uniform_real_distribution<double>(0.0, 1.0)(rng_));
      if (d.dead) {
        job.state.last_error = why + " (" + d.reason + ")";
        bury(name, job.event.id, job.state);
        continue;
      }
      job.state.next_ms = d.next_ms;
      reschedule(job, d.next_ms);
      move_slot_to_new(job);
      std::string error;
      if (job.slot.empty() && !spool_.write_state(name, job.state, error))
        log::error("retry state for ", name, ": ", error);
      ++metrics_.retried;
      log::info("event ", job.event.id, " to ", job.event.target, " failed (", why, "); attempt ",
                job.state.attempts, ", next in ", (d.next_ms - now_ms()), " ms");
    }
  }

  const notify::NotifySettings& settings_;
  Spool spool_;
  std::mt19937_64 rng_;
  std::map<std::string, notify::Secrets> secrets_;
  std::map<std::string, TokenBucket> target_buckets_;
  std::map<std::string, TokenBucket> user_buckets_;
  std::map<std::string, Job> jobs_;
  std::set<std::pair<std::int64_t, std::string>> due_;  // (due_ms, name) of every job not in flight
  std::map<CURL*, std::string> transfers_;
  std::map<CURL*, std::unique_ptr<Transfer>> owned_;
  std::vector<CURL*> idle_handles_;  // easy handles of finished transfers, for reuse
  Metrics metrics_;
  CURLM* multi_ = nullptr;
  int sfd_ = -1, ifd_ = -1, metrics_fd_ = -1, slots_wd_ = -1;
  std::map<std::string, unsigned> own_closes_;  // slots we freed whose close inotify will report
  bool stopping_ = false;
};

}  // namespace

int run_daemon(const notify::NotifySettings& settings) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  Dispatcher d(settings);
  int rc = d.run();
  curl_global_cleanup();
  return rc;
}

}  // namespace mailward::notifyd
