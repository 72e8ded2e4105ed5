// Tests for the notification event format: round trip, strict parse errors, the spool writer.
#include "common/notify/event.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <set>
#include <string>
#include <vector>

namespace mailward::notify {
namespace {

Event sample() {
  Event e;
  e.id = "0123456789abcdef0123456789abcdef";
  e.time_ms = 1764300000123;
  e.user = "alice@example.org";
  e.mailbox = "INBOX";
  e.envelope_from = "bob@example.net";
  e.header_from = "Bob <bob@example.net>";
  e.to = "alice@example.org";
  e.subject = "Hello \"world\" \xC3\xA9";
  e.message_id = "<1@example.net>";
  e.size = 4242;
  e.target = "phone";
  e.title = "New mail";
  e.message = "line1\nline2";
  e.priority = Priority::high;
  e.fields = {{"b", "2"}, {"a", "1"}};
  return e;
}

// An empty spool under the temp directory, SPOOL/NAME-PID with the subdirectories SUBDIRS (a
// spool without free/ is one written before reuse existed).
std::filesystem::path fresh_spool(const std::string& name, std::initializer_list<const char*> subdirs) {
  namespace fs = std::filesystem;
  fs::path spool = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(spool);
  for (const char* d : subdirs) fs::create_directories(spool / d);
  return spool;
}

void expect_same(const Event& a, const Event& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.time_ms, b.time_ms);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.mailbox, b.mailbox);
  EXPECT_EQ(a.envelope_from, b.envelope_from);
  EXPECT_EQ(a.header_from, b.header_from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.fields, b.fields);
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.snippet, b.snippet);
}

TEST(NotifyEvent, SerializesExactly) {
  Event e = sample();
  e.fields = {{"k", "v"}};
  EXPECT_EQ(serialize(e),
            "{\"envelope_from\":\"bob@example.net\",\"fields\":[{\"name\":\"k\",\"value\":\"v\"}],"
            "\"header_from\":\"Bob <bob@example.net>\",\"id\":\"0123456789abcdef0123456789abcdef\","
            "\"mailbox\":\"INBOX\",\"message\":\"line1\\nline2\",\"message_id\":\"<1@example.net>\","
            "\"priority\":\"high\",\"size\":4242,\"subject\":\"Hello \\\"world\\\" \xC3\xA9\","
            "\"target\":\"phone\",\"time_ms\":1764300000123,\"title\":\"New mail\","
            "\"to\":\"alice@example.org\",\"user\":\"alice@example.org\",\"version\":1}");
}

TEST(NotifyEvent, RoundTrips) {
  Event e = sample();
  ParseResult r = parse_event(serialize(e));
  ASSERT_TRUE(r.event) << r.error;
  expect_same(*r.event, e);

  e.url = "https://hooks.example.net/x";
  e.snippet = "Hi Alice,";
  e.priority = Priority::low;
  e.fields.clear();
  r = parse_event(serialize(e));
  ASSERT_TRUE(r.event) << r.error;
  expect_same(*r.event, e);
}

TEST(NotifyEvent, InvalidUtf8IsReplaced) {
  Event e = sample();
  e.subject = "a\xFF" "b";
  ParseResult r = parse_event(serialize(e));
  ASSERT_TRUE(r.event) << r.error;
  EXPECT_EQ(r.event->subject, "a\xEF\xBF\xBD" "b");
}

struct BadCase {
  std::string name;
  std::string edit_from;  // replaced in the serialised sample
  std::string edit_to;
  std::string error;
};

