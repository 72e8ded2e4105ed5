// Sender ownership table parsing and lookup (see sender_map.h).
#include "policy/checks/sender_map.h"

#include <fstream>
#include <sstream>

#include "common/util/text.h"

namespace mailward::policy {

bool SenderMap::parse(std::string_view input, const std::string& file_name, SenderMap& out,
                      std::string& error) {
  SenderMap map;
  // Join continuation lines first, remembering where each logical line started.
  std::vector<std::pair<int, std::string>> logical;
  int number = 0;
  for (std::string_view raw : text::split(input, '\n')) {
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string_view t = text::trim(raw);
    if (t.empty() || t.front() == '#') continue;
    if (text::is_space_or_tab(raw.front())) {
      if (logical.empty()) {
        error = file_name + ":" + std::to_string(number) + ": continuation line without a key";
        return false;
      }
      logical.back().second += ' ';
      logical.back().second += t;
      continue;
    }
    logical.emplace_back(number, std::string(t));
  }
  for (const auto& [line, content] : logical) {
    std::vector<std::string_view> words = text::split_list(content);
    std::string where = file_name + ":" + std::to_string(line) + ": ";
    if (words.size() < 2) {
      error = where + "expected \"ADDRESS OWNER[, OWNER...]\"";
      return false;
    }
    std::string key = text::to_lower(words[0]);
    std::size_t at = key.find('@');
    if (at == std::string::npos || at + 1 == key.size() || key.find('@', at + 1) != std::string::npos) {
      error = where + "key '" + std::string(words[0]) + "' is not an address or @domain";
      return false;
    }
    std::vector<std::string>& owners = map.owners_[key];
    for (std::size_t i = 1; i < words.size(); ++i) owners.push_back(text::to_lower(words[i]));
  }
  out = std::move(map);
  return true;
}

bool SenderMap::load_file(const std::string& path, SenderMap& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read sender map " + path;
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, out, error);
}

bool SenderMap::owns(std::string_view user, std::string_view sender, char delimiter) const {
  std::string address = text::to_lower(sender);
  std::size_t at = address.rfind('@');
  if (at == std::string::npos || at == 0) return false;
  if (delimiter != '\0') {
    std::size_t d = address.find(delimiter);
    if (d != std::string::npos && d < at) {
      address.erase(d, at - d);
      at = d;
    }
  }
  auto listed = [&](const std::string& key) {
    auto it = owners_.find(key);
    if (it == owners_.end()) return false;
    for (const std::string& o : it->second)
      if (text::iequals(o, user)) return true;
    return false;
  };
  return listed(address) || listed(address.substr(at));
}

}  // namespace mailward::policy
