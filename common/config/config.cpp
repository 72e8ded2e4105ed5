#include "common/config/config.h"

#include <fstream>
#include <sstream>

#include "common/util/text.h"

namespace mailward::config {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || text::is_digit(c) || c == '_' || c == '-' || c == '.';
}

bool is_valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_name_char(c)) return false;
  return true;
}

[[noreturn]] void syntax_error(const std::string& file, int line, std::string_view problem) {
  throw ConfigError(file + ":" + std::to_string(line) + ": " + std::string(problem));
}

}  // namespace

std::string Entry::where() const {
  return file + ":" + std::to_string(line) + ": [" + section + "] " + key;
}

void Config::fail(const Entry& entry, std::string_view problem) {
  throw ConfigError(entry.where() + ": " + std::string(problem));
}

Config Config::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open configuration file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": error reading configuration file");
  return parse(buf.str(), path);
}

Config Config::parse(std::string_view text, std::string file_name) {
  Config cfg;
  cfg.file_ = file_name;
  std::string section;
  int line_no = 0;
  for (std::string_view raw : text::split(text, '\n')) {
    ++line_no;
    std::string_view line = text::trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') syntax_error(file_name, line_no, "section header must end with ']'");
      std::string_view name = text::trim(line.substr(1, line.size() - 2));
      // "[dkim-key example.com]" style: a kind and an argument separated by one space.
      std::string normalized;
      for (std::string_view part : text::split_list(name)) {
        if (!normalized.empty()) normalized.push_back(' ');
        normalized.append(part);
      }
      std::string_view kind = std::string_view(normalized).substr(0, normalized.find(' '));
      if (!is_valid_name(kind))
        syntax_error(file_name, line_no,
                     "bad section name '" + std::string(name) +
                         "' (lowercase letters, digits, '_', '-', '.')");
      section = normalized;
      cfg.section_lines_.emplace(section, line_no);
      continue;
    }
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      syntax_error(file_name, line_no, "expected 'key = value', got '" + std::string(line) + "'");
    std::string_view key = text::trim(line.substr(0, eq));
    std::string_view value = text::trim(line.substr(eq + 1));
    if (!is_valid_name(key))
      syntax_error(file_name, line_no,
                   "bad key '" + std::string(key) + "' (lowercase letters, digits, '_', '-', '.')");
    if (section.empty())
      syntax_error(file_name, line_no, "key '" + std::string(key) + "' appears before any [section]");
    if (value.size() >= 2 && value.front() == '"') {
      if (value.back() != '"')
        syntax_error(file_name, line_no, "unterminated quoted value for '" + std::string(key) + "'");
      value = value.substr(1, value.size() - 2);
    }
    cfg.entries_.push_back(
        Entry{section, std::string(key), std::string(value), file_name, line_no});
  }
  return cfg;
}

bool Config::has(std::string_view section, std::string_view key) const {
  return find(section, key) != nullptr;
}

const Entry* Config::find(std::string_view section, std::string_view key) const {
  const Entry* found = nullptr;
  for (const Entry& e : entries_)
    if (e.section == section && e.key == key) found = &e;
  return found;
}

std::vector<const Entry*> Config::find_all(std::string_view section, std::string_view key) const {
  std::vector<const Entry*> out;
  for (const Entry& e : entries_)
    if (e.section == section && e.key == key) out.push_back(&e);
  return out;
}

bool Config::has_section(std::string_view section) const {
  return section_lines_.find(section) != section_lines_.end();
}

std::vector<std::string> Config::sections_with_prefix(std::string_view prefix) const {
  std::vector<std::string> out;
  for (const auto& [name, line] : section_lines_)
    if (name.starts_with(prefix)) out.push_back(name);
  return out;
}

std::string Config::get_string(std::string_view section, std::string_view key,
                               std::string_view fallback) const {
  const Entry* e = find(section, key);
  return e ? e->value : std::string(fallback);
}

long long Config::get_int(std::string_view section, std::string_view key, long long fallback,
                          long long min, long long max) const {
  const Entry* e = find(section, key);
  if (!e) return fallback;
  std::string_view v = e->value;
  bool negative = !v.empty() && v.front() == '-';
  if (negative) v.remove_prefix(1);
  unsigned long long magnitude = 0;
  if (!text::parse_uint(v, 1ULL << 62, magnitude))
    fail(*e, "'" + e->value + "' is not a whole number");
  long long value = negative ? -static_cast<long long>(magnitude) : static_cast<long long>(magnitude);
  if (value < min || value > max)
    fail(*e, std::to_string(value) + " is out of range (" + std::to_string(min) + ".." +
                 std::to_string(max) + ")");
  return value;
}

bool Config::get_bool(std::string_view section, std::string_view key, bool fallback) const {
  const Entry* e = find(section, key);
  if (!e) return fallback;
  std::string v = text::to_lower(e->value);
  if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
  if (v == "no" || v == "false" || v == "off" || v == "0") return false;
  fail(*e, "'" + e->value + "' is not yes or no");
}

std::chrono::milliseconds Config::get_duration(std::string_view section, std::string_view key,
                                               std::chrono::milliseconds fallback) const {
  const Entry* e = find(section, key);
  if (!e) return fallback;
  std::string_view v = e->value;
  std::size_t digits = 0;
  while (digits < v.size() && text::is_digit(v[digits])) ++digits;
  unsigned long long n = 0;
  if (!text::parse_uint(v.substr(0, digits), 1ULL << 40, n))
    fail(*e, "'" + e->value + "' is not a duration (e.g. 5s, 250ms, 2m, 1h, 1d)");
  std::string_view unit = v.substr(digits);
  unsigned long long ms_per_unit = 0;
  if (unit.empty() || unit == "s") ms_per_unit = 1000;
  else if (unit == "ms") ms_per_unit = 1;
  else if (unit == "m") ms_per_unit = 60'000;
  else if (unit == "h") ms_per_unit = 3'600'000;
  else if (unit == "d") ms_per_unit = 86'400'000;
  else fail(*e, "unknown unit '" + std::string(unit) + "' (use ms, s, m, h or d)");
  return std::chrono::milliseconds(static_cast<long long>(n * ms_per_unit));
}

std::vector<std::string> Config::get_list(std::string_view section, std::string_view key,
                                          const std::vector<std::string>& fallback) const {
  auto all = find_all(section, key);
  if (all.empty()) return fallback;
  std::vector<std::string> out;
  for (const Entry* e : all)
    for (std::string_view item : text::split_list(e->value)) out.emplace_back(item);
  return out;
}

std::string Config::get_choice(std::string_view section, std::string_view key,
                               std::string_view fallback,
                               const std::vector<std::string_view>& allowed) const {
  const Entry* e = find(section, key);
  if (!e) return std::string(fallback);
  for (std::string_view a : allowed)
    if (e->value == a) return e->value;
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  fail(*e, "'" + e->value + "' is not one of: " + list);
}

void Config::require_known_keys(std::string_view section,
                                const std::set<std::string, std::less<>>& known) const {
  for (const Entry& e : entries_)
    if (e.section == section && !known.contains(e.key)) fail(e, "unknown key");
}

void Config::require_known_sections(const std::vector<std::string_view>& known_names,
                                    const std::vector<std::string_view>& known_prefixes) const {
  for (const auto& [name, line] : section_lines_) {
    bool ok = false;
    for (std::string_view k : known_names) ok = ok || name == k;
    for (std::string_view p : known_prefixes) ok = ok || name.starts_with(p);
    if (!ok)
      throw ConfigError(file_ + ":" + std::to_string(line) + ": unknown section [" + name + "]");
  }
}

}  // namespace mailward::config