TEST(NotifyEvent, ParseErrors) {
  const std::string good = serialize(sample());
  const std::vector<BadCase> cases = {
      {"version", "\"version\":1", "\"version\":2", "unknown event version 2"},
      {"version type", "\"version\":1", "\"version\":\"1\"", "key \"version\" is not an integer"},
      {"missing target", "\"target\":\"phone\",", "", "missing key \"target\""},
      {"missing fields", "\"fields\":[{\"name\":\"b\",\"value\":\"2\"},{\"name\":\"a\",\"value\":\"1\"}],",
       "", "missing key \"fields\""},
      {"wrong type", "\"user\":\"alice@example.org\"", "\"user\":7", "key \"user\" is not a string"},
      {"bad id", "\"id\":\"0123456789abcdef0123456789abcdef\"", "\"id\":\"../../etc/passwd\"",
       "key \"id\" is not 32 lowercase hex characters"},
      {"upper id", "\"id\":\"0123456789abcdef0123456789abcdef\"",
       "\"id\":\"0123456789ABCDEF0123456789abcdef\"", "key \"id\" is not 32 lowercase hex characters"},
      {"priority", "\"priority\":\"high\"", "\"priority\":\"urgent\"",
       "key \"priority\" is not low, normal or high"},
      {"size negative", "\"size\":4242", "\"size\":-1", "key \"size\" is not a non-negative integer"},
      {"size float", "\"size\":4242", "\"size\":1.5", "key \"size\" is not a non-negative integer"},
      {"time negative", "\"time_ms\":1764300000123", "\"time_ms\":-5", "key \"time_ms\" is negative"},
      {"unknown key", "\"version\":1", "\"version\":1,\"body\":\"x\"", "unknown key \"body\""},
      {"duplicate key", "\"version\":1", "\"version\":1,\"user\":\"mallory\"", "duplicate key \"user\""},
      {"field shape", "{\"name\":\"b\",\"value\":\"2\"}", "[\"b\",\"2\"]",
       "each of \"fields\" must be {\"name\": string, \"value\": string}"},
      {"field extra", "{\"name\":\"b\",\"value\":\"2\"}", "{\"name\":\"b\",\"value\":\"2\",\"x\":\"\"}",
       "each of \"fields\" must be {\"name\": string, \"value\": string}"},
      {"url type", "\"version\":1", "\"version\":1,\"url\":5", "key \"url\" is not a string"},
      {"empty target", "\"target\":\"phone\"", "\"target\":\"\"", "key \"target\" is empty"},
  };
  for (const BadCase& c : cases) {
    std::string text = good;
    std::size_t at = text.find(c.edit_from);
    ASSERT_NE(at, std::string::npos) << c.name;
    text.replace(at, c.edit_from.size(), c.edit_to);
    ParseResult r = parse_event(text);
    EXPECT_FALSE(r.event) << c.name;
    EXPECT_EQ(r.error, c.error) << c.name;
  }
}

TEST(NotifyEvent, RefusesNonEvents) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not valid JSON (or trailing garbage)"},
      {"[]", "event is not a JSON object"},
      {"{}", "missing key \"version\""},
      {serialize(sample()) + "x", "not valid JSON (or trailing garbage)"},
      {serialize(sample()) + "{}", "not valid JSON (or trailing garbage)"},
      {std::string(100, '[') + std::string(100, ']'), "JSON nested too deeply"},
      {std::string(1024 * 1024 + 1, ' '), "event larger than 1 MiB"},
  };
  for (const auto& [text, error] : cases) {
    ParseResult r = parse_event(text);
    EXPECT_FALSE(r.event);
    EXPECT_EQ(r.error, error);
  }
  // Whitespace around the object is fine.
  EXPECT_TRUE(parse_event(" \n" + serialize(sample()) + "\n").event);
}

TEST(NotifyEvent, NewIdsAreHexAndDistinct) {
  std::string a = new_event_id();
  std::string b = new_event_id();
  EXPECT_TRUE(is_event_id(a)) << a;
  EXPECT_TRUE(is_event_id(b)) << b;
  EXPECT_NE(a, b);
  EXPECT_FALSE(is_event_id("0123456789abcdef0123456789abcde"));
  EXPECT_FALSE(is_event_id("0123456789abcdef0123456789abcdeg"));
}

// write_event's steps one by one (the plugin runs them in Pigeonhole's phases).
TEST(NotifyEvent, StepsPrepareSyncPublishAndDiscard) {
  namespace fs = std::filesystem;
  fs::path spool = fresh_spool("mw-notify-steps", {"tmp", "new"});
  Event e = sample();
  std::string error;

  PreparedEvent p;
  ASSERT_TRUE(prepare_event(spool.string(), e, p, error)) << error;
  EXPECT_GE(p.fd, 0);
  EXPECT_TRUE(fs::exists(p.tmp_path));
  EXPECT_TRUE(fs::is_empty(spool / "new"));
  // Not synced: refused, and the tmp/ file is gone.
  EXPECT_FALSE(publish_prepared(p, error));
  EXPECT_EQ(error, "event file not synced, not published");
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  EXPECT_TRUE(fs::is_empty(spool / "new"));
  EXPECT_EQ(p.fd, -1);
  EXPECT_FALSE(sync_prepared(p, error));  // nothing left to sync
  EXPECT_EQ(error, "no prepared event file to sync");

  PreparedEvent q;
  ASSERT_TRUE(prepare_event(spool.string(), e, q, error)) << error;
  ASSERT_TRUE(sync_prepared(q, error)) << error;
  EXPECT_TRUE(q.synced);
  EXPECT_EQ(q.fd, -1);
  EXPECT_TRUE(fs::is_empty(spool / "new"));
  ASSERT_TRUE(publish_prepared(q, error)) << error;
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  EXPECT_EQ(q.new_path, (spool / "new" / event_file_name(e)).string());
  std::ifstream in(q.new_path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), serialize(e));
  EXPECT_TRUE(sync_new_dir(q.new_dir, error)) << error;
  discard_prepared(q);  // after publish: nothing to remove, the event stays
  EXPECT_TRUE(fs::exists(q.new_path));

  PreparedEvent r;
  Event other = e;
  other.id = new_event_id();
  ASSERT_TRUE(prepare_event(spool.string(), other, r, error)) << error;
  discard_prepared(r);  // rolled back before sync
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  EXPECT_FALSE(sync_new_dir((spool / "absent").string(), error));
  EXPECT_NE(error.find("fsync " + (spool / "absent").string()), std::string::npos) << error;
  fs::remove_all(spool);
}

