// Event slots: the fast way for the Sieve plugin to hand an event to mailward-notifyd.
//
// A slot is a file of fixed size, SPOOL/slots/<uid>-<k>, that lives for good once created: the
// writer overwrites it in place and makes it durable with one fdatasync. Overwriting blocks that
// are already allocated changes no metadata (same size, same blocks), so that fdatasync is one data
// write and one cache flush, without the journal commits that creating, renaming and fsyncing a
// directory cost (bench/notify/README.md: 0.3 ms and 0.05 ms of CPU per event against 1.7 ms and
// 0.18 ms on this machine's journaled ext4).
//
// Layout (kSlotHeaderBytes of header, then the event's JSON, exactly as serialize() wrote it):
//   0   8  magic "mwslot1\n"
//   8   1  state: 'P' prepared (written and being synced during Sieve's execute phase, not yet
//          committed), 'R' ready (committed; notifyd has not finished with it), 'F' free
//   12  4  length of the JSON, little endian
//   16  4  CRC-32 (IEEE) over bytes 12..15 and the JSON: a record torn by a crash is never read
//          as an event
//   32  .  the JSON
//
// Who does what (dovecot-plugins/notifyd/README.md, "Event slots"):
//   writer   (one Dovecot delivery process; several may run as the same uid) claims a free slot of
//            its own uid under an exclusive flock and, in Sieve's execute phase, writes the
//            prepared record and starts its fdatasync, which overlaps with Dovecot storing the
//            message. At commit it flips the state byte to 'R' (not synced by itself); after a
//            rollback to 'F'. It closes the slot only once the fdatasync is done, before the
//            delivery is answered. Only slots in state 'F' (or never written) are taken, so a
//            prepared or ready event is never overwritten.
//   notifyd  reads slots nobody holds locked (inotify IN_CLOSE_WRITE on slots/ and its periodic
//            rescan), sends a ready event and writes 'F' back at offset 8 (no sync: after a crash
//            the event is sent again, which the idempotency key covers). An event that has to
//            wait for a retry is first copied into new/ as an event file, and the slot freed.
//            A prepared slot that nobody holds is sent too: after a machine crash the disk may
//            hold 'P' for a delivery that was answered (the flip to 'R' was not synced), so
//            such an event counts as committed; the price is a notification for a delivery that
//            was rolled back or died, which Postfix then delivers again (at least once, never
//            lost).
// Events larger than a slot, or a writer that finds no free slot, use the event files (event.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailward::notify {

inline constexpr std::size_t kSlotHeaderBytes = 32;
inline constexpr std::size_t kSlotFileBytes = 16384;
inline constexpr std::size_t kSlotCapacity = kSlotFileBytes - kSlotHeaderBytes;  // JSON bytes
inline constexpr unsigned kSlotsPerUid = 64;
inline constexpr std::size_t kSlotStateOffset = 8;

std::uint32_t crc32(std::string_view bytes);

// Pure record format.
std::string encode_ready_slot(std::string_view json);     // header + JSON; JSON <= kSlotCapacity
std::string encode_prepared_slot(std::string_view json);  // the same in state 'P'
enum class SlotState { free, prepared, ready, invalid };
struct SlotRecord {
  SlotState state = SlotState::invalid;
  std::string_view json;  // the event when prepared or ready (points into the bytes given)
  std::string error;      // when invalid: why ("bad magic", "checksum mismatch", ...)
};
// BYTES: the slot's content from offset 0 (at least the header; the JSON may be followed by the
// rest of the file). A never-written slot (all zero) is free. Never throws.
SlotRecord parse_slot(std::string_view bytes);

// "<uid>-<k>" with k < kSlotsPerUid: a slot's file name, and the check notifyd applies to names
// it finds in slots/.
std::string slot_name(unsigned uid, unsigned k);
bool is_slot_name(std::string_view name);

// The writer's side. A claimed slot is open and exclusively locked until release_slot.
struct SlotClaim {
  int fd = -1;
  std::string path;
  bool written = false;    // fill_slot wrote a record
  bool committed = false;  // mark_slot_ready flipped it to 'R'
};
// Claims a free slot of this process's effective uid in SPOOL/slots/, creating one (filled to
// kSlotFileBytes, fsynced with its directory) when all existing ones are busy and fewer than
// kSlotsPerUid exist. Returns false when none can be had (no slots/ directory, all busy, an
// error); the caller then writes an event file instead, and this process does not look at its
// slots again for a second after finding them all busy. Never throws.
bool claim_slot(const std::string& spool_dir, SlotClaim& out, std::string& error);
// Writes the prepared record of JSON at offset 0 (not synced: the caller runs fdatasync on
// claim.fd, synchronously or through AIO, and waits for it before the delivery is answered).
bool fill_slot(SlotClaim& claim, std::string_view json, std::string& error);
// Commit: the state byte to 'R' (one byte, in the block fill_slot wrote and the fdatasync syncs
// or has synced; see above for why it needs no sync of its own).
bool mark_slot_ready(SlotClaim& claim, std::string& error);
// Closes the slot (which drops the lock); a written record that was not committed is marked free
// first. Safe to call twice.
void release_slot(SlotClaim& claim);
// claim_slot, fill_slot, fdatasync, mark_slot_ready, release_slot: durable on true. For tests and
// the benchmark.
bool write_event_to_slot(const std::string& spool_dir, std::string_view json, std::string& path,
                         std::string& error);

// notifyd's side.
struct SlotRead {
  bool opened = false;  // false: the file is gone or unreadable (error says why)
  bool busy = false;    // a writer holds the slot's lock: its close will be reported again
  bool not_a_slot_file = false;  // wrong type, size, link count or owner: never trusted
  SlotState state = SlotState::invalid;
  std::string json;     // the event when prepared or ready
  std::string error;    // why not opened, or why invalid
};
SlotRead read_slot(const std::string& path);
// Marks the slot free (state 'F' at kSlotStateOffset). Not synced.
bool free_slot(const std::string& path, std::string& error);
// Slots are never removed by writers; notifyd removes a free slot nobody has written for
// kSlotIdleSeconds (its mtime), under an exclusive lock, so that a server with many mail-user uids
// keeps slots only for the users who get notifications. A writer that opened the file before
// the unlink finds it with no link and takes another. True when the slot was removed.
inline constexpr long kSlotIdleSeconds = 86400;
bool remove_idle_slot(const std::string& path, std::int64_t now_s);

}  // namespace mailward::notify
