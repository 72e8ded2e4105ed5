// Event slots (slot.h): record format, the writer's claim and fill, notifyd's read and free.
#include "common/notify/slot.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/util/fd_io.h"

namespace mailward::notify {

using fdio::pread_full;
using fdio::pwrite_all;

namespace {

constexpr char kMagic[8] = {'m', 'w', 's', 'l', 'o', 't', '1', '\n'};
constexpr char kPrepared = 'P';
constexpr char kReady = 'R';
constexpr char kFree = 'F';

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

std::uint32_t crc32_update(std::uint32_t crc, std::string_view bytes) {
  for (char c : bytes) crc = kCrcTable[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
  return crc;
}

void put_le32(char* at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint32_t get_le32(const char* at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(at[i])) << (8 * i);
  return v;
}

// CRC over the length field and the JSON (slot.h).
std::uint32_t record_crc(const char* length_field, std::string_view json) {
  std::uint32_t crc = crc32_update(0xFFFFFFFFu, std::string_view(length_field, 4));
  return crc32_update(crc, json) ^ 0xFFFFFFFFu;
}

std::string errno_text(int e) { return std::strerror(e); }

// A slot file as created by claim_slot: a regular file with one link, the full size, owned by
// OWNER. Anything else in slots/ (a symlink is refused by O_NOFOLLOW already, a hard link to
// someone else's file, a file of another size) is never written or trusted.
bool is_slot_file(const struct stat& st, uid_t owner) {
  return S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_uid == owner &&
         st.st_size == static_cast<off_t>(kSlotFileBytes);
}

// "<uid>-<k>", both decimal, k < kSlotsPerUid: the uid, or -1 for any other name.
long uid_of_slot_name(std::string_view name) {
  const std::size_t dash = name.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash > 10 || dash + 1 >= name.size() ||
      name.size() - dash - 1 > 2)
    return -1;
  long uid = 0;
  unsigned k = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (i == dash) continue;
    if (name[i] < '0' || name[i] > '9') return -1;
    if (i < dash) uid = uid * 10 + (name[i] - '0');
    else k = k * 10 + static_cast<unsigned>(name[i] - '0');
  }
  return k < kSlotsPerUid && uid <= 0xFFFFFFFFL ? uid : -1;
}

// The uid the file name of PATH says (uid_of_slot_name), or -1.
long owner_of_slot_path(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return uid_of_slot_name(path.substr(slash == std::string_view::npos ? 0 : slash + 1));
}

// An empty regular file of OWNER: a slot a writer has created and not yet filled (or died while
// filling).
bool is_unfilled_slot_file(const struct stat& st, long owner) {
  return S_ISREG(st.st_mode) && st.st_size == 0 && owner >= 0 && st.st_uid == static_cast<uid_t>(owner);
}

// Per process: where the next claim starts looking (the slot after the last one taken is most
// likely free: notifyd frees slots in about the order they were written), and until when the
// slots of which spool count as busy.
// Starts at a number of its own per process (pid % 8), so that concurrent deliveries of one user
// do not all probe the same slots first.
unsigned g_next_slot = ~0u;
std::chrono::steady_clock::time_point g_all_busy_until{};
std::string g_all_busy_spool;

// Takes the slot open at FD for a writer of UID, or closes FD: locked by nobody else, a slot
// file of ours, and holding no prepared or ready record (those are notifyd's until it writes 'F';
// a prepared one nobody holds is left by a crash). Anything else under our lock (free, never
// written, not a record) may be overwritten.
bool claim_open_slot(int fd, uid_t uid) {
  struct stat st {};
  char header[kSlotHeaderBytes];
  bool take = ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &st) == 0 && is_slot_file(st, uid) &&
              pread_full(fd, header, sizeof header, 0) == static_cast<ssize_t>(sizeof header);
  if (take && std::memcmp(header, kMagic, sizeof kMagic) == 0 &&
      (header[kSlotStateOffset] == kReady || header[kSlotStateOffset] == kPrepared))
    take = false;
  if (!take) ::close(fd);
  return take;
}

void back_off(const std::string& spool_dir, std::chrono::steady_clock::time_point now) {
  g_all_busy_until = now + std::chrono::seconds(1);
  g_all_busy_spool = spool_dir;
}

}  // namespace

std::uint32_t crc32(std::string_view bytes) { return crc32_update(0xFFFFFFFFu, bytes) ^ 0xFFFFFFFFu; }

namespace {
std::string encode_slot(std::string_view json, char state) {
  std::string out(kSlotHeaderBytes, '\0');
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  out[kSlotStateOffset] = state;
  put_le32(out.data() + 12, static_cast<std::uint32_t>(json.size()));
  put_le32(out.data() + 16, record_crc(out.data() + 12, json));
  out.append(json);
  return out;
}
}  // namespace

std::string encode_ready_slot(std::string_view json) { return encode_slot(json, kReady); }
std::string encode_prepared_slot(std::string_view json) { return encode_slot(json, kPrepared); }

