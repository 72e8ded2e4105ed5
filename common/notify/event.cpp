// Notification events: JSON serialisation, the strict bounded reader, and the durable spool writer
// (write to tmp/, fsync, rename into new/, fsync the directory; the file is a recycled one from
// free/ when possible). The format is documented in
// dovecot-plugins/notifyd/README.md ("Event JSON").
#include "common/notify/event.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "common/util/fd_io.h"

namespace mailward::notify {

namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxEventBytes = 1024 * 1024;
constexpr int kMaxDepth = 4;  // {"fields":[{"name":..}]} is depth 3

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

bool is_event_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

namespace {

// Nesting depth outside strings. nlohmann's destructor and some paths recurse per level, so a
// deep input ("[[[[...") is refused before it is parsed.
bool depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace

std::string_view to_string(Priority p) {
  switch (p) {
    case Priority::low: return "low";
    case Priority::normal: return "normal";
    case Priority::high: return "high";
  }
  return "normal";
}

std::string serialize(const Event& e) {
  json j = json::object();
  j["version"] = e.version;
  j["id"] = e.id;
  j["time_ms"] = e.time_ms;
  j["user"] = e.user;
  j["mailbox"] = e.mailbox;
  j["envelope_from"] = e.envelope_from;
  j["header_from"] = e.header_from;
  j["to"] = e.to;
  j["subject"] = e.subject;
  j["message_id"] = e.message_id;
  j["size"] = e.size;
  j["target"] = e.target;
  j["title"] = e.title;
  j["message"] = e.message;
  j["priority"] = std::string(to_string(e.priority));
  json fields = json::array();
  for (const auto& [name, value] : e.fields) {
    fields.push_back(json{{"name", name}, {"value", value}});
  }
  j["fields"] = std::move(fields);
  if (e.url) j["url"] = *e.url;
  if (e.snippet) j["snippet"] = *e.snippet;
  // Invalid UTF-8 becomes U+FFFD rather than an exception (event.h).
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

ParseResult parse_event(std::string_view text) {
  ParseResult result;
  auto fail = [&](std::string message) {
    result.event.reset();
    result.error = std::move(message);
    return result;
  };
  if (text.size() > kMaxEventBytes) return fail("event larger than 1 MiB");
  if (!depth_within(text, kMaxDepth)) return fail("JSON nested too deeply");

  // Duplicate keys are an error (RFC 8259 §4 leaves their meaning open; we refuse them).
  std::vector<std::set<std::string>> key_stack;
  std::string duplicate;
  json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: key_stack.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!key_stack.empty()) key_stack.pop_back();
        break;
      case json::parse_event_t::key:
        if (!key_stack.empty() && parsed.is_string()) {
          const auto& k = parsed.get_ref<const std::string&>();
          if (!key_stack.back().insert(k).second && duplicate.empty()) duplicate = k;
        }
        break;
      default: break;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  } catch (...) {  // allocation failure; the parser itself does not throw with exceptions off
    return fail("cannot parse event");
  }
  if (j.is_discarded()) return fail("not valid JSON (or trailing garbage)");
  if (!duplicate.empty()) return fail("duplicate key \"" + duplicate + "\"");
  if (!j.is_object()) return fail("event is not a JSON object");

  static const std::set<std::string> kKnown = {
      "version", "id",    "time_ms", "user",    "mailbox", "envelope_from", "header_from",
      "to",      "subject", "message_id", "size", "target", "title",        "message",
      "priority", "fields", "url",    "snippet"};
  for (const auto& item : j.items()) {
    if (!kKnown.contains(item.key())) return fail("unknown key \"" + item.key() + "\"");
  }

  Event e;
  std::string error;
  auto need = [&](const char* key) -> const json* {
    auto it = j.find(key);
    if (it == j.end()) {
      if (error.empty()) error = std::string("missing key \"") + key + "\"";
      return nullptr;
    }
    return &*it;
  };
  auto get_string = [&](const char* key, std::string& out) {
    const json* v = need(key);
    if (!v) return;
    if (!v->is_string()) {
      if (error.empty()) error = std::string("key \"") + key + "\" is not a string";
      return;
    }
    out = v->get_ref<const std::string&>();
  };

