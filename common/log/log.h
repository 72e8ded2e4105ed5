// Logging for every mailward daemon and tool.
//
// Destinations: syslog (facility mail, the default for daemons), stderr, or a file (there is no
// syslog daemon on every machine; DESIGN.md). Lines about one message carry Postfix's queue id
// first, as Postfix's own lines do: "4XyZ1234: spf=pass ...", so `grep QUEUEID mail.log` shows
// everything about a message.
//
// Severities (Postfix's meaning): debug, info, warning (something odd, handled), error (a
// recoverable failure: this message or this request failed), fatal (bad configuration at
// start-up; the caller exits). Thread-safe; one write per line.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace mailward::log {

enum class Level { debug, info, warning, error, fatal };

enum class Destination { syslog, stderr_stream, file };

struct Settings {
  Destination destination = Destination::stderr_stream;
  std::string ident = "mailward";  // program name in each line
  std::string file_path;           // for Destination::file
  Level min_level = Level::info;
};

// Replaces the current settings. Throws std::runtime_error when a log file cannot be opened.
void init(const Settings& settings);
// "syslog", "stderr" or a path beginning with '/'.
Destination parse_destination(std::string_view text, std::string& file_path_out);
bool parse_level(std::string_view text, Level& out);
bool enabled(Level level) noexcept;

void write(Level level, std::string_view queue_id, std::string_view message) noexcept;

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// log::info("listening on ", path);  log::for_message(Level::info, qid, "dmarc=", result);
template <typename... Parts>
void debug(const Parts&... parts) {
  if (enabled(Level::debug)) write(Level::debug, {}, detail::concat(parts...));
}
template <typename... Parts>
void info(const Parts&... parts) {
  if (enabled(Level::info)) write(Level::info, {}, detail::concat(parts...));
}
template <typename... Parts>
void warning(const Parts&... parts) {
  write(Level::warning, {}, detail::concat(parts...));
}
template <typename... Parts>
void error(const Parts&... parts) {
  write(Level::error, {}, detail::concat(parts...));
}
template <typename... Parts>
void fatal(const Parts&... parts) {
  write(Level::fatal, {}, detail::concat(parts...));
}
template <typename... Parts>
void for_message(Level level, std::string_view queue_id, const Parts&... parts) {
  if (enabled(level)) write(level, queue_id, detail::concat(parts...));
}

}  // namespace mailward::log
