// mailward's configuration file: one file for every part, read at start-up.
//
// Format (documented for operators in README.md, "Configuration reference"):
//   # comment
//   [section]
//   key = value
// Keys and section names are lowercase ASCII, digits, '_', '-' and '.'. A value runs to the end of
// the line (surrounding spaces trimmed; "double quotes" keep spaces). A key may be repeated where the
// part that reads it says so (for example `key` lines in [dkim-sign]).
//
// Every error names the file, the line and the key: "mailward.conf:12: [milter] fail_mode: ...".
// Loading never starts anything: `mailward config check` and `mailward-milter --check` use the same
// code to validate a file. Readers mark what they read; unknown keys are errors, so a typo never
// silently switches a check off.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mailward::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Entry {
  std::string section;
  std::string key;
  std::string value;
  std::string file;
  int line = 0;
  // "FILE:LINE: [section] key" — the prefix of every message about this entry.
  std::string where() const;
};

class Config {
 public:
  // Throws ConfigError naming file and line on a syntax error or an unreadable file.
  static Config load_file(const std::string& path);
  static Config parse(std::string_view text, std::string file_name);

  bool has(std::string_view section, std::string_view key) const;
  // The last value given for the key, or nullptr.
  const Entry* find(std::string_view section, std::string_view key) const;
  // Every value given for the key, in file order.
  std::vector<const Entry*> find_all(std::string_view section, std::string_view key) const;
  bool has_section(std::string_view section) const;
  // Sections whose name starts with `prefix` (e.g. every "[dkim-key ...]").
  std::vector<std::string> sections_with_prefix(std::string_view prefix) const;

  // Typed readers. Each throws ConfigError with the entry's where() on a bad value.
  std::string get_string(std::string_view section, std::string_view key,
                         std::string_view fallback) const;
  long long get_int(std::string_view section, std::string_view key, long long fallback,
                    long long min, long long max) const;
  bool get_bool(std::string_view section, std::string_view key, bool fallback) const;
  // Accepts "5", "5s", "250ms", "2m", "1h", "1d".
  std::chrono::milliseconds get_duration(std::string_view section, std::string_view key,
                                         std::chrono::milliseconds fallback) const;
  // Comma- or space-separated list; repeated keys add to it.
  std::vector<std::string> get_list(std::string_view section, std::string_view key,
                                    const std::vector<std::string>& fallback) const;
  // One of `allowed`; the error lists them.
  std::string get_choice(std::string_view section, std::string_view key,
                         std::string_view fallback,
                         const std::vector<std::string_view>& allowed) const;

  // Throws ConfigError for the first key in `section` not in `known` (so typos are caught).
  void require_known_keys(std::string_view section,
                          const std::set<std::string, std::less<>>& known) const;
  // Throws ConfigError for the first section not in `known` and not starting with a known prefix.
  void require_known_sections(const std::vector<std::string_view>& known_names,
                              const std::vector<std::string_view>& known_prefixes) const;

  const std::vector<Entry>& entries() const noexcept { return entries_; }
  const std::string& file() const noexcept { return file_; }

  [[noreturn]] static void fail(const Entry& entry, std::string_view problem);

 private:
  std::string file_;
  std::vector<Entry> entries_;
  std::map<std::string, int, std::less<>> section_lines_;
};

}  // namespace mailward::config