SlotRecord parse_slot(std::string_view bytes) {
  SlotRecord r;
  if (bytes.size() < kSlotHeaderBytes) {
    r.error = "shorter than the slot header";
    return r;
  }
  const std::string_view header = bytes.substr(0, kSlotHeaderBytes);
  if (header.find_first_not_of('\0') == std::string_view::npos) {
    r.state = SlotState::free;  // created, never written
    return r;
  }
  if (std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) {
    r.error = "not a slot (bad magic)";
    return r;
  }
  const char state = header[kSlotStateOffset];
  if (state == kFree) {
    r.state = SlotState::free;
    return r;
  }
  if (state != kReady && state != kPrepared) {
    r.error = "unknown slot state";
    return r;
  }
  const std::uint32_t length = get_le32(header.data() + 12);
  if (length > kSlotCapacity || length > bytes.size() - kSlotHeaderBytes) {
    r.error = "record length " + std::to_string(length) + " beyond the slot";
    return r;
  }
  const std::string_view json = bytes.substr(kSlotHeaderBytes, length);
  if (record_crc(header.data() + 12, json) != get_le32(header.data() + 16)) {
    r.error = "checksum mismatch (record torn or overwritten)";
    return r;
  }
  r.state = state == kReady ? SlotState::ready : SlotState::prepared;
  r.json = json;
  return r;
}

std::string slot_name(unsigned uid, unsigned k) { return std::to_string(uid) + "-" + std::to_string(k); }

bool is_slot_name(std::string_view name) { return uid_of_slot_name(name) >= 0; }

bool claim_slot(const std::string& spool_dir, SlotClaim& out, std::string& error) {
  const auto now = std::chrono::steady_clock::now();
  if (now < g_all_busy_until && spool_dir == g_all_busy_spool) {
    error = "every slot busy";
    return false;
  }
  const uid_t uid = ::geteuid();
  const std::string dir = spool_dir + "/slots";
  if (g_next_slot == ~0u) g_next_slot = static_cast<unsigned>(::getpid()) % 8;
  // Slots are created at the lowest missing number, so they are numbered 0..N-1 (but for a gap
  // an administrator left): look from where this process took its last one up to the first
  // missing number, then from 0 up to that start. Each look at a slot that does not exist is a
  // failed open, so stopping at the first one matters (probing all 64 names cost 0.08 ms).
  const unsigned start = g_next_slot % kSlotsPerUid;
  int missing = -1;  // the lowest slot number found not to exist
  unsigned k = start;
  bool wrapped = start == 0;
  for (unsigned looked = 0; looked < kSlotsPerUid; ++looked) {
    std::string path = dir + "/" + slot_name(uid, k);
    int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    const bool absent = fd < 0 && errno == ENOENT;
    if (absent && (missing < 0 || static_cast<int>(k) < missing)) missing = static_cast<int>(k);
    if (fd >= 0 && claim_open_slot(fd, uid)) {
      g_next_slot = k + 1;
      out.fd = fd;
      out.path = std::move(path);
      return true;
    }
    if (absent || k + 1 == kSlotsPerUid) {  // the end of the numbers from START: go on from 0
      if (wrapped) break;
      wrapped = true;
      k = 0;
    } else {
      ++k;
    }
    if (wrapped && k == start) break;
  }
  if (missing < 0) {
    back_off(spool_dir, now);
    error = "every slot busy";
    return false;
  }
  // A new slot: created full size and synced with its directory once, so that every later write
  // into it changes no metadata. Another delivery of the same user may create the same number at
  // the same moment: the loser takes the next number.
  std::string path;
  int fd = -1;
  for (unsigned number = static_cast<unsigned>(missing); number < kSlotsPerUid && fd < 0; ++number) {
    path = dir + "/" + slot_name(uid, number);
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660);
    if (fd < 0 && errno != EEXIST) break;
    missing = static_cast<int>(number);
  }
  if (fd < 0) {
    error = "create " + path + ": " + errno_text(errno);
    back_off(spool_dir, now);  // no slots/ (an older spool), no permission, or full
    return false;
  }
  (void)::fchmod(fd, 0660);  // the umask may have removed group write; notifyd needs it to free
  const std::string zeros(kSlotFileBytes, '\0');
  int dfd = -1;
  // Blocking: a writer probing the empty file holds its lock only until it sees the wrong size.
  if (::flock(fd, LOCK_EX) != 0 || !pwrite_all(fd, zeros.data(), zeros.size(), 0) || ::fsync(fd) != 0 ||
      (dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || ::fsync(dfd) != 0) {
    error = "create " + path + ": " + errno_text(errno);
    if (dfd >= 0) ::close(dfd);
    ::close(fd);
    ::unlink(path.c_str());
    return false;
  }
  ::close(dfd);
  g_next_slot = static_cast<unsigned>(missing) + 1;
  out.fd = fd;
  out.path = std::move(path);
  return true;
}

