// Tests for the [notify] / [target.NAME] parser, user matching, URL splitting and the host allowlist.
#include "common/notify/targets.h"

#include <gtest/gtest.h>

#include <functional>

#include "common/config/config.h"

namespace mailward::notify {
namespace {

using config::Config;

std::string error_of(const std::string& text) {
  try {
    parse_notify_settings(Config::parse(text, "t.conf"));
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(NotifyTargets, ReadsEveryKey) {
  Config c = Config::parse(
      "[notify]\nspool = /var/spool/x\nper_message_limit = 5\nmetrics_listen = 127.0.0.1:9468\n"
      "rescan_interval = 10s\nmax_in_flight = 8\nuser = mailward\nlog_sent = debug\nbatch_window = 0\n"
      "[target.phone]\nurl = https://ntfy.example/alerts\nformat = ntfy\nmethod = PUT\n"
      "header = X-A: 1\nheader = X-B:two words\nsecret_file = /etc/s\ntimeout = 250ms\n"
      "max_attempts = 3\nmax_age = 1h\nrate_per_target = 60/1m\nrate_per_user = 10/30s\n"
      "users = alice@Example.org, @example.net\nusers = *\nallow_user_url = yes\n"
      "url_hosts = hooks.example.net, *.ntfy.sh\nsnippet = 200\nca_file = /etc/ca.pem\n"
      "[target.chat]\nurl = http://chat.example:8080/hook\nformat = slack\n",
      "t.conf");
  NotifySettings s = parse_notify_settings(c);
  EXPECT_EQ(s.spool, "/var/spool/x");
  EXPECT_EQ(s.per_message_limit, 5u);
  EXPECT_EQ(s.metrics_listen, "127.0.0.1:9468");
  EXPECT_EQ(s.rescan_interval.count(), 10);
  EXPECT_EQ(s.max_in_flight, 8u);
  EXPECT_EQ(s.user, "mailward");
  EXPECT_TRUE(s.log_sent_debug);
  EXPECT_EQ(s.batch_window.count(), 0);
  EXPECT_EQ(parse_notify_settings(Config::parse("", "t.conf")).batch_window.count(), 10);  // default
  EXPECT_EQ(parse_notify_settings(Config::parse("[notify]\nbatch_window = 250ms\n", "t.conf")).batch_window.count(), 250);
  ASSERT_EQ(s.targets.size(), 2u);
  const Target& t = s.targets[0];
  EXPECT_EQ(t.name, "phone");
  EXPECT_EQ(t.url, "https://ntfy.example/alerts");
  EXPECT_EQ(t.format, PayloadFormat::ntfy);
  EXPECT_EQ(t.method, "PUT");
  ASSERT_EQ(t.headers.size(), 2u);
  EXPECT_EQ(t.headers[1].first, "X-B");
  EXPECT_EQ(t.headers[1].second, "two words");
  EXPECT_EQ(t.secret_file, "/etc/s");
  EXPECT_EQ(t.timeout.count(), 250);
  EXPECT_EQ(t.max_attempts, 3u);
  EXPECT_EQ(t.max_age.count(), 3600);
  EXPECT_EQ(t.rate_per_target.count, 60u);
  EXPECT_EQ(t.rate_per_target.per.count(), 60);
  EXPECT_EQ(t.rate_per_user.count, 10u);
  EXPECT_EQ(t.rate_per_user.per.count(), 30);
  EXPECT_EQ(t.users, (std::vector<std::string>{"alice@example.org", "@example.net", "*"}));
  EXPECT_TRUE(t.allow_user_url);
  EXPECT_EQ(t.url_hosts, (std::vector<std::string>{"hooks.example.net", "*.ntfy.sh"}));
  EXPECT_EQ(t.snippet_bytes, 200u);
  EXPECT_EQ(t.ca_file, "/etc/ca.pem");
  EXPECT_EQ(s.find("chat"), &s.targets[1]);
  EXPECT_EQ(s.find("nope"), nullptr);
  const Target& chat = s.targets[1];
  EXPECT_EQ(chat.format, PayloadFormat::slack);
  EXPECT_EQ(chat.timeout.count(), 5000);
  EXPECT_EQ(chat.max_attempts, 12u);
  EXPECT_EQ(chat.max_age.count(), 86400);
  EXPECT_EQ(chat.rate_per_target.count, 0u);
  EXPECT_TRUE(chat.users.empty());
  EXPECT_FALSE(chat.allows_user("alice@example.org"));  // default: nobody
}

TEST(NotifyTargets, TargetsInFileOrder) {
  NotifySettings s = parse_notify_settings(
      Config::parse("[target.zeta]\nurl = https://z.example/\n[target.alpha]\nurl = https://a.example/\n",
                    "t.conf"));
  ASSERT_EQ(s.targets.size(), 2u);
  EXPECT_EQ(s.targets[0].name, "zeta");
  EXPECT_EQ(s.targets[1].name, "alpha");
  EXPECT_TRUE(parse_notify_settings(Config::parse("[notify]\n", "t.conf")).targets.empty());
}

TEST(NotifyTargets, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[target.a]\nformat = ntfy\n", "t.conf: [target.a] url: missing (every target needs one)"},
      {"[target.a]\nurl = ftp://x/\n", "t.conf:2: [target.a] url: 'ftp://x/' is not an http:// or https:// URL with a host"},
      {"[target.a]\nurl = https:///x\n", "t.conf:2: [target.a] url: 'https:///x' is not an http:// or https:// URL with a host"},
      {"[target.a]\nurl = https://u@h/x\n", "t.conf:2: [target.a] url: 'https://u@h/x' is not an http:// or https:// URL with a host"},
      {"[target.a]\nurl = https://h/\nformat = telegram\n",
       "t.conf:3: [target.a] format: 'telegram' is not one of: generic, ntfy, gotify, pushover, ifttt, slack, mattermost, discord"},
      {"[target.a]\nurl = https://h/\ncolour = red\n", "t.conf:3: [target.a] colour: unknown key"},
      {"[target.a]\nurl = https://h/\nheader = NoColon\n", "t.conf:3: [target.a] header: 'NoColon' is not 'Name: value'"},
      {"[target.a]\nurl = https://h/\nheader = Bad Name: v\n", "t.conf:3: [target.a] header: 'Bad Name: v' is not 'Name: value'"},
      {"[target.a]\nurl = https://h/\nrate_per_user = 10\n", "t.conf:3: [target.a] rate_per_user: '10' has no period (e.g. 60/1m)"},
      {"[target.a]\nurl = https://h/\nrate_per_user = x/1m\n", "t.conf:3: [target.a] rate_per_user: 'x/1m' is not a rate (COUNT/PERIOD, e.g. 60/1m)"},
      {"[target.a]\nurl = https://h/\nrate_per_user = 5/1w\n", "t.conf:3: [target.a] rate_per_user: '5/1w' has a bad period unit (use s, m, h or d)"},
      {"[target.a]\nurl = https://h/\nusers = bob\n", "t.conf:3: [target.a] users: 'bob' is not user@domain, @domain or *"},
      {"[target.a]\nurl = https://h/\nallow_user_url = yes\n", "t.conf:3: [target.a] allow_user_url: needs url_hosts (the allowlist for :url)"},
      {"[target.a]\nurl = https://h/\nurl_hosts = a/b\n", "t.conf:3: [target.a] url_hosts: 'a/b' is not a host name or *.domain"},
      {"[target.a]\nurl = https://h/\nsecret_file = rel\n", "t.conf:3: [target.a] secret_file: 'rel' is not an absolute path"},
      {"[target.a]\nurl = https://h/\nmax_attempts = 0\n", "t.conf:3: [target.a] max_attempts: 0 is out of range (1..1000)"},
      {"[target.a]\nurl = https://h/\nformat = pushover\n", "t.conf: [target.a] token_file: format pushover needs the application token file"},
      {"[target.a b]\nurl = https://h/\n", "t.conf: [target.a b]: a target name is 1-64 letters, digits, '_' or '-'"},
      {"[notify]\nspool = rel\n", "t.conf:2: [notify] spool: 'rel' is not an absolute path"},
      {"[notify]\nmetrics_listen = 9468\n", "t.conf:2: [notify] metrics_listen: '9468' is not ADDRESS:PORT"},
      {"[notify]\nlog_sent = warning\n", "t.conf:2: [notify] log_sent: 'warning' is not info or debug"},
      {"[notify]\nbatch_window = 2s\n", "t.conf:2: [notify] batch_window: must be between 0 and 1s"},
      {"[notify]\nbogus = 1\n", "t.conf:2: [notify] bogus: unknown key"},
  };
  for (const auto& [text, error] : cases) EXPECT_EQ(error_of(text), error) << text;
}

TEST(NotifyTargets, AllowsUser) {
  Target t;
  t.users = {"alice@example.org", "@example.net"};
  EXPECT_TRUE(t.allows_user("alice@example.org"));
  EXPECT_TRUE(t.allows_user("Alice@Example.ORG"));
  EXPECT_TRUE(t.allows_user("carol@example.net"));
  EXPECT_FALSE(t.allows_user("carol@sub.example.net"));
  EXPECT_FALSE(t.allows_user("bob@example.org"));
  EXPECT_FALSE(t.allows_user("example.net"));
  t.users = {"*"};
  EXPECT_TRUE(t.allows_user("anyone"));
}

TEST(NotifyTargets, ParsesUrls) {
  struct Case {
    std::string url;
    bool ok;
    std::string scheme, host;
    unsigned port;
    std::string path;
  };
  const std::vector<Case> cases = {
      {"https://Hooks.Example.net/a?b=c", true, "https", "hooks.example.net", 443, "/a?b=c"},
      {"http://h:8080", true, "http", "h", 8080, "/"},
      {"HTTPS://[2001:db8::1]:8443/x", true, "https", "2001:db8::1", 8443, "/x"},
      {"https://h.example./x", true, "https", "h.example", 443, "/x"},
      {"https://h:0/", false, "", "", 0, ""},
      {"https://h:99999/", false, "", "", 0, ""},
      {"https://h:/", false, "", "", 0, ""},
      {"https://user:pw@h/", false, "", "", 0, ""},
      {"https://h%2e/", false, "", "", 0, ""},
      {"file:///etc/passwd", false, "", "", 0, ""},
      {"h/x", false, "", "", 0, ""},
  };
  for (const Case& c : cases) {
    UrlParts p;
    EXPECT_EQ(parse_url(c.url, p), c.ok) << c.url;
    if (!c.ok) continue;
    EXPECT_EQ(p.scheme, c.scheme) << c.url;
    EXPECT_EQ(p.host, c.host) << c.url;
    EXPECT_EQ(p.port, c.port) << c.url;
    EXPECT_EQ(p.path, c.path) << c.url;
  }
}

TEST(NotifyTargets, HostAllowlist) {
  const std::vector<std::string> list = {"hooks.example.net", "*.ntfy.sh"};
  EXPECT_TRUE(host_allowed("hooks.example.net", list));
  EXPECT_TRUE(host_allowed("HOOKS.example.net.", list));
  EXPECT_TRUE(host_allowed("a.ntfy.sh", list));
  EXPECT_TRUE(host_allowed("a.b.ntfy.sh", list));
  EXPECT_FALSE(host_allowed("ntfy.sh", list));
  EXPECT_FALSE(host_allowed("evilntfy.sh", list));
  EXPECT_FALSE(host_allowed("x.hooks.example.net", list));
  EXPECT_FALSE(host_allowed("hooks.example.net.evil", list));
}

}  // namespace
}  // namespace mailward::notify
