// Tests for the spool's retry-state sidecars, dead letters and the queue listing.
#include "dovecot-plugins/notifyd/spool.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "common/notify/event.h"
#include "common/notify/slot.h"

namespace mailward::notifyd {
namespace {

namespace fs = std::filesystem;

TEST(NotifydSpool, StateFormat) {
  RetryState s{3, 1700000000123, "HTTP 503 busy\nsecond line"};
  EXPECT_EQ(format_state(s), "attempts=3\nnext_ms=1700000000123\nlast_error=HTTP 503 busy second line\n");
  auto back = parse_state(format_state(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->attempts, 3u);
  EXPECT_EQ(back->next_ms, 1700000000123);
  EXPECT_EQ(back->last_error, "HTTP 503 busy second line");
  EXPECT_FALSE(parse_state("next_ms=5\n"));
  EXPECT_FALSE(parse_state("attempts=x\n"));
  EXPECT_FALSE(parse_state("garbage"));
}

TEST(NotifydSpool, SlotsInQueueAndDeadLetterContent) {
  fs::path root = fs::temp_directory_path() / ("mw-notifyd-slots-" + std::to_string(::getpid()));
  fs::remove_all(root);
  Spool spool(root.string());
  std::string error;
  ASSERT_TRUE(spool.ensure(error)) << error;
  struct stat st {};
  ASSERT_EQ(::stat(spool.slots_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02770u);  // the plugin's group writes slots here

  notify::Event e;
  e.id = "abcdefabcdefabcdefabcdefabcdef12";
  e.time_ms = 3000;
  e.user = "u@example.org";
  e.target = "phone";
  std::string path;
  ASSERT_TRUE(notify::write_event_to_slot(root.string(), notify::serialize(e), path, error)) << error;
  {  // not a slot name: never listed
    FILE* f = std::fopen((spool.slots_dir() + "/notes.txt").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  const auto slots = spool.list_slots();
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(spool.slots_dir() + "/" + slots[0], path);
  auto q = spool.list_queue();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_FALSE(q[0].dead);
  EXPECT_EQ(q[0].name, "slots/" + slots[0]);
  EXPECT_EQ(q[0].id, e.id);
  EXPECT_EQ(q[0].target, "phone");
  ASSERT_TRUE(notify::free_slot(path, error)) << error;
  EXPECT_TRUE(spool.list_queue().empty());  // a free slot is not pending
  EXPECT_EQ(spool.remove_idle_slots(::time(nullptr)), 0u);  // used just now
  EXPECT_EQ(spool.remove_idle_slots(::time(nullptr) + notify::kSlotIdleSeconds + 1), 1u);
  EXPECT_TRUE(spool.list_slots().empty());

  ASSERT_TRUE(spool.dead_letter_content("9-x.json", "not json", RetryState{0, 0, "unreadable"}, error)) << error;
  q = spool.list_queue();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_TRUE(q[0].dead);
  EXPECT_FALSE(q[0].problem.empty());
  EXPECT_EQ(q[0].state.last_error, "unreadable");
  fs::remove_all(root);
}

TEST(NotifydSpool, LifeCycle) {
  fs::path root = fs::temp_directory_path() / ("mw-notifyd-spool-" + std::to_string(::getpid()));
  fs::remove_all(root);
  Spool spool(root.string());
  std::string error;
  ASSERT_TRUE(spool.ensure(error)) << error;
  struct stat st {};
  ASSERT_EQ(::stat(spool.state_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);  // nothing for other users
  ASSERT_EQ(::stat(spool.new_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02770u);  // the plugin's group writes here

  notify::Event e;
  e.id = "0123456789abcdef0123456789abcdef";
  e.time_ms = 1000;
  e.user = "u@example.org";
  e.target = "phone";
  ASSERT_TRUE(notify::write_event(root.string(), e).ok);
  notify::Event e2 = e;
  e2.id = "ffffffffffffffffffffffffffffffff";
  e2.time_ms = 2000;
  ASSERT_TRUE(notify::write_event(root.string(), e2).ok);
  const std::string n1 = "1000-0123456789abcdef0123456789abcdef.json";
  const std::string n2 = "2000-ffffffffffffffffffffffffffffffff.json";
  EXPECT_EQ(spool.list_new(), (std::vector<std::string>{n1, n2}));

  ASSERT_TRUE(spool.write_state(n1, RetryState{2, 5000, "HTTP 503"}, error)) << error;
  auto s1 = spool.read_state(n1);
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->attempts, 2u);
  EXPECT_FALSE(spool.read_state(n2));

  ASSERT_TRUE(spool.dead_letter(n2, RetryState{1, 0, "HTTP 404 no such hook"}, error)) << error;
  auto q = spool.list_queue();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_FALSE(q[0].dead);
  EXPECT_EQ(q[0].id, e.id);
  EXPECT_EQ(q[0].target, "phone");
  EXPECT_EQ(q[0].state.attempts, 2u);
  EXPECT_EQ(q[0].state.last_error, "HTTP 503");
  EXPECT_TRUE(q[1].dead);
  EXPECT_EQ(q[1].id, e2.id);
  EXPECT_EQ(q[1].state.last_error, "HTTP 404 no such hook");

  spool.remove_delivered(n1);
  EXPECT_TRUE(spool.list_new().empty());
  EXPECT_FALSE(spool.read_state(n1));
  fs::remove_all(root);
}


// remove_delivered hands sent files back through free/ up to the limit, unlinks the rest, and
// looks at free/ again only when its estimate reaches the limit.
TEST(NotifydSpool, RecyclesSentFilesUpToTheLimit) {
  fs::path root = fs::temp_directory_path() / ("mw-notifyd-recycle-" + std::to_string(::getpid()));
  fs::remove_all(root);
  Spool spool(root.string());
  std::string error;
  ASSERT_TRUE(spool.ensure(error)) << error;
  struct stat st {};
  ASSERT_EQ(::stat(spool.free_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02770u);
  EXPECT_EQ(spool.recycle_limit(), 64u);
  spool.set_recycle_limit(2);
  auto write = [&](int i) {
    notify::Event e;
    e.id = std::string(31, 'a') + static_cast<char>('0' + i);
    e.time_ms = 1000 + i;
    e.user = "u@example.org";
    e.target = "phone";
    EXPECT_TRUE(notify::write_event(root.string(), e).ok);
    return notify::event_file_name(e);
  };
  auto count = [](const std::string& dir) {
    std::size_t n = 0;
    for (const auto& ent : fs::directory_iterator(dir)) n += ent.path().filename().string()[0] != '.';
    return n;
  };
  // Events are written before they are sent; a write takes a file from free/ when there is one.
  std::vector<std::string> e;
  for (int i = 0; i < 4; ++i) e.push_back(write(i));  // free/ empty: four new files
  struct Step {
    const char* what;
    int writes_before;  // events written (each taking one file from free/) before this removal
    std::size_t event;  // index into e
    std::size_t bytes;
    std::size_t free_after;
  };
  const Step steps[] = {
      {"first sent file: free/ listed (empty), recycled", 0, 0, 300, 1},
      {"second: recycled, free/ at the limit", 0, 1, 300, 2},
      {"third: free/ listed, full: unlinked", 0, 2, 300, 2},
      {"fourth: unlinked without listing (writers of another uid?)", 0, 3, 300, 2},
      {"writers took both; still skipping: unlinked", 2, 4, 300, 0},
      {"listed again, empty: recycled", 0, 5, 300, 1},
      {"too large to reuse: unlinked", 1, 6, notify::kRecycleMaxBytes + 1, 0},
  };
  int next = 4;
  for (const Step& s : steps) {
    SCOPED_TRACE(s.what);
    for (int k = 0; k < s.writes_before; ++k) e.push_back(write(next++));
    ASSERT_LT(s.event, e.size());
    spool.remove_delivered(e[s.event], false, s.bytes);
    EXPECT_EQ(count(spool.free_dir()), s.free_after);
  }
  EXPECT_TRUE(spool.list_new().empty());
  spool.set_recycle_limit(0);
  spool.remove_delivered(write(next++), false, 300);
  EXPECT_EQ(count(spool.free_dir()), 0u);
  EXPECT_TRUE(spool.list_new().empty());
  fs::remove_all(root);
}

}  // namespace
}  // namespace mailward::notifyd
