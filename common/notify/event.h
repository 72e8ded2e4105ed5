// A notification event: what the Sieve extension vnd.mailward.webhook records at delivery and
// mailward-notifyd sends. One event is one JSON file in the spool (format documented in
// dovecot-plugins/notifyd/README.md); the writer makes it durable before delivery completes.
//
// Spool layout (created by the package / the daemon, see README):
//   SPOOL/tmp/   files being written (never read by notifyd)
//   SPOOL/new/   complete events, one file per event, named "<time_ms>-<id>.json"
//   SPOOL/dead/  events given up on, with the last error
//   SPOOL/free/  files of sent events that notifyd hands back for reuse (see write_event)
// notifyd keeps its retry state outside the event files (see dovecot-plugins/notifyd/README.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailward::notify {

enum class Priority { low, normal, high };
std::string_view to_string(Priority p);

struct Event {
  int version = 1;
  std::string id;               // 32 lowercase hex chars, random; also the idempotency key
  std::int64_t time_ms = 0;     // Unix time of delivery, milliseconds
  std::string user;             // Dovecot user the message was delivered to
  std::string mailbox;          // mailbox the message went to ("INBOX", "Junk", ...)
  std::string envelope_from;
  std::string header_from;
  std::string to;
  std::string subject;          // decoded to UTF-8 where the writer could, else raw
  std::string message_id;
  std::uint64_t size = 0;       // message size in bytes
  std::string target;           // administrator-configured target name
  std::string title;
  std::string message;
  Priority priority = Priority::normal;
  std::vector<std::pair<std::string, std::string>> fields;  // :field NAME VALUE, in script order
  std::optional<std::string> url;      // webhook :url, only when the target allows user URLs
  std::optional<std::string> snippet;  // body excerpt, only when the target asks for one
};

// JSON object, UTF-8; invalid UTF-8 in any string is replaced by U+FFFD (never rejected).
std::string serialize(const Event& event);

struct ParseResult {
  std::optional<Event> event;
  std::string error;  // when !event: what is wrong, for the log ("missing key \"target\"")
};
// Strict: unknown version, a missing required key, a wrong type or trailing garbage is an error.
// Bounded: a file over 1 MiB is refused. Never throws.
ParseResult parse_event(std::string_view json);

struct WriteResult {
  bool ok = false;
  std::string path;   // the file in SPOOL/new on success
  std::string error;  // errno text and the path on failure
};
// Writes SPOOL/tmp/NAME (mode 0640), fsyncs it, renames it to SPOOL/new/NAME and fsyncs new/.
// The file is a sent event's file taken from SPOOL/free/ when one fits (same owner, one link, at
// most kRecycleMaxBytes, and its content still carries the id its name says): taken by rename into
// tmp/, overwritten from offset 0 and truncated to the new length. Otherwise a new file is created.
// Reusing the inode saves the allocation (ext4 without a journal scans past every inode freed in
// the last seconds) and notifyd's unlink (bench/notify/README.md). Durability is the same either
// way: the event reaches new/ only after its own bytes are fsynced.
// Never throws. If only the final fsync of new/ fails, ok is true (the event is in new/) and
// error says what failed.
WriteResult write_event(const std::string& spool_dir, const Event& event);

// write_event in its steps, for a writer that overlaps the two fsyncs with other work: the Sieve
// plugin prepares the file during Sieve's execute phase and publishes it at commit, running the
// fsyncs asynchronously (dovecot-plugins/sieve-webhook/README.md, "Overlapped fsyncs").
// write_event is exactly prepare_event, sync_prepared, publish_prepared, sync_new_dir. The order
// and the guarantee are the same: the file's bytes are fsynced before it is renamed into new/,
// and new/ is fsynced before the delivery is answered; until publish_prepared, notifyd never sees
// the event.
struct PreparedEvent {
  int fd = -1;           // the written tmp/ file, open until sync_prepared
  bool synced = false;   // sync_prepared succeeded
  std::string tmp_path;  // SPOOL/tmp/NAME (empty after publish or discard)
  std::string new_path;  // SPOOL/new/NAME
  std::string new_dir;   // SPOOL/new
};
// Writes the event into SPOOL/tmp/NAME (a recycled file when one fits, as write_event). Nothing
// is left in tmp/ on failure. Never throws.
bool prepare_event(const std::string& spool_dir, const Event& event, PreparedEvent& out, std::string& error);
// fsync and close of the tmp/ file; on failure the file is removed.
bool sync_prepared(PreparedEvent& prepared, std::string& error);
// The same after the caller ran the fsync itself (asynchronously): FSYNC_ERRNO is 0 or its errno.
bool complete_sync(PreparedEvent& prepared, int fsync_errno, std::string& error);
// Renames the synced file into new/, where notifyd takes it. Refuses a file that is not synced.
// On failure the tmp/ file is removed.
bool publish_prepared(PreparedEvent& prepared, std::string& error);
// fsync of SPOOL/new (NEW_DIR), which makes the rename durable.
bool sync_new_dir(const std::string& new_dir, std::string& error);
// Removes the tmp/ file of an event that is not to be published (closing it if still open).
void discard_prepared(PreparedEvent& prepared);

// Sent event files larger than this are not reused (notifyd unlinks them).
inline constexpr std::size_t kRecycleMaxBytes = 16384;

// 32 lowercase hex characters from the OS random source.
std::string new_event_id();

// Added for notifyd: the spool file name "<time_ms>-<id>.json", and the id syntax check (ids are
// used in file names, so nothing else is accepted).
std::string event_file_name(const Event& event);
bool is_event_id(std::string_view id);

}  // namespace mailward::notify
