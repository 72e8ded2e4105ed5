// mailward-notifyd's view of the spool: listing, retry-state sidecars, delivery and dead letters.
#include "dovecot-plugins/notifyd/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/notify/event.h"
#include "common/notify/slot.h"
#include "common/util/fd_io.h"
#include "common/util/text.h"

namespace mailward::notifyd {

namespace {

std::vector<std::string> list_dir(const std::string& dir, std::string_view suffix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name.starts_with(".") || !name.ends_with(suffix)) continue;
    out.emplace_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> read_file(const std::string& path, std::size_t max, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "open " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = "read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max) break;  // the parser refuses it with a clear message
  }
  ::close(fd);
  return out;
}

bool write_atomic(const std::string& dir, const std::string& name, const std::string& content, std::string& error) {
  std::string tmp = dir + "/." + name + ".tmp";
  std::string path = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "open " + tmp + ": " + std::strerror(errno);
    return false;
  }
  if (!fdio::pwrite_all(fd, content.data(), content.size(), 0)) {  // a new, empty file
    error = "write " + tmp + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    error = "fsync " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "rename " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

std::string one_line(std::string_view s) {
  std::string out(s.substr(0, 500));
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

std::string format_state(const RetryState& s) {
  return "attempts=" + std::to_string(s.attempts) + "\nnext_ms=" + std::to_string(s.next_ms) +
         "\nlast_error=" + one_line(s.last_error) + "\n";
}

std::optional<RetryState> parse_state(const std::string& text) {
  RetryState s;
  bool have_attempts = false;
  for (std::string_view line : text::split(text, '\n')) {
    if (line.empty()) continue;
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    unsigned long long n = 0;
    if (key == "attempts") {
      if (!text::parse_uint(value, 1'000'000, n)) return std::nullopt;
      s.attempts = static_cast<unsigned>(n);
      have_attempts = true;
    } else if (key == "next_ms") {
      if (!text::parse_uint(value, 1ULL << 62, n)) return std::nullopt;
      s.next_ms = static_cast<std::int64_t>(n);
    } else if (key == "last_error") {
      s.last_error = std::string(value);
    }
  }
  if (!have_attempts) return std::nullopt;
  return s;
}

bool Spool::ensure(std::string& error) const {
  // tmp/ and new/ are shared with the Sieve plugin (the delivery user, same group): setgid and
  // group-writable so it can write and notifyd can delete. Nothing is open to other users.
  const std::pair<std::string, mode_t> dirs[] = {{root_, 0750},       {root_ + "/tmp", 02770},
                                                 {new_dir(), 02770},  {state_dir(), 0750},
                                                 {dead_dir(), 0750},  {free_dir(), 02770},
                                                 {slots_dir(), 02770}};
  for (const auto& [dir, mode] : dirs) {
    if (::mkdir(dir.c_str(), mode) == 0) {
      ::chmod(dir.c_str(), mode);  // not reduced by the umask
    } else if (errno != EEXIST) {
      error = "mkdir " + dir + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

std::vector<std::string> Spool::list_new() const { return list_dir(new_dir(), ".json"); }

std::vector<std::string> Spool::list_slots() const {
  std::vector<std::string> names = list_dir(slots_dir(), "");
  std::erase_if(names, [](const std::string& n) { return !notify::is_slot_name(n); });
  return names;
}

std::optional<std::string> Spool::read_event(const std::string& name, std::string& error) const {
  return read_file(new_dir() + "/" + name, 1024 * 1024 + 1, error);
}

std::optional<RetryState> Spool::read_state(const std::string& name) const {
  std::string error;
  auto text = read_file(state_dir() + "/" + name, 4096, error);
  if (!text) return std::nullopt;
  return parse_state(*text);
}

bool Spool::write_state(const std::string& name, const RetryState& state, std::string& error) const {
  return write_atomic(state_dir(), name, format_state(state), error);
}

bool Spool::recycle_slot_free() const {
  if (recycle_limit_ == 0) return false;
  if (skip_ > 0) {
    --skip_;
    return false;
  }
  if (free_estimate_ < recycle_limit_) return true;
  std::size_t count = 0;
  if (DIR* d = ::opendir(free_dir().c_str())) {
    while (dirent* ent = ::readdir(d))
      if (ent->d_name[0] != '.') ++count;
    ::closedir(d);
  } else {
    count = recycle_limit_;  // no free/ (an old spool): unlink
  }
  free_estimate_ = count;
  if (count < recycle_limit_) return true;
  skip_ = recycle_limit_;
  return false;
}

void Spool::remove_delivered(const std::string& name, bool has_state, std::size_t event_bytes) const {
  const std::string path = new_dir() + "/" + name;
  bool recycled = false;
  if (event_bytes <= notify::kRecycleMaxBytes && recycle_slot_free()) {
    recycled = ::rename(path.c_str(), (free_dir() + "/" + name).c_str()) == 0;
    if (recycled) ++free_estimate_;
  }
  if (!recycled) ::unlink(path.c_str());
  if (has_state) ::unlink((state_dir() + "/" + name).c_str());
}

bool Spool::dead_letter(const std::string& name, const RetryState& state, std::string& error) const {
  if (!write_atomic(dead_dir(), name + ".error", format_state(state), error)) return false;
  if (::rename((new_dir() + "/" + name).c_str(), (dead_dir() + "/" + name).c_str()) != 0) {
    error = "rename " + name + " into dead/: " + std::strerror(errno);
    return false;
  }
  ::unlink((state_dir() + "/" + name).c_str());
  return true;
}

std::size_t Spool::remove_idle_slots(std::int64_t now_s) const {
  std::size_t removed = 0;
  for (const std::string& name : list_slots()) removed += notify::remove_idle_slot(slots_dir() + "/" + name, now_s);
  return removed;
}

bool Spool::dead_letter_content(const std::string& name, const std::string& content, const RetryState& state,
                                std::string& error) const {
  return write_atomic(dead_dir(), name + ".error", format_state(state), error) &&
         write_atomic(dead_dir(), name, content, error);
}

std::vector<Spool::Entry> Spool::list_queue() const {
  std::vector<Entry> out;
  auto describe = [](Entry& e, const std::optional<std::string>& text, const std::string& error) {
    if (!text) {
      e.problem = error;
      return;
    }
    notify::ParseResult r = notify::parse_event(*text);
    if (!r.event) {
      e.problem = r.error;
      return;
    }
    e.id = r.event->id;
    e.target = r.event->target;
    e.user = r.event->user;
    e.time_ms = r.event->time_ms;
  };
  for (bool dead : {false, true}) {
    const std::string dir = dead ? dead_dir() : new_dir();
    for (const std::string& name : list_dir(dir, ".json")) {
      Entry e;
      e.name = name;
      e.dead = dead;
      std::string error;
      describe(e, read_file(dir + "/" + name, 1024 * 1024 + 1, error), error);
      std::string serror;
      auto st = dead ? read_file(dir + "/" + name + ".error", 4096, serror) : read_file(state_dir() + "/" + name, 4096, serror);
      if (st) {
        if (auto parsed = parse_state(*st)) e.state = *parsed;
      }
      out.push_back(std::move(e));
    }
    if (dead) continue;
    // Ready slots: sent as soon as notifyd sees them, so they are pending with no attempt yet.
    for (const std::string& name : list_slots()) {
      notify::SlotRead r = notify::read_slot(slots_dir() + "/" + name);
      if (!r.opened || r.busy || r.state == notify::SlotState::free) continue;
      Entry e;
      e.name = "slots/" + name;
      if (r.state == notify::SlotState::ready || r.state == notify::SlotState::prepared) describe(e, r.json, "");
      else e.problem = r.error;
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace mailward::notifyd
