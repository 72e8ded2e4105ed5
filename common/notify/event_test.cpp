// Tests for the notification event format: round trip, strict parse errors, the spool writer.
#include "common/notify/event.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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

TEST(NotifyEvent, WritesDurablyIntoNew) {
  namespace fs = std::filesystem;
  fs::path spool = fs::temp_directory_path() / ("mw-notify-test-" + std::to_string(::getpid()));
  fs::remove_all(spool);
  fs::create_directories(spool / "tmp");
  fs::create_directories(spool / "new");
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

}  // namespace
}  // namespace mailward::notify
