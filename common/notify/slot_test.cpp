// Tests for event slots (slot.h): the record format, claiming, filling, reading and freeing.
#include "common/notify/slot.h"

#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace mailward::notify {
namespace {

namespace fs = std::filesystem;

fs::path fresh_slot_spool(const std::string& name) {
  fs::path spool = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(spool);
  fs::create_directories(spool / "slots");
  return spool;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SlotRecord, ReadyRoundTrip) {
  const std::string json = R"({"v":1,"id":"abc"})";
  const std::string rec = encode_ready_slot(json);
  ASSERT_EQ(rec.size(), kSlotHeaderBytes + json.size());
  EXPECT_EQ(rec.substr(0, 8), "mwslot1\n");
  EXPECT_EQ(rec[kSlotStateOffset], 'R');
  const std::string file = rec + std::string(100, 'x');  // the rest of the file follows
  SlotRecord r = parse_slot(file);  // r.json points into FILE
  ASSERT_EQ(r.state, SlotState::ready) << r.error;
  EXPECT_EQ(r.json, json);
}

TEST(SlotRecord, PreparedRecordCarriesItsEvent) {
  const std::string rec = encode_prepared_slot("{}");
  EXPECT_EQ(rec[kSlotStateOffset], 'P');
  SlotRecord r = parse_slot(rec);
  ASSERT_EQ(r.state, SlotState::prepared) << r.error;
  EXPECT_EQ(r.json, "{}");
  std::string flipped = rec;
  flipped[kSlotStateOffset] = 'R';  // the commit flips one byte; the checksum does not cover it
  EXPECT_EQ(parse_slot(flipped).state, SlotState::ready);
}

TEST(SlotRecord, ZeroHeaderIsFreeAndFreeMarkIsFree) {
  EXPECT_EQ(parse_slot(std::string(kSlotFileBytes, '\0')).state, SlotState::free);
  std::string rec = encode_ready_slot("{}");
  rec[kSlotStateOffset] = 'F';
  EXPECT_EQ(parse_slot(rec).state, SlotState::free);
}

TEST(SlotRecord, TornOrHostileRecordsAreInvalid) {
  const std::string rec = encode_ready_slot(R"({"id":"0123"})");
  std::string torn = rec;
  torn[kSlotHeaderBytes + 3] ^= 1;  // one JSON byte changed
  EXPECT_EQ(parse_slot(torn).state, SlotState::invalid);
  EXPECT_NE(parse_slot(torn).error.find("checksum"), std::string::npos);
  std::string longer = rec;
  longer[12] = static_cast<char>(0xFF);  // length beyond the bytes
  longer[13] = static_cast<char>(0xFF);
  EXPECT_EQ(parse_slot(longer).state, SlotState::invalid);
  EXPECT_EQ(parse_slot(rec.substr(0, rec.size() - 1)).state, SlotState::invalid);  // JSON cut short
  EXPECT_EQ(parse_slot(rec.substr(0, 10)).state, SlotState::invalid);
  std::string magic = rec;
  magic[0] = 'X';
  EXPECT_EQ(parse_slot(magic).state, SlotState::invalid);
  std::string state = rec;
  state[kSlotStateOffset] = 'Q';
  EXPECT_EQ(parse_slot(state).state, SlotState::invalid);
}

TEST(SlotRecord, Crc32KnownValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);  // the IEEE CRC-32 check value
  EXPECT_EQ(crc32(""), 0u);
}

TEST(SlotName, OnlyUidDashIndex) {
  EXPECT_TRUE(is_slot_name("1000-0"));
  EXPECT_TRUE(is_slot_name("0-63"));
  EXPECT_EQ(slot_name(1000, 7), "1000-7");
  EXPECT_TRUE(is_slot_name(slot_name(4294967295u, 63)));
  EXPECT_FALSE(is_slot_name("1000-64"));
  EXPECT_FALSE(is_slot_name("1000-"));
  EXPECT_FALSE(is_slot_name("-3"));
  EXPECT_FALSE(is_slot_name("10a0-1"));
  EXPECT_FALSE(is_slot_name("1000-1.json"));
  EXPECT_FALSE(is_slot_name("4294967296-1"));
  EXPECT_FALSE(is_slot_name("..-1"));
  EXPECT_FALSE(is_slot_name(".1000-1"));
}