  if (const json* v = need("version")) {
    if (!v->is_number_integer()) {
      if (error.empty()) error = "key \"version\" is not an integer";
    } else if (v->get<long long>() != 1) {
      if (error.empty()) error = "unknown event version " + v->dump();
    }
  }
  get_string("id", e.id);
  if (const json* v = need("time_ms")) {
    if (!v->is_number_integer()) {
      if (error.empty()) error = "key \"time_ms\" is not an integer";
    } else if (v->is_number_unsigned() &&
               v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      if (error.empty()) error = "key \"time_ms\" is out of range";
    } else {
      e.time_ms = v->get<std::int64_t>();
      if (e.time_ms < 0 && error.empty()) error = "key \"time_ms\" is negative";
    }
  }
  get_string("user", e.user);
  get_string("mailbox", e.mailbox);
  get_string("envelope_from", e.envelope_from);
  get_string("header_from", e.header_from);
  get_string("to", e.to);
  get_string("subject", e.subject);
  get_string("message_id", e.message_id);
  if (const json* v = need("size")) {
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<long long>() >= 0)) {
      if (error.empty()) error = "key \"size\" is not a non-negative integer";
    } else {
      e.size = v->get<std::uint64_t>();
    }
  }
  get_string("target", e.target);
  get_string("title", e.title);
  get_string("message", e.message);
  std::string priority;
  get_string("priority", priority);
  if (error.empty()) {
    if (priority == "low") e.priority = Priority::low;
    else if (priority == "normal") e.priority = Priority::normal;
    else if (priority == "high") e.priority = Priority::high;
    else error = "key \"priority\" is not low, normal or high";
  }
  if (const json* v = need("fields")) {
    if (!v->is_array()) {
      if (error.empty()) error = "key \"fields\" is not an array";
    } else {
      for (const auto& f : *v) {
        if (!f.is_object() || f.size() != 2 || !f.contains("name") || !f.contains("value") ||
            !f["name"].is_string() || !f["value"].is_string()) {
          if (error.empty()) error = "each of \"fields\" must be {\"name\": string, \"value\": string}";
          break;
        }
        e.fields.emplace_back(f["name"].get<std::string>(), f["value"].get<std::string>());
      }
    }
  }
  for (const char* key : {"url", "snippet"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) {
      if (error.empty()) error = std::string("key \"") + key + "\" is not a string";
      continue;
    }
    (std::strcmp(key, "url") == 0 ? e.url : e.snippet) = it->get<std::string>();
  }
  if (error.empty() && !is_event_id(e.id)) error = "key \"id\" is not 32 lowercase hex characters";
  if (error.empty() && e.user.empty()) error = "key \"user\" is empty";
  if (error.empty() && e.target.empty()) error = "key \"target\" is empty";
  if (!error.empty()) return fail(error);
  result.event = std::move(e);
  return result;
}

std::string new_event_id() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  if (got < sizeof bytes) {  // getrandom cannot fail on Linux >= 3.17 short of EFAULT; be safe
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      while (got < sizeof bytes) {
        ssize_t n = ::read(fd, bytes + got, sizeof bytes - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
      ::close(fd);
    }
  }
  static const char hex[] = "0123456789abcdef";
  std::string id;
  id.reserve(32);
  for (unsigned char b : bytes) {
    id.push_back(hex[b >> 4]);
    id.push_back(hex[b & 15]);
  }
  return id;
}

std::string event_file_name(const Event& event) {
  return std::to_string(event.time_ms) + "-" + event.id + ".json";
}

