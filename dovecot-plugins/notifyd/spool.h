// The spool as mailward-notifyd keeps it (layout in README.md, "Spool layout"):
//   SPOOL/tmp/          being written by the Sieve plugin (never read here)
//   SPOOL/new/NAME      events waiting to be sent (the plugin renames them in)
//   SPOOL/state/NAME    retry state of NAME after a failed attempt: "attempts=N\nnext_ms=T\n
//                       last_error=TEXT\n", replaced atomically (write, fsync, rename)
//   SPOOL/dead/NAME     given-up events, beside SPOOL/dead/NAME.error (the same three lines)
//   SPOOL/free/NAME     sent events' files handed back for reuse by the writer (event.h,
//                       write_event), at most recycle_limit() of them
//   SPOOL/slots/UID-K   event slots (common/notify/slot.h): ready ones are sent and freed; one
//                       that has to wait for a retry is copied into new/ first
// An event is deleted only after a 2xx; a restart reads new/ and state/ and resumes.
#pragma once

#include <cstddef>
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
  std::string free_dir() const { return root_ + "/free"; }
  std::string slots_dir() const { return root_ + "/slots"; }

  // Creates missing directories: SPOOL, state/, dead/ 0750; tmp/, new/, free/, slots/ 02770
  // (shared with the Sieve plugin through the group). False + error on failure.
  bool ensure(std::string& error) const;
  // Names of events in new/ ("*.json"), sorted (so oldest first: names start with time_ms).
  std::vector<std::string> list_new() const;
  // Names in slots/ that are slot names (notify::is_slot_name), sorted.
  std::vector<std::string> list_slots() const;
  // Removes the slots nobody has used for notify::kSlotIdleSeconds (notify::remove_idle_slot);
  // returns how many.
  std::size_t remove_idle_slots(std::int64_t now_s) const;
  std::optional<std::string> read_event(const std::string& name, std::string& error) const;
  std::optional<RetryState> read_state(const std::string& name) const;
  bool write_state(const std::string& name, const RetryState& state, std::string& error) const;
  // After a 2xx: removes new/NAME and (when `has_state`) state/NAME. new/NAME is renamed into
  // free/ for the writer to reuse instead of being unlinked when EVENT_BYTES (the file's size)
  // is at most notify::kRecycleMaxBytes and free/ holds fewer than recycle_limit() files: the
  // count is kept as an upper estimate (writers take files without telling) and free/ is listed
  // again only when the estimate reaches the limit; when it is really full (writers of another
  // uid cannot reuse these files), the next recycle_limit() sent files are unlinked before it is
  // listed again.
  void remove_delivered(const std::string& name, bool has_state = true,
                        std::size_t event_bytes = static_cast<std::size_t>(-1)) const;
  // 0: never recycle (unlink every sent file). Default 64.
  void set_recycle_limit(std::size_t limit) {
    recycle_limit_ = limit;
    free_estimate_ = limit;
    skip_ = 0;
  }
  std::size_t recycle_limit() const { return recycle_limit_; }
  // Moves new/NAME to dead/NAME with dead/NAME.error; removes state/NAME.
  bool dead_letter(const std::string& name, const RetryState& state, std::string& error) const;
  // Writes CONTENT as dead/NAME with dead/NAME.error (a slot whose content is not an event).
  bool dead_letter_content(const std::string& name, const std::string& content, const RetryState& state,
                           std::string& error) const;

  struct Entry {
    std::string name;
    bool dead = false;
    std::string id, target, user;
    std::int64_t time_ms = 0;
    RetryState state;
    std::string problem;  // event unreadable
  };
  // Every pending (new/, then ready slots named "slots/UID-K") then dead (dead/) event, each
  // sorted by name.
  std::vector<Entry> list_queue() const;

 private:
  bool recycle_slot_free() const;
  std::string root_;
  std::size_t recycle_limit_ = 64;
  mutable std::size_t free_estimate_ = 64;  // >= files in free/ (listed again at the limit)
  mutable std::size_t skip_ = 0;             // sent files still to unlink after free/ was full
};

std::string format_state(const RetryState& s);
std::optional<RetryState> parse_state(const std::string& text);

}  // namespace mailward::notifyd