TEST(SlotFiles, WriteReadFreeReuse) {
  const fs::path spool = fresh_slot_spool("mw-slot-cycle");
  std::string path, error;
  ASSERT_TRUE(write_event_to_slot(spool, R"({"n":1})", path, error)) << error;
  EXPECT_EQ(fs::path(path).parent_path(), spool / "slots");
  EXPECT_TRUE(is_slot_name(fs::path(path).filename().string()));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kSlotFileBytes));
  EXPECT_EQ(st.st_mode & 0777, 0660u);  // group: notifyd frees it; nothing for other users
  SlotRead r = read_slot(path);
  ASSERT_TRUE(r.opened) << r.error;
  EXPECT_FALSE(r.busy);
  ASSERT_EQ(r.state, SlotState::ready) << r.error;
  EXPECT_EQ(r.json, R"({"n":1})");

  // A ready slot is never taken: the next event goes into another one.
  std::string path2;
  ASSERT_TRUE(write_event_to_slot(spool, R"({"n":2})", path2, error)) << error;
  EXPECT_NE(path2, path);
  EXPECT_EQ(read_slot(path).json, R"({"n":1})");

  // Freed, the slot is taken again (after the others) and overwritten in place.
  ASSERT_TRUE(free_slot(path, error)) << error;
  EXPECT_EQ(read_slot(path).state, SlotState::free);
  ASSERT_TRUE(free_slot(path2, error)) << error;
  std::set<std::string> used;
  for (int i = 0; i < 3; ++i) {
    std::string p;
    ASSERT_TRUE(write_event_to_slot(spool, R"({"n":3})", p, error)) << error;
    used.insert(p);
  }
  EXPECT_TRUE(used.contains(path) || used.contains(path2));
  fs::remove_all(spool);
}

TEST(SlotFiles, LongRecordReadBeyondFirstBlock) {
  const fs::path spool = fresh_slot_spool("mw-slot-long");
  const std::string json = "\"" + std::string(kSlotCapacity - 2, 'y') + "\"";
  std::string path, error;
  ASSERT_TRUE(write_event_to_slot(spool, json, path, error)) << error;
  SlotRead r = read_slot(path);
  ASSERT_EQ(r.state, SlotState::ready) << r.error;
  EXPECT_EQ(r.json, json);
  SlotClaim claim;
  ASSERT_TRUE(claim_slot(spool, claim, error)) << error;
  EXPECT_FALSE(fill_slot(claim, json + " ", error));  // one byte over: the caller uses a file
  release_slot(claim);
  fs::remove_all(spool);
}

TEST(SlotFiles, LockedSlotIsBusyForReaderAndSkippedByWriters) {
  const fs::path spool = fresh_slot_spool("mw-slot-lock");
  SlotClaim a;
  std::string error;
  ASSERT_TRUE(claim_slot(spool, a, error)) << error;
  ASSERT_TRUE(fill_slot(a, "{}", error)) << error;
  EXPECT_TRUE(read_slot(a.path).busy);  // written, not yet released: notifyd waits for the close
  ASSERT_TRUE(mark_slot_ready(a, error)) << error;
  // Another writer of the same uid (its own open file description) does not get it.
  int other = ::open(a.path.c_str(), O_RDWR);
  ASSERT_GE(other, 0);
  EXPECT_NE(::flock(other, LOCK_EX | LOCK_NB), 0);
  ::close(other);
  SlotClaim b;
  ASSERT_TRUE(claim_slot(spool, b, error)) << error;
  EXPECT_NE(b.path, a.path);
  release_slot(b);
  release_slot(a);
  SlotRead r = read_slot(a.path);
  EXPECT_FALSE(r.busy);
  EXPECT_EQ(r.state, SlotState::ready);
  fs::remove_all(spool);
}

