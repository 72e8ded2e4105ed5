// LMDB-specific behaviour beyond the conformance suite: file mode, sharing one file between store
// instances and processes, expired entries swept, a full map reported as Status::error.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "common/store/store.h"
#include "common/store/test_backends.h"

namespace mailward::store {
namespace {

using std::chrono::seconds;

TEST(LmdbStore, CreatesFileMode0600) {
  TempDir dir;
  const std::string path = dir.path + "/s.mdb";
  auto s = open_lmdb_store({path, 1u << 20});
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(s->describe(), "lmdb:" + path);
}

TEST(LmdbStore, BadPathThrowsStoreError) {
  EXPECT_THROW(open_lmdb_store({"/nonexistent-dir-mw/x.mdb", 1u << 20}), StoreError);
  EXPECT_THROW(open_lmdb_store({"", 1u << 20}), StoreError);
}

TEST(LmdbStore, TwoInstancesShareOneFile) {
  TempDir dir;
  const std::string path = dir.path + "/s.mdb";
  auto a = open_lmdb_store({path, 1u << 20});
  auto b = open_lmdb_store({path, 1u << 20});
  std::vector<CounterUpdate> u{{"c", 2, seconds(0)}};
  ASSERT_TRUE(a->add(u).ok());
  auto r = b->add(u);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.value, (std::vector<std::int64_t>{4}));
  std::vector<std::string> k{"c"};
  EXPECT_EQ(a->get(k).value, (std::vector<std::int64_t>{4}));
}

TEST(LmdbStore, ForkedProcessesCountTogether) {
  TempDir dir;
  const std::string path = dir.path + "/s.mdb";
  constexpr int kChildren = 3, kPer = 200;
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int bad = 0;
      try {
        auto s = open_lmdb_store({path, 1u << 20});
        std::vector<CounterUpdate> u{{"n", 1, seconds(0)}};
        for (int i = 0; i < kPer; ++i) bad += s->add(u).ok() ? 0 : 1;
      } catch (...) {
        bad = 1;
      }
      ::_exit(bad == 0 ? 0 : 1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto s = open_lmdb_store({path, 1u << 20});
  std::vector<std::string> k{"n"};
  EXPECT_EQ(s->get(k).value, (std::vector<std::int64_t>{kChildren * kPer}));
}

TEST(LmdbStore, PersistsAcrossReopen) {
  TempDir dir;
  const std::string path = dir.path + "/s.mdb";
  {
    auto s = open_lmdb_store({path, 1u << 20});
    std::vector<CounterUpdate> u{{"p", 7, seconds(0)}};
    ASSERT_TRUE(s->add(u).ok());
  }
  auto s = open_lmdb_store({path, 1u << 20});
  std::vector<std::string> k{"p"};
  EXPECT_EQ(s->get(k).value, (std::vector<std::int64_t>{7}));
}

TEST(LmdbStore, ExpiredEntriesAreSweptSoTheMapDoesNotFill) {
  // 1 MiB map; 20,000 short-lived distinct keys would not fit at once (about 60 bytes each
  // plus page overhead), so this passes only if the sweep reclaims expired entries.
  TempDir dir;
  FakeClock clock;
  auto s = open_lmdb_store({dir.path + "/s.mdb", 1u << 20}, clock.fn());
  for (int i = 0; i < 20000; ++i) {
    std::vector<CounterUpdate> u{{"key-number-" + std::to_string(i) + std::string(20, 'x'), 1,
                                  seconds(1)}};
    auto r = s->add(u);
    ASSERT_TRUE(r.ok()) << i << ": " << r.detail;
    clock.advance(std::chrono::milliseconds(100));
  }
}

TEST(LmdbStore, FullMapIsAnErrorNotACrash) {
  TempDir dir;
  auto s = open_lmdb_store({dir.path + "/s.mdb", 64u * 1024});
  Status last = Status::ok;
  std::string detail;
  for (int i = 0; i < 5000 && last == Status::ok; ++i) {
    std::vector<CounterUpdate> u{{"k" + std::to_string(i) + std::string(100, 'y'), 1, seconds(0)}};
    auto r = s->add(u);
    last = r.status;
    detail = r.detail;
  }
  EXPECT_EQ(last, Status::error);
  EXPECT_NE(detail.find("MDB_MAP_FULL"), std::string::npos) << detail;
}

}  // namespace
}  // namespace mailward::store

namespace mailward::store {
namespace {

std::int64_t read_counter(const std::string& path, bool durable) {
  LmdbSettings s{path, 1u << 20, durable};
  auto st = open_lmdb_store(s);
  std::vector<std::string> k{"c"};
  return st->get(k).value.at(0);
}

void write_counter(const std::string& path, bool durable) {
  LmdbSettings s{path, 1u << 20, durable};
  auto st = open_lmdb_store(s);
  std::vector<CounterUpdate> u{{"c", 5, std::chrono::seconds(0)}};
  ASSERT_TRUE(st->add(u).ok());
}

TEST(LmdbStore, FastModeDiscardsStateFromBeforeAReboot) {
  TempDir dir;
  const std::string path = dir.path + "/s.mdb";
  write_counter(path, false);
  EXPECT_EQ(read_counter(path, false), 5);  // same boot: kept
  // Pretend the file was last opened under another boot.
  std::ofstream(path + "-boot", std::ios::trunc) << "00000000-0000-0000-0000-000000000000\n";
  EXPECT_EQ(read_counter(path, false), 0);
  // The boot id is now this one again: new state is kept.
  write_counter(path, false);
  EXPECT_EQ(read_counter(path, false), 5);
}

TEST(LmdbStore, DurableModeNeverDiscards) {
  TempDir dir;
  const std::string path = dir.path + "/d.mdb";
  write_counter(path, true);
  std::ofstream(path + "-boot", std::ios::trunc) << "00000000-0000-0000-0000-000000000000\n";
  EXPECT_EQ(read_counter(path, true), 5);
}

}  // namespace
}  // namespace mailward::store
