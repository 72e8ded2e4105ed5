// Tests for the payload presets, the signature and the assembled request: exact bodies and headers.
#include "common/notify/payload.h"

#include <gtest/gtest.h>

namespace mailward::notify {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

Event sample() {
  Event e;
  e.id = "0123456789abcdef0123456789abcdef";
  e.time_ms = 1700000000000;
  e.user = "alice@example.org";
  e.mailbox = "INBOX";
  e.envelope_from = "bob@example.net";
  e.header_from = "Bob <bob@example.net>";
  e.to = "alice@example.org";
  e.subject = "Lunch?";
  e.message_id = "<1@example.net>";
  e.size = 10;
  e.target = "t";
  e.title = "New mail";
  e.message = "From Bob: Lunch & <b>";
  e.priority = Priority::high;
  return e;
}

Target target(PayloadFormat f) {
  Target t;
  t.name = "t";
  t.url = "https://receiver.example/hook";
  t.format = f;
  t.pushover_user = "uKEY";
  return t;
}

TEST(NotifyPayload, Presets) {
  struct Case {
    PayloadFormat format;
    std::string content_type;
    std::string body;
    Headers headers;
  };
  const Event e = sample();
  const Secrets secrets{"", "tok en"};
  const std::vector<Case> cases = {
      {PayloadFormat::generic, "application/json", serialize(e), {}},
      {PayloadFormat::ntfy, "text/plain; charset=utf-8", "From Bob: Lunch & <b>",
       {{"Title", "New mail"}, {"Priority", "4"}, {"Tags", "email"}, {"Authorization", "Bearer tok en"}}},
      {PayloadFormat::gotify, "application/json",
       "{\"message\":\"From Bob: Lunch & <b>\",\"priority\":8,\"title\":\"New mail\"}",
       {{"X-Gotify-Key", "tok en"}}},
      {PayloadFormat::pushover, "application/x-www-form-urlencoded",
       "token=tok+en&user=uKEY&title=New+mail&message=From+Bob%3A+Lunch+%26+%3Cb%3E&priority=1", {}},
      {PayloadFormat::ifttt, "application/json",
       "{\"value1\":\"New mail\",\"value2\":\"From Bob: Lunch & <b>\",\"value3\":\"Bob <bob@example.net>\"}", {}},
      {PayloadFormat::slack, "application/json",
       "{\"text\":\"*New mail*\\nFrom Bob: Lunch &amp; &lt;b&gt;\"}", {}},
      {PayloadFormat::mattermost, "application/json", "{\"text\":\"**New mail**\\nFrom Bob: Lunch & <b>\"}", {}},
      {PayloadFormat::discord, "application/json", "{\"content\":\"**New mail**\\nFrom Bob: Lunch & <b>\"}", {}},
  };
  for (const Case& c : cases) {
    Payload p = render_payload(e, target(c.format), secrets);
    EXPECT_EQ(p.content_type, c.content_type) << to_string(c.format);
    EXPECT_EQ(p.body, c.body) << to_string(c.format);
    EXPECT_EQ(p.headers, c.headers) << to_string(c.format);
  }
}

TEST(NotifyPayload, DefaultsAndPriorities) {
  Event e = sample();
  e.title.clear();
  e.message.clear();
  e.priority = Priority::low;
  EXPECT_EQ(render_payload(e, target(PayloadFormat::gotify), {}).body,
            "{\"message\":\"Lunch?\",\"priority\":2,\"title\":\"New mail\"}");
  Payload ntfy = render_payload(e, target(PayloadFormat::ntfy), {});
  EXPECT_EQ(ntfy.body, "Lunch?");
  EXPECT_EQ(ntfy.headers, (Headers{{"Title", "New mail"}, {"Priority", "2"}, {"Tags", "email"}}));
  e.priority = Priority::normal;
  EXPECT_EQ(render_payload(e, target(PayloadFormat::pushover), {"", "T"}).body,
            "token=T&user=uKEY&title=New+mail&message=Lunch%3F&priority=0");
}

TEST(NotifyPayload, HostileText) {
  Event e = sample();
  e.title = "Gr\xC3\xBC\xC3\x9F" "e\r\nX-Injected: 1";
  Payload ntfy = render_payload(e, target(PayloadFormat::ntfy), {});
  // CR LF become spaces, then the non-ASCII title is one RFC 2047 encoded-word.
  EXPECT_EQ(ntfy.headers[0].second, "=?UTF-8?B?R3LDvMOfZSAgWC1JbmplY3RlZDogMQ==?=");
  e.title = "ok";
  e.message = "bad \xFF utf8";
  EXPECT_EQ(render_payload(e, target(PayloadFormat::slack), {}).body,
            "{\"text\":\"*ok*\\nbad \xEF\xBF\xBD utf8\"}");
  e.message = std::string(3000, 'x');
  std::string discord = render_payload(e, target(PayloadFormat::discord), {}).body;
  EXPECT_EQ(discord, "{\"content\":\"**ok**\\n" + std::string(2000 - 7, 'x') + "\"}");
}

TEST(NotifyPayload, Signature) {
  EXPECT_EQ(signature("k3y", 1700000000, "{\"a\":1}"),
            "t=1700000000,v1=fd5a70e965043f7df6309c2c3b5ff5a8ffa99b1f5175e9a311459e73c4634d4a");
  // Same key again (cached context), another key, then the first again.
  EXPECT_EQ(signature("k3y", 1700000000, "{\"a\":1}"),
            "t=1700000000,v1=fd5a70e965043f7df6309c2c3b5ff5a8ffa99b1f5175e9a311459e73c4634d4a");
  EXPECT_EQ(signature("other", 1, ""), "t=1,v1=e483a94b47cd68b5cc2bfa0ea26ec0e4c0beb3c46f9af37131b221aef2e55da6");
  EXPECT_EQ(signature("k3y", 1700000000, "{\"a\":1}"),
            "t=1700000000,v1=fd5a70e965043f7df6309c2c3b5ff5a8ffa99b1f5175e9a311459e73c4634d4a");
}

TEST(NotifyPayload, BuildsRequest) {
  Event e = sample();
  Target t = target(PayloadFormat::gotify);
  t.method = "PUT";
  t.headers = {{"X-Extra", "1"}};
  Request r = build_request(e, t, {"k3y", ""}, 1700000000);
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.url, "https://receiver.example/hook");
  const std::string body = "{\"message\":\"From Bob: Lunch & <b>\",\"priority\":8,\"title\":\"New mail\"}";
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.headers, (Headers{{"X-Extra", "1"},
                                {"Content-Type", "application/json"},
                                {"Idempotency-Key", "0123456789abcdef0123456789abcdef"},
                                {"X-Mailward-Signature", signature("k3y", 1700000000, body)}}));
  // No key: no signature header. A user URL only counts when the target allows it.
  e.url = "https://user.example/x";
  r = build_request(e, t, {}, 1);
  EXPECT_EQ(r.headers.size(), 3u);
  EXPECT_EQ(r.url, "https://receiver.example/hook");
  t.allow_user_url = true;
  EXPECT_EQ(build_request(e, t, {}, 1).url, "https://user.example/x");
}

}  // namespace
}  // namespace mailward::notify