TEST(SlotFiles, UncommittedSlotIsFreedAtRelease) {
  const fs::path spool = fresh_slot_spool("mw-slot-rollback");
  SlotClaim a;
  std::string error;
  ASSERT_TRUE(claim_slot(spool, a, error)) << error;
  EXPECT_FALSE(mark_slot_ready(a, error));  // nothing written yet
  ASSERT_TRUE(fill_slot(a, R"({"n":1})", error)) << error;
  const std::string path = a.path;
  release_slot(a);  // rolled back: never committed
  EXPECT_EQ(read_slot(path).state, SlotState::free);
  EXPECT_EQ(a.fd, -1);
  release_slot(a);  // twice is harmless
  // A prepared slot left by a writer that died (written, lock gone, no release) is not free.
  SlotClaim b;
  ASSERT_TRUE(claim_slot(spool, b, error)) << error;
  ASSERT_TRUE(fill_slot(b, R"({"n":2})", error)) << error;
  ::close(b.fd);  // as if the process died: the lock goes with it, nothing else happens
  SlotRead r = read_slot(b.path);
  EXPECT_FALSE(r.busy);
  ASSERT_EQ(r.state, SlotState::prepared) << r.error;
  EXPECT_EQ(r.json, R"({"n":2})");
  SlotClaim c;
  ASSERT_TRUE(claim_slot(spool, c, error)) << error;
  EXPECT_NE(c.path, b.path);  // notifyd's to send, never overwritten
  release_slot(c);
  fs::remove_all(spool);
}

TEST(SlotFiles, ForeignOrOddFilesAreNotSlots) {
  const fs::path spool = fresh_slot_spool("mw-slot-odd");
  // The right name, the wrong size: neither read nor taken.
  const std::string name = slot_name(::geteuid(), 0);
  { std::ofstream(spool / "slots" / name) << "short"; }
  SlotRead r = read_slot((spool / "slots" / name).string());
  EXPECT_EQ(r.state, SlotState::invalid);
  EXPECT_NE(r.error.find("not a slot file"), std::string::npos);
  EXPECT_TRUE(r.not_a_slot_file);
  std::string error;
  EXPECT_FALSE(free_slot((spool / "slots" / name).string(), error));
  EXPECT_EQ(file_bytes(spool / "slots" / name), "short");
  std::string path;
  ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << error;
  EXPECT_NE(fs::path(path).filename(), name);
  // A symlink under a slot name is not followed.
  const std::string link = (spool / "slots" / slot_name(::geteuid() + 1, 5)).string();
  fs::create_symlink(path, link);
  EXPECT_FALSE(read_slot(link).opened);
  fs::remove_all(spool);
}

TEST(SlotFiles, AllSlotsReadyMeansNoClaimForASecond) {
  const fs::path spool = fresh_slot_spool("mw-slot-full");
  std::string path, error;
  std::set<std::string> paths;
  for (unsigned i = 0; i < kSlotsPerUid; ++i) {
    ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << i << ": " << error;
    paths.insert(path);
  }
  EXPECT_EQ(paths.size(), kSlotsPerUid);
  EXPECT_FALSE(write_event_to_slot(spool, "{}", path, error));
  EXPECT_EQ(error, "every slot busy");
  // Freeing one does not help within the second (the writer does not look again)...
  ASSERT_TRUE(free_slot(*paths.begin(), error)) << error;
  EXPECT_FALSE(write_event_to_slot(spool, "{}", path, error));
  // ...but another spool is not affected.
  const fs::path other = fresh_slot_spool("mw-slot-full-other");
  EXPECT_TRUE(write_event_to_slot(other, "{}", path, error)) << error;
  fs::remove_all(spool);
  fs::remove_all(other);
}