bool fill_slot(SlotClaim& claim, std::string_view json, std::string& error) {
  if (claim.fd < 0) {
    error = "no slot claimed";
    return false;
  }
  if (json.size() > kSlotCapacity) {
    error = "event larger than a slot";
    return false;
  }
  const std::string record = encode_prepared_slot(json);
  claim.written = true;  // even a failed write may have left part of a record
  if (!pwrite_all(claim.fd, record.data(), record.size(), 0)) {
    error = "write " + claim.path + ": " + errno_text(errno);
    return false;
  }
  return true;
}

bool mark_slot_ready(SlotClaim& claim, std::string& error) {
  if (claim.fd < 0 || !claim.written) {
    error = "no slot written";
    return false;
  }
  if (!pwrite_all(claim.fd, &kReady, 1, static_cast<off_t>(kSlotStateOffset))) {
    error = "write " + claim.path + ": " + errno_text(errno);
    return false;
  }
  claim.committed = true;
  return true;
}

void release_slot(SlotClaim& claim) {
  if (claim.fd < 0) return;
  if (claim.written && !claim.committed) (void)pwrite_all(claim.fd, &kFree, 1, static_cast<off_t>(kSlotStateOffset));
  ::close(claim.fd);
  claim.fd = -1;
}

bool write_event_to_slot(const std::string& spool_dir, std::string_view json, std::string& path,
                         std::string& error) {
  SlotClaim claim;
  if (!claim_slot(spool_dir, claim, error)) return false;
  bool ok = fill_slot(claim, json, error);
  if (ok && ::fdatasync(claim.fd) != 0) {
    error = "fdatasync " + claim.path + ": " + errno_text(errno);
    ok = false;
  }
  ok = ok && mark_slot_ready(claim, error);
  path = claim.path;
  release_slot(claim);
  return ok;
}

SlotRead read_slot(const std::string& path) {
  SlotRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    r.error = "open " + path + ": " + errno_text(errno);
    return r;
  }
  r.opened = true;
  struct stat st {};
  const long owner = owner_of_slot_path(path);
  const bool stat_ok = ::fstat(fd, &st) == 0;
  if (stat_ok && is_unfilled_slot_file(st, owner)) {
    r.state = SlotState::free;  // being created by a writer: nothing in it yet
    ::close(fd);
    return r;
  }
  if (!stat_ok || owner < 0 || !is_slot_file(st, static_cast<uid_t>(owner))) {
    r.not_a_slot_file = true;
    r.error = path + ": not a slot file (type, size, links or owner)";
    ::close(fd);
    return r;
  }
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    r.busy = true;
    ::close(fd);
    return r;
  }
  // The header and a typical event in one read; the rest of the record only when it is longer
  // (the buffer grows to the record's length, at most the file).
  constexpr std::size_t kFirstRead = 4096;
  std::string content(kFirstRead, '\0');
  ssize_t got = pread_full(fd, content.data(), kFirstRead, 0);
  if (got == static_cast<ssize_t>(kFirstRead)) {
    const std::size_t want = std::min<std::size_t>(get_le32(content.data() + 12) + kSlotHeaderBytes, kSlotFileBytes);
    if (want > kFirstRead) {
      content.resize(want);
      ssize_t more = pread_full(fd, content.data() + kFirstRead, want - kFirstRead, static_cast<off_t>(kFirstRead));
      got = more < 0 ? -1 : got + more;
    }
  }
  const int read_errno = errno;
  ::close(fd);
  if (got < 0) {
    r.error = "read " + path + ": " + errno_text(read_errno);
    r.opened = false;
    return r;
  }
  content.resize(static_cast<std::size_t>(got));
  SlotRecord rec = parse_slot(content);
  r.state = rec.state;
  r.json.assign(rec.json);
  r.error = std::move(rec.error);
  return r;
}

bool remove_idle_slot(const std::string& path, std::int64_t now_s) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  const long owner = owner_of_slot_path(path);
  struct stat st {};
  char header[kSlotHeaderBytes];
  bool idle = owner >= 0 && ::fstat(fd, &st) == 0 && now_s - static_cast<std::int64_t>(st.st_mtime) >= kSlotIdleSeconds &&
              ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  // Free, or left empty by a writer that died while creating it.
  if (idle && !is_unfilled_slot_file(st, owner))
    idle = is_slot_file(st, static_cast<uid_t>(owner)) &&
           pread_full(fd, header, sizeof header, 0) == static_cast<ssize_t>(sizeof header) &&
           parse_slot(std::string_view(header, sizeof header)).state == SlotState::free;
  // Under the lock: no writer holds it, and one that opens it later sees no link (is_slot_file).
  idle = idle && ::unlink(path.c_str()) == 0;
  ::close(fd);
  return idle;
}

bool free_slot(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    error = "open " + path + ": " + errno_text(errno);
    return false;
  }
  const long owner = owner_of_slot_path(path);
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && owner >= 0 && is_slot_file(st, static_cast<uid_t>(owner));
  if (!ok) error = path + ": not a slot file (type, size, links or owner)";
  const char state = kFree;
  if (ok && !pwrite_all(fd, &state, 1, static_cast<off_t>(kSlotStateOffset))) {
    error = "write " + path + ": " + errno_text(errno);
    ok = false;
  }
  ::close(fd);
  return ok;
}

}  // namespace mailward::notify
