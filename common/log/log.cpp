#include "common/log/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace mailward::log {

namespace {

std::mutex g_mutex;
Settings g_settings;
std::FILE* g_file = nullptr;
std::atomic<int> g_min_level{static_cast<int>(Level::info)};

std::string_view level_word(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
    case Level::fatal: return "fatal";
  }
  return "info";
}

int syslog_priority(Level level) {
  switch (level) {
    case Level::debug: return LOG_DEBUG;
    case Level::info: return LOG_INFO;
    case Level::warning: return LOG_WARNING;
    case Level::error: return LOG_ERR;
    case Level::fatal: return LOG_CRIT;
  }
  return LOG_INFO;
}

}  // namespace

void init(const Settings& settings) {
  std::lock_guard lock(g_mutex);
  if (g_file) {
    std::fclose(g_file);
    g_file = nullptr;
  }
  if (g_settings.destination == Destination::syslog) closelog();
  g_settings = settings;
  if (settings.destination == Destination::file) {
    g_file = std::fopen(settings.file_path.c_str(), "a");
    if (!g_file) throw std::runtime_error("cannot open log file " + settings.file_path);
    std::setvbuf(g_file, nullptr, _IOLBF, 0);
  } else if (settings.destination == Destination::syslog) {
    openlog(g_settings.ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
  }
  g_min_level = static_cast<int>(settings.min_level);
}

Destination parse_destination(std::string_view text, std::string& file_path_out) {
  if (text == "syslog") return Destination::syslog;
  if (text == "stderr") return Destination::stderr_stream;
  if (!text.empty() && text.front() == '/') {
    file_path_out = std::string(text);
    return Destination::file;
  }
  throw std::invalid_argument("log destination must be syslog, stderr or an absolute path");
}

bool parse_level(std::string_view text, Level& out) {
  for (Level l : {Level::debug, Level::info, Level::warning, Level::error}) {
    if (text == level_word(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

bool enabled(Level level) noexcept { return static_cast<int>(level) >= g_min_level.load(); }

void write(Level level, std::string_view queue_id, std::string_view message) noexcept {
  if (!enabled(level)) return;
  try {
    std::string line;
    line.reserve(queue_id.size() + message.size() + 16);
    if (level != Level::info) {
      line.append(level_word(level));
      line.append(": ");
    }
    if (!queue_id.empty()) {
      line.append(queue_id);
      line.append(": ");
    }
    // One log line per call: control characters from hostile input never split or forge lines.
    for (char c : message) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        static const char hex[] = "0123456789abcdef";
        line.append("\\x");
        line.push_back(hex[u >> 4]);
        line.push_back(hex[u & 0xf]);
      } else {
        line.push_back(c);
      }
    }
    std::lock_guard lock(g_mutex);
    if (g_settings.destination == Destination::syslog) {
      syslog(syslog_priority(level), "%s", line.c_str());
      return;
    }
    std::FILE* out = g_file ? g_file : stderr;
    char stamp[32] = "";
    std::time_t now = std::time(nullptr);
    std::tm tm_buf{};
    if (localtime_r(&now, &tm_buf)) std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm_buf);
    std::fprintf(out, "%s %s[%d]: %s\n", stamp, g_settings.ident.c_str(),
                 static_cast<int>(getpid()), line.c_str());
  } catch (...) {
    // Logging must never take a daemon down; an allocation failure here loses one line.
  }
}

}  // namespace mailward::log