TEST(SlotFiles, NewSlotTakesTheLowestMissingNumber) {
  const fs::path spool = fresh_slot_spool("mw-slot-gap");
  std::string path, error;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << error;
  const unsigned uid = ::geteuid();
  for (unsigned k = 0; k < 4; ++k) EXPECT_TRUE(fs::exists(spool / "slots" / slot_name(uid, k))) << k;
  fs::remove(spool / "slots" / slot_name(uid, 1));  // a gap, as an administrator might leave
  ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << error;
  EXPECT_EQ(fs::path(path).filename(), slot_name(uid, 1));
  ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << error;
  EXPECT_EQ(fs::path(path).filename(), slot_name(uid, 4));
  // Freed slots are found again wherever this process starts looking.
  ASSERT_TRUE(free_slot((spool / "slots" / slot_name(uid, 0)).string(), error)) << error;
  ASSERT_TRUE(free_slot((spool / "slots" / slot_name(uid, 3)).string(), error)) << error;
  std::set<std::string> names;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << error;
    names.insert(fs::path(path).filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{slot_name(uid, 0), slot_name(uid, 3)}));
  fs::remove_all(spool);
}

TEST(SlotFiles, ANumberTakenMeanwhileMovesCreationToTheNext) {
  const fs::path spool = fresh_slot_spool("mw-slot-race");
  const unsigned uid = ::geteuid();
  std::string path, error;
  ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << error;  // slot 0, ready
  // Another delivery has just created slot 1 (empty, not yet filled): not a failure, the next
  // number is created instead, and the empty file reads as free without a complaint.
  { std::ofstream(spool / "slots" / slot_name(uid, 1)); }
  EXPECT_EQ(read_slot((spool / "slots" / slot_name(uid, 1)).string()).state, SlotState::free);
  EXPECT_TRUE(read_slot((spool / "slots" / slot_name(uid, 1)).string()).error.empty());
  SlotClaim claim;
  ASSERT_TRUE(claim_slot(spool, claim, error)) << error;
  EXPECT_EQ(fs::path(claim.path).filename(), slot_name(uid, 2));
  release_slot(claim);
  fs::remove_all(spool);
}

TEST(SlotFiles, IdleFreeSlotsAreRemovedOthersKept) {
  const fs::path spool = fresh_slot_spool("mw-slot-idle");
  const unsigned uid = ::geteuid();
  std::string path, error;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << error;
  const auto slot = [&](unsigned k) { return (spool / "slots" / slot_name(uid, k)).string(); };
  ASSERT_TRUE(free_slot(slot(0), error)) << error;
  ASSERT_TRUE(free_slot(slot(2), error)) << error;
  { std::ofstream(spool / "slots" / slot_name(uid, 3)); }  // a creator died before filling it
  const std::int64_t now = ::time(nullptr);
  EXPECT_FALSE(remove_idle_slot(slot(0), now));  // free, but written just now
  const std::int64_t later = now + kSlotIdleSeconds + 1;
  EXPECT_FALSE(remove_idle_slot(slot(1), later));  // ready: notifyd's to send, never removed
  {  // a writer holding slot 2 (free) keeps it
    int fd = ::open(slot(2).c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    EXPECT_FALSE(remove_idle_slot(slot(2), later));
    ::close(fd);
  }
  EXPECT_TRUE(remove_idle_slot(slot(0), later));
  EXPECT_TRUE(remove_idle_slot(slot(2), later));
  EXPECT_TRUE(remove_idle_slot(slot(3), later));
  EXPECT_FALSE(fs::exists(slot(0)));
  EXPECT_TRUE(fs::exists(slot(1)));
  EXPECT_FALSE(fs::exists(slot(3)));
  // The next writer creates the lowest missing number again.
  ASSERT_TRUE(write_event_to_slot(spool, "{}", path, error)) << error;
  EXPECT_EQ(path, slot(0));
  fs::remove_all(spool);
}

TEST(SlotFiles, NoSlotsDirectoryFailsCleanly) {
  const fs::path spool = fs::temp_directory_path() / ("mw-slot-none-" + std::to_string(::getpid()));
  fs::remove_all(spool);
  fs::create_directories(spool);
  SlotClaim claim;
  std::string error;
  EXPECT_FALSE(claim_slot(spool, claim, error));
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(claim.fd, -1);
  fs::remove_all(spool);
}

}  // namespace
}  // namespace mailward::notify
