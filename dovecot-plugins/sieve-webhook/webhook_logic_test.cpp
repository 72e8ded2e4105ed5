// Unit tests for the Dovecot-free logic of vnd.mailward.webhook (webhook_logic.h) and the C bridge
// (bridge.h): argument checks, collapse/limit, user URLs, event building, snippet text, and the
// bridge's config cache and commit into a temporary spool.
#include "dovecot-plugins/sieve-webhook/webhook_logic.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "dovecot-plugins/sieve-webhook/bridge.h"
#include "dovecot-plugins/sieve-webhook/async_fsync.h"

namespace mailward::webhook {
namespace {

notify::NotifySettings settings_from(const std::string& text) {
  return notify::parse_notify_settings(config::Config::parse(text, "test.conf"));
}

const char* kConfig =
    "[notify]\n"
    "spool = /nonexistent/spool\n"
    "[target.phone]\n"
    "url = https://ntfy.example/alerts\n"
    "format = ntfy\n"
    "users = *\n"
    "[target.hook]\n"
    "url = https://hooks.example.net/x\n"
    "users = bob@mailward.example\n"
    "allow_user_url = yes\n"
    "url_hosts = hooks.example.net, *.ntfy.example\n"
    "snippet = 20\n";

TEST(Priority, Table) {
  struct Case { const char* in; std::optional<notify::Priority> out; } cases[] = {
      {"low", notify::Priority::low},   {"normal", notify::Priority::normal},
      {"high", notify::Priority::high}, {"High", std::nullopt},
      {"", std::nullopt},               {"urgent", std::nullopt},
      {"low ", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_priority(c.in), c.out) << c.in;
}

TEST(FieldName, Table) {
  struct Case { std::string in; bool ok; } cases[] = {
      {"account", true},  {"X-Spam.Score", true}, {"a!#$%&'*+-.^_`|~9", true},
      {"", false},        {"two words", false},   {"colon:", false},
      {"quote\"", false}, {"slash/", false},      {"uml\xc3\xa4ut", false},
      {std::string(64, 'a'), true},               {std::string(65, 'a'), false},
  };
  for (const auto& c : cases) EXPECT_EQ(is_field_name(c.in), c.ok) << c.in;
}

TEST(UserUrl, Table) {
  const auto s = settings_from(kConfig);
  const notify::Target& hook = *s.find("hook");
  const notify::Target& phone = *s.find("phone");
  struct Case { const notify::Target* t; const char* url; UrlVerdict v; } cases[] = {
      {&phone, "https://hooks.example.net/a", UrlVerdict::not_allowed},
      {&hook, "https://hooks.example.net/a?b=c", UrlVerdict::accepted},
      {&hook, "HTTPS://Hooks.Example.Net./a", UrlVerdict::accepted},
      {&hook, "https://hooks.example.net:8443/a", UrlVerdict::accepted},
      {&hook, "https://x.ntfy.example/topic", UrlVerdict::accepted},
      {&hook, "https://ntfy.example/topic", UrlVerdict::host_not_listed},
      {&hook, "https://evil.example/hooks.example.net", UrlVerdict::host_not_listed},
      {&hook, "https://127.0.0.1/", UrlVerdict::host_not_listed},
      {&hook, "https://[::1]/", UrlVerdict::host_not_listed},
      {&hook, "http://hooks.example.net/a", UrlVerdict::not_https},
      {&hook, "ftp://hooks.example.net/a", UrlVerdict::not_https},
      {&hook, "https://user@hooks.example.net/a", UrlVerdict::malformed},
      {&hook, "https://hooks.example.net/a b", UrlVerdict::malformed},
      {&hook, "https://hooks.example.net:0/", UrlVerdict::malformed},
      {&hook, "hooks.example.net", UrlVerdict::malformed},
      {&hook, "https:///path", UrlVerdict::malformed},
  };
  for (const auto& c : cases) EXPECT_EQ(check_user_url(*c.t, c.url), c.v) << c.url;
}

TEST(DecideAdd, CollapseAndLimit) {
  using V = std::vector<std::string>;
  EXPECT_EQ(decide_add(V{}, "a", 3), AddDecision::add);
  EXPECT_EQ(decide_add(V{"a"}, "a", 3), AddDecision::duplicate);
  EXPECT_EQ(decide_add(V{"a", "b"}, "c", 3), AddDecision::add);
  EXPECT_EQ(decide_add(V{"a", "b", "c"}, "d", 3), AddDecision::over_limit);
  EXPECT_EQ(decide_add(V{"a", "b", "c"}, "b", 3), AddDecision::duplicate);  // no warning
  EXPECT_EQ(decide_add(V{"a"}, "b", 1), AddDecision::over_limit);
  EXPECT_EQ(decide_add(V{"a"}, "A", 3), AddDecision::add);  // target names are exact
}

MessageFacts facts() {
  MessageFacts f;
  f.user = "bob@mailward.example";
  f.mailbox = "INBOX";
  f.envelope_from = "alice@sender.example";
  f.header_from = "Alice <alice@sender.example>";
  f.to = "bob@mailward.example";
  f.subject = "Hello";
  f.message_id = "<1@sender.example>";
  f.size = 1234;
  f.body_text = "First  line\r\nsecond line of the body";
  return f;
}

TEST(BuildEvent, AllFieldsCopied) {
  const auto s = settings_from(kConfig);
  Request r;
  r.target = "phone";
  r.title = "New mail";
  r.message = "from Alice";
  r.priority = "high";
  r.fields = {{"account", "work"}, {"n", "1"}};
  const BuildResult b = build_event(s, r, facts(), 1700000000123, "0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(b.event) << b.refused;
  EXPECT_TRUE(b.warnings.empty());
  const notify::Event& e = *b.event;
  EXPECT_EQ(e.id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(e.time_ms, 1700000000123);
  EXPECT_EQ(e.user, "bob@mailward.example");
  EXPECT_EQ(e.mailbox, "INBOX");
  EXPECT_EQ(e.envelope_from, "alice@sender.example");
  EXPECT_EQ(e.header_from, "Alice <alice@sender.example>");
  EXPECT_EQ(e.to, "bob@mailward.example");
  EXPECT_EQ(e.subject, "Hello");
  EXPECT_EQ(e.message_id, "<1@sender.example>");
  EXPECT_EQ(e.size, 1234u);
  EXPECT_EQ(e.target, "phone");
  EXPECT_EQ(e.title, "New mail");
  EXPECT_EQ(e.message, "from Alice");
  EXPECT_EQ(e.priority, notify::Priority::high);
  ASSERT_EQ(e.fields.size(), 2u);
  EXPECT_EQ(e.fields[0], (std::pair<std::string, std::string>{"account", "work"}));
  EXPECT_EQ(e.fields[1], (std::pair<std::string, std::string>{"n", "1"}));
  EXPECT_FALSE(e.url);
  EXPECT_FALSE(e.snippet);  // phone has snippet = 0
}

TEST(BuildEvent, RefusedUnknownTargetOrUser) {
  const auto s = settings_from(kConfig);
  Request r;
  r.target = "nope";
  BuildResult b = build_event(s, r, facts(), 1, "id");
  EXPECT_FALSE(b.event);
  EXPECT_EQ(b.refused, "unknown target \"nope\"");
  r.target = "hook";
  MessageFacts f = facts();
  f.user = "carol@mailward.example";
  b = build_event(s, r, f, 1, "id");
  EXPECT_FALSE(b.event);
  EXPECT_EQ(b.refused, "user \"carol@mailward.example\" may not use target \"hook\"");
}

TEST(BuildEvent, BadPartsDroppedWithWarnings) {
  const auto s = settings_from(kConfig);
  Request r;
  r.target = "hook";
  r.priority = "urgent";
  r.fields = {{"ok", "1"}, {"bad name", "2"}};
  r.url = "http://hooks.example.net/x";
  const BuildResult b = build_event(s, r, facts(), 1, "id");
  ASSERT_TRUE(b.event);
  EXPECT_EQ(b.event->priority, notify::Priority::normal);
  ASSERT_EQ(b.event->fields.size(), 1u);
  EXPECT_EQ(b.event->fields[0].first, "ok");
  EXPECT_FALSE(b.event->url);
  ASSERT_EQ(b.warnings.size(), 3u);
  EXPECT_EQ(b.warnings[0],
            "invalid :priority \"urgent\" (expected low, normal or high); using normal");
  EXPECT_EQ(b.warnings[1],
            "dropped :field with invalid name \"bad name\" (must be a token of at most 64 "
            "characters)");
  EXPECT_EQ(b.warnings[2], "ignored :url for target \"hook\": only https URLs are allowed");
}

TEST(BuildEvent, UrlAndSnippetWhenTargetAllows) {
  const auto s = settings_from(kConfig);
  Request r;
  r.target = "hook";
  r.url = "https://hooks.example.net/mine";
  const BuildResult b = build_event(s, r, facts(), 1, "id");
  ASSERT_TRUE(b.event);
  EXPECT_TRUE(b.warnings.empty());
  EXPECT_EQ(b.event->url, std::optional<std::string>("https://hooks.example.net/mine"));
  EXPECT_EQ(b.event->snippet, std::optional<std::string>("First line second li"));  // 20 bytes
}

TEST(BuildEvent, LimitsOnScriptStrings) {
  const auto s = settings_from(kConfig);
  Request r;
  r.target = "phone";
  r.title = std::string(kMaxStringBytes - 1, 'x') + "\xc3\xa4";  // 2-byte char across the limit
  for (std::size_t i = 0; i < kMaxFields + 2; ++i) r.fields.emplace_back("f" + std::to_string(i), "v");
  const BuildResult b = build_event(s, r, facts(), 1, "id");
  ASSERT_TRUE(b.event);
  EXPECT_EQ(b.event->title, std::string(kMaxStringBytes - 1, 'x'));
  EXPECT_EQ(b.event->fields.size(), kMaxFields);
  EXPECT_EQ(b.warnings.size(), 2u);
}

TEST(Snippet, Table) {
  struct Case { const char* in; std::size_t max; const char* out; } cases[] = {
      {"hello world", 5, "hello"},
      {"  hello \r\n\r\n world  ", 100, "hello world"},
      {"a\tb", 3, "a b"},
      {"ab \xc3\xa4", 4, "ab"},  // the 2-byte char does not fit; the space before it goes too
      {"\n\n\xc3" "f \xe2\x82\xac", 5, "\xc3" "f"},  // found by fuzz_sieve_webhook
      {"", 10, ""},
      {"abc", 0, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(make_snippet(c.in, c.max), c.out) << c.in;
}

TEST(BodyText, PlainQuotedPrintableBase64Multipart) {
  EXPECT_EQ(body_text("Subject: x\r\n\r\nplain body\r\n"), "plain body\r\n");
  EXPECT_EQ(body_text("Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                      "caf=C3=A9 soft=\r\nbreak\r\n"),
            "caf\xc3\xa9 softbreak\r\n");
  EXPECT_EQ(body_text("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                      "aGVsbG8g\r\nd29ybGQ=\r\n"),
            "hello world");
  EXPECT_EQ(body_text("Content-Type: text/html\r\n\r\n<p>hi</p>\r\n"), "");
  const char* multipart =
      "Content-Type: multipart/mixed; boundary=\"outer;b\"\r\n\r\n"
      "preamble\r\n"
      "--outer;b\r\n"
      "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
      "--inner\r\n"
      "Content-Type: text/html\r\n\r\n<b>html</b>\r\n"
      "--inner\r\n"
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "the =3D text\r\n"
      "--inner--\r\n"
      "--outer;b\r\n"
      "Content-Type: text/plain\r\n\r\nsecond\r\n"
      "--outer;b--\r\n";
  EXPECT_EQ(body_text(multipart), "the = text");
}

// ---- the C bridge ----

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/mw_webhook_test.XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (p != nullptr) path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

struct LogCapture {
  std::vector<std::pair<mw_log_level, std::string>> lines;
  static void fn(void* ctx, mw_log_level level, const char* text) {
    static_cast<LogCapture*>(ctx)->lines.emplace_back(level, text);
  }
};

std::string read_file(const std::filesystem::path& p) {
  std::string out;
  FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

void write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream(p) << content;
}

TEST(Bridge, ConfigLoadErrorsAreLoggedNotThrown) {
  TempDir dir;
  LogCapture log;
  EXPECT_EQ(mw_webhook_config_load((dir.path / "missing.conf").c_str(), LogCapture::fn, &log),
            nullptr);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0].first, MW_LOG_ERROR);
  EXPECT_NE(log.lines[0].second.find("No such file or directory"), std::string::npos);

  write_file(dir.path / "bad.conf", "[target.phone]\nurl = https://x.example/\nformat = carrier-pigeon\n");
  log.lines.clear();
  EXPECT_EQ(mw_webhook_config_load((dir.path / "bad.conf").c_str(), LogCapture::fn, &log), nullptr);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_NE(log.lines[0].second.find("bad.conf:3"), std::string::npos) << log.lines[0].second;
}

TEST(Bridge, CommitWritesOneEventIntoTheSpool) {
  TempDir dir;
  const auto spool = dir.path / "spool";
  for (const char* sub : {"", "/tmp", "/new"}) ::mkdir((spool.string() + sub).c_str(), 0700);
  const std::string conf = std::string(kConfig).replace(std::string(kConfig).find("/nonexistent/spool"),
                                                        18, spool.string());
  write_file(dir.path / "mw.conf", conf);
  LogCapture log;
  mw_webhook_config* cfg = mw_webhook_config_load((dir.path / "mw.conf").c_str(), LogCapture::fn, &log);
  ASSERT_NE(cfg, nullptr);
  EXPECT_EQ(mw_webhook_target_count(cfg), 2u);
  EXPECT_EQ(mw_webhook_per_message_limit(cfg), 3u);
  EXPECT_EQ(mw_webhook_has_target(cfg, "phone"), 1);
  EXPECT_EQ(mw_webhook_has_target(cfg, "Phone"), 0);
  EXPECT_EQ(mw_webhook_snippet_bytes(cfg, "hook"), 20u);
  char names[16];
  mw_webhook_target_names(cfg, names, sizeof(names));
  EXPECT_STREQ(names, "phone, hook");

  const mw_webhook_field fields[] = {{"account", "work"}};
  mw_webhook_request req{"phone", "New mail", "hi", "low", fields, 1, nullptr};
  const char raw[] = "Subject: Hello\r\n\r\nbody\r\n";
  mw_webhook_message msg{"bob@mailward.example", "INBOX", "alice@sender.example",
                         "Alice <alice@sender.example>", "bob@mailward.example", "Hello",
                         "<1@sender.example>", 42, raw, sizeof(raw) - 1};
  EXPECT_EQ(mw_webhook_commit(cfg, &req, &msg, LogCapture::fn, &log), MW_COMMIT_WRITTEN);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(spool / "new")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(files[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  const std::string json = read_file(files[0]);
  const notify::ParseResult parsed = notify::parse_event(json);
  ASSERT_TRUE(parsed.event) << parsed.error;
  EXPECT_EQ(parsed.event->target, "phone");
  EXPECT_EQ(parsed.event->priority, notify::Priority::low);
  EXPECT_EQ(parsed.event->subject, "Hello");
  EXPECT_EQ(parsed.event->size, 42u);
  ASSERT_EQ(parsed.event->fields.size(), 1u);
  EXPECT_EQ(parsed.event->fields[0].second, "work");

  // Unknown target: refused, warning, nothing written.
  req.target = "nope";
  log.lines.clear();
  EXPECT_EQ(mw_webhook_commit(cfg, &req, &msg, LogCapture::fn, &log), MW_COMMIT_REFUSED);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0].first, MW_LOG_WARNING);

  // Spool gone: failure logged with the spool path, reported as FAILED (delivery goes on).
  std::filesystem::remove_all(spool);
  req.target = "phone";
  log.lines.clear();
  EXPECT_EQ(mw_webhook_commit(cfg, &req, &msg, LogCapture::fn, &log), MW_COMMIT_FAILED);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0].first, MW_LOG_ERROR);
  EXPECT_NE(log.lines[0].second.find(spool.string()), std::string::npos) << log.lines[0].second;
  EXPECT_NE(log.lines[0].second.find("No such file or directory"), std::string::npos)
      << log.lines[0].second;
  mw_webhook_config_free(cfg);
}

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The three phases as Pigeonhole drives them (plugin.c): execute prepares (tmp/ only, invisible
// to notifyd), commit publishes (new/), finish waits; a rollback (finish without publish) leaves
// nothing behind.
TEST(Bridge, PreparePublishFinishAndRollback) {
  TempDir dir;
  const auto spool = dir.path / "spool";
  for (const char* sub : {"", "/tmp", "/new"}) ::mkdir((spool.string() + sub).c_str(), 0700);
  std::string conf = kConfig;
  conf.replace(conf.find("/nonexistent/spool"), 18, spool.string());
  write_file(dir.path / "mw.conf", conf);
  LogCapture log;
  mw_webhook_config* cfg = mw_webhook_config_load((dir.path / "mw.conf").c_str(), LogCapture::fn, &log);
  ASSERT_NE(cfg, nullptr);
  mw_webhook_request req{"phone", "New mail", "hi", "normal", nullptr, 0, nullptr};
  mw_webhook_message msg{"bob@mailward.example", "INBOX", "", "", "", "Hello", "<1@x>", 42, nullptr, 0};

  mw_commit_status status = MW_COMMIT_FAILED;
  mw_webhook_pending* p = mw_webhook_prepare(cfg, &req, &msg, LogCapture::fn, &log, &status);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(status, MW_COMMIT_WRITTEN);
  EXPECT_EQ(names_in(spool / "tmp").size(), 1u);
  EXPECT_TRUE(names_in(spool / "new").empty()) << "visible to notifyd before commit";
  EXPECT_EQ(mw_webhook_publish(p, LogCapture::fn, &log), MW_COMMIT_WRITTEN);
  EXPECT_TRUE(names_in(spool / "tmp").empty());
  ASSERT_EQ(names_in(spool / "new").size(), 1u);
  mw_webhook_finish(p, LogCapture::fn, &log);
  const std::string published = names_in(spool / "new")[0];
  const notify::ParseResult parsed = notify::parse_event(read_file(spool / "new" / published));
  ASSERT_TRUE(parsed.event) << parsed.error;
  EXPECT_EQ(parsed.event->subject, "Hello");
  EXPECT_NE(published.find(parsed.event->id), std::string::npos);
  for (const auto& [level, text] : log.lines) EXPECT_LT(level, MW_LOG_WARNING) << text;

  // Rolled back: prepared, never published, finished -> tmp/ and new/ as before.
  p = mw_webhook_prepare(cfg, &req, &msg, LogCapture::fn, &log, &status);
  ASSERT_NE(p, nullptr);
  mw_webhook_finish(p, LogCapture::fn, &log);
  EXPECT_TRUE(names_in(spool / "tmp").empty());
  EXPECT_EQ(names_in(spool / "new"), std::vector<std::string>{published});

  // Refused at prepare: NULL with REFUSED, nothing in tmp/.
  req.target = "nope";
  EXPECT_EQ(mw_webhook_prepare(cfg, &req, &msg, LogCapture::fn, &log, &status), nullptr);
  EXPECT_EQ(status, MW_COMMIT_REFUSED);
  EXPECT_TRUE(names_in(spool / "tmp").empty());

  // new/ gone between prepare and commit: publish fails, logs the loss, leaves nothing in tmp/.
  req.target = "phone";
  p = mw_webhook_prepare(cfg, &req, &msg, LogCapture::fn, &log, &status);
  ASSERT_NE(p, nullptr);
  std::filesystem::remove_all(spool / "new");
  log.lines.clear();
  EXPECT_EQ(mw_webhook_publish(p, LogCapture::fn, &log), MW_COMMIT_FAILED);
  mw_webhook_finish(p, LogCapture::fn, &log);
  ASSERT_EQ(log.lines.size(), 1u);
  EXPECT_EQ(log.lines[0].first, MW_LOG_ERROR);
  EXPECT_NE(log.lines[0].second.find("notification lost"), std::string::npos) << log.lines[0].second;
  EXPECT_TRUE(names_in(spool / "tmp").empty());
  mw_webhook_config_free(cfg);
}

TEST(AsyncFsync, AFailedWaitForgetsItsRequest) {
  TempDir dir;
  const std::string pa = (dir.path / "a").string(), pb = (dir.path / "b").string();
  const int fa = ::open(pa.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  const int fb = ::open(pb.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fa, 0);
  ASSERT_GE(fb, 0);
  webhook::AsyncFsync b;
  {
    webhook::AsyncFsync a;
    ASSERT_TRUE(a.start(fa));
    ASSERT_TRUE(b.start(fb));
    webhook::AsyncFsync::fail_next_reap_for_testing();
    EXPECT_EQ(a.wait(), 0);  // io_getevents "failed": synced the plain way instead
    EXPECT_FALSE(a.started());
  }  // A is gone while the kernel may still complete its request
  // Waiting for B (and then C, in case A completed after B) reaps A's completion too; it must
  // find no owner (ASan: no use after scope).
  EXPECT_EQ(b.wait(), 0);
  webhook::AsyncFsync c;
  ASSERT_TRUE(c.start(fb));
  EXPECT_EQ(c.wait(), 0);
  ::close(fa);
  ::close(fb);
}

TEST(AsyncFsync, StartsNowAndReportsAtWaitInAnyOrder) {
  TempDir dir;
  int fds[3];
  webhook::AsyncFsync syncs[3];
  for (int i = 0; i < 3; ++i) {
    const std::string path = (dir.path / ("f" + std::to_string(i))).string();
    fds[i] = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fds[i], 0);
    ASSERT_EQ(::write(fds[i], "event\n", 6), 6);
    EXPECT_FALSE(syncs[i].started());
    EXPECT_TRUE(syncs[i].start(fds[i])) << "Linux AIO fsync should be available here (kernel >= 4.18)";
    EXPECT_TRUE(syncs[i].started());
  }
  // Waited for in reverse order: completions of the others are recorded on them meanwhile.
  for (int i = 2; i >= 0; --i) {
    EXPECT_EQ(syncs[i].wait(), 0) << i;
    EXPECT_FALSE(syncs[i].started());
    ::close(fds[i]);
  }
  webhook::AsyncFsync never_started;
  EXPECT_EQ(never_started.wait(), EBADF);

  // A descriptor that is not open: the submission is refused, wait() reports fsync's EBADF.
  const int closed = ::open((dir.path / "f0").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(closed, 0);
  ::close(closed);
  webhook::AsyncFsync bad;
  EXPECT_FALSE(bad.start(closed));
  EXPECT_EQ(bad.wait(), EBADF);

  // Without AIO the fsync runs synchronously in wait(), same result.
  webhook::AsyncFsync::disable_aio_for_testing(true);
  const int fd = ::open((dir.path / "f1").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  webhook::AsyncFsync plain;
  EXPECT_FALSE(plain.start(fd));
  EXPECT_TRUE(plain.started());
  EXPECT_EQ(plain.wait(), 0);
  ::close(fd);
  webhook::AsyncFsync::disable_aio_for_testing(false);
}

TEST(Bridge, DecideAddAndArgumentChecks) {
  const char* recorded[] = {"a", "b"};
  EXPECT_EQ(mw_webhook_decide_add(recorded, 2, "a", 3), MW_ADD_DUPLICATE);
  EXPECT_EQ(mw_webhook_decide_add(recorded, 2, "c", 3), MW_ADD);
  EXPECT_EQ(mw_webhook_decide_add(recorded, 2, "c", 2), MW_ADD_OVER_LIMIT);
  EXPECT_EQ(mw_webhook_decide_add(nullptr, 0, "c", 3), MW_ADD);
  EXPECT_EQ(mw_webhook_priority_valid("high"), 1);
  EXPECT_EQ(mw_webhook_priority_valid("HIGH"), 0);
  EXPECT_EQ(mw_webhook_priority_valid(nullptr), 0);
  EXPECT_EQ(mw_webhook_field_name_valid("x-y"), 1);
  EXPECT_EQ(mw_webhook_field_name_valid("x y"), 0);
}

}  // namespace
}  // namespace mailward::webhook

namespace mailward::webhook {
namespace {

TEST(Bridge, TargetUse) {
  TempDir dir;
  write_file(dir.path / "mw.conf", kConfig);
  LogCapture log;
  mw_webhook_config* cfg = mw_webhook_config_load((dir.path / "mw.conf").c_str(), LogCapture::fn, &log);
  ASSERT_NE(cfg, nullptr);
  EXPECT_EQ(mw_webhook_target_use(cfg, "phone", "anyone@else.example"), MW_TARGET_OK);
  EXPECT_EQ(mw_webhook_target_use(cfg, "hook", "bob@mailward.example"), MW_TARGET_OK);
  EXPECT_EQ(mw_webhook_target_use(cfg, "hook", "carol@mailward.example"), MW_TARGET_USER_NOT_ALLOWED);
  EXPECT_EQ(mw_webhook_target_use(cfg, "nope", "bob@mailward.example"), MW_TARGET_UNKNOWN);
  EXPECT_EQ(mw_webhook_target_use(nullptr, "phone", "bob@mailward.example"), MW_TARGET_UNKNOWN);
  mw_webhook_config_free(cfg);
}

}  // namespace
}  // namespace mailward::webhook

namespace mailward::webhook {
namespace {

// The parsed file is cached per process (bridge.h): an unchanged file (same inode, size, mtime)
// is not parsed again; a change of size or mtime is seen at the next load.
TEST(Bridge, ConfigCacheReloadsOnlyWhenTheFileChanges) {
  TempDir dir;
  const auto path = dir.path / "cache.conf";
  const std::string one = std::string(kConfig) + "[target.aaaa]\nurl = https://a.example/\n";
  const std::string two = std::string(kConfig) + "[target.bbbb]\nurl = https://b.example/\n";
  ASSERT_EQ(one.size(), two.size());
  write_file(path, one);
  LogCapture log;
  mw_webhook_config* a = mw_webhook_config_load(path.c_str(), LogCapture::fn, &log);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(mw_webhook_has_target(a, "aaaa"), 1);
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);

  // Same size, mtime put back: the cache does not notice and keeps the first parse.
  write_file(path, two);
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  mw_webhook_config* b = mw_webhook_config_load(path.c_str(), LogCapture::fn, &log);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(mw_webhook_has_target(b, "aaaa"), 1) << "an unchanged file was parsed again";
  EXPECT_EQ(mw_webhook_has_target(b, "bbbb"), 0);

  // A new mtime: parsed again; configurations handed out earlier keep their own settings.
  const struct timespec later[2] = {before.st_atim, {before.st_mtim.tv_sec + 5, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), later, 0), 0);
  mw_webhook_config* c = mw_webhook_config_load(path.c_str(), LogCapture::fn, &log);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(mw_webhook_has_target(c, "bbbb"), 1);
  EXPECT_EQ(mw_webhook_has_target(c, "aaaa"), 0);
  EXPECT_EQ(mw_webhook_has_target(a, "aaaa"), 1);

  // A different size (mtime unchanged within the same second on a coarse clock): parsed again.
  write_file(path, std::string(kConfig));
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), later, 0), 0);
  mw_webhook_config* d = mw_webhook_config_load(path.c_str(), LogCapture::fn, &log);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(mw_webhook_target_count(d), 2u);
  EXPECT_TRUE(log.lines.empty());
  for (mw_webhook_config* cfg : {a, b, c, d}) mw_webhook_config_free(cfg);
}

}  // namespace
}  // namespace mailward::webhook