namespace {

// "<digits>-<32 hex>.json": the id part of a spool file name, or empty.
std::string_view id_of_name(std::string_view name) {
  if (!name.ends_with(".json") || name.size() < 1 + 1 + 32 + 5) return {};
  std::string_view id = name.substr(name.size() - 5 - 32, 32);
  std::string_view time = name.substr(0, name.size() - 5 - 33);
  if (name[name.size() - 5 - 33] != '-' || time.empty() || !is_event_id(id)) return {};
  for (char c : time)
    if (c < '0' || c > '9') return {};
  return id;
}

bool fits_for_reuse(const struct stat& st) {
  return S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640 && st.st_uid == ::geteuid() && st.st_nlink == 1 &&
         st.st_size > 0 &&
         static_cast<std::size_t>(st.st_size) <= kRecycleMaxBytes;
}

// Takes a file from SPOOL/free/ for the event being written: renames it to TMP_PATH (rename is
// atomic, so two writers never get the same file) and returns it open for writing, or -1 (then
// the caller creates a file). Checks, each against a case written down in the README ("Reused
// event files"): only our own regular files, mode 0640, with one link (a file we could not write, or one
// that also has a name in new/ after a crash on a filesystem without a journal, is left alone),
// and the content must still carry the id the name says; a file failing that after the rename is
// renamed to tmp/.stale-NAME and never written (not unlinked: with a wrong link count after such a
// crash, unlinking could free a pending event's inode). Looks at a few entries only.
int take_recycled(const std::string& spool_dir, const std::string& tmp_path, const std::string& name) {
  const std::string free_dir = spool_dir + "/free";
  DIR* d = ::opendir(free_dir.c_str());
  if (d == nullptr) return -1;
  int fd = -1;
  int looked = 0;
  int set_aside = 0;
  while (dirent* ent = ::readdir(d)) {
    std::string_view entry = ent->d_name;
    if (entry.starts_with(".")) continue;
    if (++looked > 4) break;
    std::string_view id = id_of_name(entry);
    struct stat st {};
    if (id.empty() || ::fstatat(::dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !fits_for_reuse(st))
      continue;
    if (::renameat(::dirfd(d), ent->d_name, AT_FDCWD, tmp_path.c_str()) != 0) continue;  // taken by another
    int candidate = ::open(tmp_path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    bool good = candidate >= 0 && ::fstat(candidate, &st) == 0 && fits_for_reuse(st);
    if (good) {
      std::string old(static_cast<std::size_t>(st.st_size), '\0');
      good = ::pread(candidate, old.data(), old.size(), 0) == static_cast<ssize_t>(old.size()) &&
             old.find("\"id\":\"" + std::string(id) + "\"") != std::string::npos;
    }
    if (good) {
      fd = candidate;
      break;
    }
    if (candidate >= 0) ::close(candidate);
    // A second refused file in the same call gets its own name: renaming onto the first would
    // unlink it, which is what setting it aside avoids.
    std::string stale = spool_dir + "/tmp/.stale-" + name;
    if (++set_aside > 1) stale += "." + std::to_string(set_aside);
    (void)::rename(tmp_path.c_str(), stale.c_str());
  }
  ::closedir(d);
  return fd;
}

}  // namespace

bool prepare_event(const std::string& spool_dir, const Event& event, PreparedEvent& out, std::string& error) {
  if (!is_event_id(event.id)) {
    error = "event id is not 32 lowercase hex characters";
    return false;
  }
  std::string body;
  try {
    body = serialize(event);
  } catch (...) {
    error = "cannot serialise event";
    return false;
  }
  const std::string name = event_file_name(event);
  const std::string tmp_path = spool_dir + "/tmp/" + name;

  int fd = take_recycled(spool_dir, tmp_path, name);
  const bool reused = fd >= 0;
  if (!reused) {
    fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
      error = "open " + tmp_path + ": " + errno_text(errno);
      return false;
    }
  }
  if (!reused) (void)::fchmod(fd, 0640);  // umask may have removed bits; reused files are 0640
  if (!fdio::pwrite_all(fd, body.data(), body.size(), 0)) {
    error = "write " + tmp_path + ": " + errno_text(errno);
    ::close(fd);
    ::unlink(tmp_path.c_str());
    return false;
  }
  // A reused file may be longer than this event: cut it to the new length (within its first
  // block for events up to kRecycleMaxBytes, so nothing is freed or allocated).
  if (reused && ::ftruncate(fd, static_cast<off_t>(body.size())) != 0) {
    error = "truncate " + tmp_path + ": " + errno_text(errno);
    ::close(fd);
    ::unlink(tmp_path.c_str());
    return false;
  }
  out.fd = fd;
  out.synced = false;
  out.tmp_path = tmp_path;
  out.new_dir = spool_dir + "/new";
  out.new_path = out.new_dir + "/" + name;
  return true;
}

bool sync_prepared(PreparedEvent& p, std::string& error) {
  // complete_sync refuses an event without an open file; nothing is synced for one.
  return complete_sync(p, p.fd >= 0 && ::fsync(p.fd) != 0 ? errno : 0, error);
}

bool complete_sync(PreparedEvent& p, int fsync_errno, std::string& error) {
  if (p.fd < 0 || p.tmp_path.empty()) {
    error = "no prepared event file to sync";
    return false;
  }
  if (fsync_errno != 0) {
    error = "fsync " + p.tmp_path + ": " + errno_text(fsync_errno);
    discard_prepared(p);
    return false;
  }
  const int fd = p.fd;
  p.fd = -1;
  if (::close(fd) != 0) {
    error = "close " + p.tmp_path + ": " + errno_text(errno);
    discard_prepared(p);
    return false;
  }
  p.synced = true;
  return true;
}

bool publish_prepared(PreparedEvent& p, std::string& error) {
  if (!p.synced || p.tmp_path.empty()) {
    error = "event file not synced, not published";
    discard_prepared(p);
    return false;
  }
  if (::rename(p.tmp_path.c_str(), p.new_path.c_str()) != 0) {
    error = "rename " + p.tmp_path + " -> " + p.new_path + ": " + errno_text(errno);
    discard_prepared(p);
    return false;
  }
  p.tmp_path.clear();
  return true;
}

bool sync_new_dir(const std::string& new_dir, std::string& error) {
  int dfd = ::open(new_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    error = "fsync " + new_dir + ": " + errno_text(errno);
    if (dfd >= 0) ::close(dfd);
    return false;
  }
  ::close(dfd);
  return true;
}

void discard_prepared(PreparedEvent& p) {
  if (p.fd >= 0) ::close(p.fd);
  p.fd = -1;
  if (!p.tmp_path.empty()) ::unlink(p.tmp_path.c_str());
  p.tmp_path.clear();
  p.synced = false;
}

WriteResult write_event(const std::string& spool_dir, const Event& event) {
  WriteResult r;
  PreparedEvent p;
  if (!prepare_event(spool_dir, event, p, r.error) || !sync_prepared(p, r.error) ||
      !publish_prepared(p, r.error))
    return r;
  // From here the event is in new/ and will be sent; a failed fsync of new/ leaves only its
  // durability across a crash in doubt.
  r.ok = true;
  r.path = p.new_path;
  (void)sync_new_dir(p.new_dir, r.error);
  return r;
}

}  // namespace mailward::notify
