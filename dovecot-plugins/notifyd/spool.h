// The spool as mailward-notifyd keeps it (layout in README.md, "Spool layout"):
//   SPOOL/tmp/          being written by the Sieve plugin (never read here)
//   SPOOL/new/NAME      events waiting to be sent (the plugin renames them in)
//   SPOOL/state/NAME    retry state of NAME after a failed attempt: "attempts=N\nnext_ms=T\n
//                       last_error=TEXT\n", replaced atomically (write, fsync, rename)
//   SPOOL/dead/NAME     given-up events, beside SPOOL/dead/NAME.error (the same three lines)
// An event is deleted only after a 2xx; a restart reads new/ and state/ and resumes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mailward::notifyd {

struct RetryState {
  unsigned attempts = 0;
  std::int64_t next_ms = 0;
  std::string last_error;
};

class Spool {
 public:
  explicit Spool(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  std::string new_dir() const { return root_ + "/new"; }
  std::string state_dir() const { return root_ + "/state"; }
  std::string dead_dir() const { return root_ + "/dead"; }

  // Creates missing directories: SPOOL, state/, dead/ 0750; tmp/, new/ 02770 (shared with the
  // Sieve plugin through the group). False + error on failure.
  bool ensure(std::string& error) const;
  // Names of events in new/ ("*.json"), sorted (so oldest first: names start with time_ms).
  std::vector<std::string> list_new() const;
  std::optional<std::string> read_event(const std::string& name, std::string& error) const;
  std::optional<RetryState> read_state(const std::string& name) const;
  bool write_state(const std::string& name, const RetryState& state, std::string& error) const;
  // After a 2xx: removes new/NAME and (when `has_state`) state/NAME.
  void remove_delivered(const std::string& name, bool has_state = true) const;
  // Moves new/NAME to dead/NAME with dead/NAME.error; removes state/NAME.
  bool dead_letter(const std::string& name, const RetryState& state, std::string& error) const;

  struct Entry {
    std::string name;
    bool dead = false;
    std::string id, target, user;
    std::int64_t time_ms = 0;
    RetryState state;
    std::string problem;  // event unreadable
  };
  // Every pending (new/) then dead (dead/) event, each sorted by name.
  std::vector<Entry> list_queue() const;

 private:
  std::string root_;
};

std::string format_state(const RetryState& s);
std::optional<RetryState> parse_state(const std::string& text);

}  // namespace mailward::notifyd