TEST(NotifyEvent, WritesDurablyIntoNew) {
  namespace fs = std::filesystem;
  fs::path spool = fresh_spool("mw-notify-test", {"tmp", "new"});
  Event e = sample();
  WriteResult w = write_event(spool.string(), e);
  ASSERT_TRUE(w.ok) << w.error;
  EXPECT_EQ(w.path, (spool / "new" / "1764300000123-0123456789abcdef0123456789abcdef.json").string());
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  struct stat st {};
  ASSERT_EQ(::stat(w.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  std::ifstream in(w.path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), serialize(e));

  // The same event twice: O_EXCL on tmp is fine (tmp is empty again) but the id repeats; the
  // second rename replaces the first, which is the same content.
  Event bad = e;
  bad.id = "nothex";
  WriteResult wb = write_event(spool.string(), bad);
  EXPECT_FALSE(wb.ok);
  EXPECT_EQ(wb.error, "event id is not 32 lowercase hex characters");

  WriteResult missing = write_event((spool / "absent").string(), e);
  EXPECT_FALSE(missing.ok);
  EXPECT_NE(missing.error.find("open " + (spool / "absent" / "tmp").string()), std::string::npos)
      << missing.error;
  fs::remove_all(spool);
}


// Reused event files (event.h, write_event; the crash cases are in
// dovecot-plugins/notifyd/README.md, "Reused event files"). Each case puts one file into free/,
// writes an event, and checks whether that inode was taken and what became of the file.
std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(NotifyEvent, TwoRefusedFilesInOneWriteAreBothSetAside) {
  // Two files in free/ whose content carries another id than their name (the crash case without a
  // journal and without fsck): both are refused and set aside in tmp/ under distinct names, each
  // with its content untouched (renaming the second onto the first would unlink the first).
  namespace fs = std::filesystem;
  fs::path spool = fresh_spool("mw-notify-stale2", {"tmp", "new", "free"});
  std::vector<std::string> contents;
  for (const char* pair : {"aa", "cc"}) {
    Event named = sample();
    named.id = std::string(16, pair[0]) + std::string(16, pair[1]);
    named.time_ms = 1764300000000;
    Event inside = named;
    inside.id = std::string(32, 'b');
    inside.message = std::string("content of ") + pair;
    contents.push_back(serialize(inside));
    fs::path file = spool / "free" / event_file_name(named);
    std::ofstream(file, std::ios::binary) << contents.back();
    fs::permissions(file, fs::perms(0640));
  }
  Event e = sample();
  WriteResult w = write_event(spool.string(), e);
  ASSERT_TRUE(w.ok) << w.error;
  std::vector<std::string> stale;
  for (const auto& ent : fs::directory_iterator(spool / "tmp")) stale.push_back(ent.path().filename());
  std::sort(stale.begin(), stale.end());
  const std::string base = ".stale-" + event_file_name(e);
  ASSERT_EQ(stale, (std::vector<std::string>{base, base + ".2"}));
  std::vector<std::string> kept = {read_all(spool / "tmp" / stale[0]), read_all(spool / "tmp" / stale[1])};
  std::sort(kept.begin(), kept.end());
  std::sort(contents.begin(), contents.end());
  EXPECT_EQ(kept, contents);
  EXPECT_TRUE(fs::is_empty(spool / "free"));
  fs::remove_all(spool);
}

TEST(NotifyEvent, ReusesSentFilesOnlyWhenSafe) {
  namespace fs = std::filesystem;
  enum class Setup { sent_longer, sent_shorter, other_id, second_link, other_owner, too_large, bad_name, symlink,
                     other_mode };
  struct Case {
    const char* what;
    Setup setup;
    bool reused;
    const char* left_in_free;  // the file's name still in free/ afterwards ("" = none)
    bool set_aside;            // renamed to tmp/.stale-NAME, content untouched
  };
  const std::string old_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const std::string old_name = "1764300000000-" + old_id + ".json";
  const Case cases[] = {
      {"a sent event longer than the new one", Setup::sent_longer, true, "", false},
      {"a sent event shorter than the new one", Setup::sent_shorter, true, "", false},
      // After a crash without a journal and without fsck: the name in free/ and a pending
      // event's name in new/ point at one inode whose link count still says 1.
      {"content with another id (crash without journal, no fsck)", Setup::other_id, false, "", true},
      // The same crash after fsck: the link count says 2.
      {"a second link (crash without journal, after fsck)", Setup::second_link, false, "old", false},
      {"owned by another user", Setup::other_owner, false, "old", false},
      {"larger than kRecycleMaxBytes", Setup::too_large, false, "old", false},
      {"a name that is not an event's", Setup::bad_name, false, "junk.json", false},
      {"a symbolic link", Setup::symlink, false, "old", false},
      {"mode other than 0640", Setup::other_mode, false, "old", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    if (c.setup == Setup::other_owner && ::geteuid() != 0) continue;  // needs chown
    fs::path spool = fresh_spool("mw-notify-reuse", {"tmp", "new", "free"});
    Event old = sample();
    old.id = old_id;
    old.time_ms = 1764300000000;
    if (c.setup == Setup::sent_longer) old.message = std::string(2000, 'x');
    if (c.setup == Setup::too_large) old.message = std::string(kRecycleMaxBytes, 'x');
    Event other = old;
    other.id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const std::string old_text = serialize(c.setup == Setup::other_id ? other : old);
    std::string name = c.setup == Setup::bad_name ? "junk.json" : old_name;
    fs::path file = spool / "free" / name;
    if (c.setup == Setup::symlink) {
      std::ofstream(spool / "target.json", std::ios::binary) << old_text;
      fs::create_symlink(spool / "target.json", file);
    } else {
      std::ofstream(file, std::ios::binary) << old_text;
      fs::permissions(file, fs::perms(c.setup == Setup::other_mode ? 0644 : 0640));
    }
    if (c.setup == Setup::second_link) fs::create_hard_link(file, spool / "new" / "1764300000001-pending.json");
    if (c.setup == Setup::other_owner) {
      ASSERT_EQ(::chown(file.c_str(), 12345, 12345), 0);
    }
    struct stat before {};
    ASSERT_EQ(::lstat(file.c_str(), &before), 0);

    Event e = sample();
    WriteResult w = write_event(spool.string(), e);
    ASSERT_TRUE(w.ok) << w.error;
    EXPECT_EQ(read_all(w.path), serialize(e));  // exact: a longer old file is cut
    struct stat after {};
    ASSERT_EQ(::stat(w.path.c_str(), &after), 0);
    EXPECT_EQ(after.st_ino == before.st_ino, c.reused);
    EXPECT_EQ(after.st_mode & 07777, 0640u);
    EXPECT_EQ(after.st_nlink, 1u);

    std::vector<std::string> in_free, in_tmp;
    for (const auto& ent : fs::directory_iterator(spool / "free")) in_free.push_back(ent.path().filename());
    for (const auto& ent : fs::directory_iterator(spool / "tmp")) in_tmp.push_back(ent.path().filename());
    const std::string left = std::string(c.left_in_free) == "old" ? old_name : c.left_in_free;
    EXPECT_EQ(in_free, left.empty() ? std::vector<std::string>{} : std::vector<std::string>{left});
    if (c.set_aside) {
      ASSERT_EQ(in_tmp, std::vector<std::string>{".stale-" + event_file_name(e)});
      EXPECT_EQ(read_all(spool / "tmp" / in_tmp[0]), old_text);  // never written, never unlinked
    } else {
      EXPECT_TRUE(in_tmp.empty());
    }
    if (!left.empty() && c.setup != Setup::symlink) {
      EXPECT_EQ(read_all(spool / "free" / left), old_text);
    }
    if (c.setup == Setup::second_link) {
      EXPECT_EQ(read_all(spool / "new" / "1764300000001-pending.json"), old_text);  // the pending event
    }
    fs::remove_all(spool);
  }
}

// A writer that crashed after taking a file leaves it in tmp/ under its event's name; the next
// write of another event does not touch it, and a file that never reached new/ is never sent
// (notifyd reads new/ only): the delivery whose commit did not finish was not answered.
TEST(NotifyEvent, ReuseTakesEachFileOnce) {
  namespace fs = std::filesystem;
  fs::path spool = fresh_spool("mw-notify-reuse2", {"tmp", "new", "free"});
  // Three sent files in free/, four events: three reuse, the fourth creates; all distinct inodes.
  std::vector<Event> sent;
  for (int i = 0; i < 3; ++i) {
    Event s = sample();
    s.id = std::string(31, 'c') + static_cast<char>('0' + i);
    s.time_ms = 1000 + i;
    ASSERT_TRUE(write_event(spool.string(), s).ok);
    fs::rename(spool / "new" / event_file_name(s), spool / "free" / event_file_name(s));
  }
  std::set<ino_t> inodes;
  for (int i = 0; i < 4; ++i) {
    Event e = sample();
    e.id = std::string(31, 'd') + static_cast<char>('0' + i);
    WriteResult w = write_event(spool.string(), e);
    ASSERT_TRUE(w.ok) << w.error;
    EXPECT_EQ(read_all(w.path), serialize(e));
    struct stat st {};
    ASSERT_EQ(::stat(w.path.c_str(), &st), 0);
    inodes.insert(st.st_ino);
  }
  EXPECT_EQ(inodes.size(), 4u);
  EXPECT_TRUE(fs::is_empty(spool / "free"));
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  fs::remove_all(spool);
}

// Concurrent deliveries: four processes write 50 events each while free/ holds 40 sent files.
// Every event must arrive whole under its own name, each in its own inode (two writers never take
// the same file), and nothing may be left in tmp/.
TEST(NotifyEvent, ConcurrentWritersNeverShareAReusedFile) {
  namespace fs = std::filesystem;
  fs::path spool = fresh_spool("mw-notify-reuse3", {"tmp", "new", "free"});
  auto make = [](int writer, int i) {
    Event e = sample();
    char id[33];
    std::snprintf(id, sizeof id, "%08x%024x", static_cast<unsigned>(writer), static_cast<unsigned>(i));
    e.id = id;
    e.time_ms = 2000 + i;
    e.message = std::string(static_cast<std::size_t>((i * 37) % 900), 'm');  // lengths differ
    return e;
  };
  std::set<ino_t> sent_inodes;
  for (int i = 0; i < 40; ++i) {
    Event old = make(99, i);
    old.message = std::string(3000, 'o');  // longer than any new event: must be cut
    WriteResult w = write_event(spool.string(), old);
    ASSERT_TRUE(w.ok);
    struct stat st {};
    ASSERT_EQ(::stat(w.path.c_str(), &st), 0);
    sent_inodes.insert(st.st_ino);
  }
  // Moved only now: a write_event above would otherwise have reused the file moved before it.
  std::vector<fs::path> olds;
  for (const auto& ent : fs::directory_iterator(spool / "new")) olds.push_back(ent.path());
  for (const fs::path& p : olds) fs::rename(p, spool / "free" / p.filename());
  ASSERT_EQ(sent_inodes.size(), 40u);
  std::vector<pid_t> children;
  for (int w = 0; w < 4; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failures = 0;
      for (int i = 0; i < 50; ++i) failures += write_event(spool.string(), make(w, i)).ok ? 0 : 1;
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::set<ino_t> inodes;
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 50; ++i) {
      Event e = make(w, i);
      fs::path p = spool / "new" / event_file_name(e);
      EXPECT_EQ(read_all(p), serialize(e)) << p;
      struct stat st {};
      ASSERT_EQ(::stat(p.c_str(), &st), 0);
      inodes.insert(st.st_ino);
    }
  }
  EXPECT_EQ(inodes.size(), 200u);
  EXPECT_TRUE(fs::is_empty(spool / "tmp"));
  // Every sent file was either reused by exactly one event or is still in free/.
  std::size_t reused = 0, left = 0;
  for (ino_t ino : inodes) reused += sent_inodes.count(ino);
  for (const auto& ent : fs::directory_iterator(spool / "free")) {
    (void)ent;
    ++left;
  }
  EXPECT_EQ(reused + left, 40u);
  EXPECT_GT(reused, 0u);
  fs::remove_all(spool);
}

}  // namespace
}  // namespace mailward::notify
