// Payload presets for the notification receivers (see payload.h and the notifyd README).
// Receiver APIs as documented by each project: ntfy "Publishing" (headers Title/Priority/Tags,
// priorities 1..5), Gotify "POST /message" ({title,message,priority}, X-Gotify-Key), Pushover
// "Messages API" (form fields token,user,title,message,priority -2..2), IFTTT Maker
// ({value1,value2,value3}), Slack / Mattermost incoming webhooks ({text}), Discord webhooks
// ({content}, at most 2000 characters).
#include "common/notify/payload.h"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include <nlohmann/json.hpp>

namespace mailward::notify {

namespace {

using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Valid UTF-8: invalid sequences become U+FFFD, as in every JSON body.
std::string repair_utf8(const std::string& s) {
  json back = json::parse(dump(json(s)), nullptr, false);
  return back.is_string() ? back.get<std::string>() : std::string();
}

// Header values: RFC 9110 §5.5 forbids CR, LF and NUL; other controls become spaces too.
std::string header_safe(std::string_view v) {
  std::string out(v);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

bool is_ascii(std::string_view v) {
  for (char c : v)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// A header value with non-ASCII text as one RFC 2047 B encoded-word (ntfy decodes these).
// Invalid UTF-8 is passed through JSON's replacement first so the word is valid UTF-8.
std::string encoded_word(std::string_view v) {
  std::string safe = header_safe(v);
  if (is_ascii(safe)) return safe;
  std::string utf8 = repair_utf8(safe);
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "=?UTF-8?B?";
  std::size_t i = 0;
  for (; i + 3 <= utf8.size(); i += 3) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(utf8[k])); };
    unsigned n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += b64[(n >> 18) & 63];
    out += b64[(n >> 12) & 63];
    out += b64[(n >> 6) & 63];
    out += b64[n & 63];
  }
  if (std::size_t rest = utf8.size() - i; rest > 0) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(utf8[i])) << 16;
    if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(utf8[i + 1])) << 8;
    out += b64[(n >> 18) & 63];
    out += b64[(n >> 12) & 63];
    out += rest == 2 ? b64[(n >> 6) & 63] : '=';
    out += '=';
  }
  out += "?=";
  return out;
}

// application/x-www-form-urlencoded (WHATWG URL "urlencoded serializer").
std::string form_escape(std::string_view v) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '*' ||
        c == '-' || c == '.' || c == '_') {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

// Slack mrkdwn: &, < and > must be escaped (Slack "Formatting text for app surfaces").
std::string slack_escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

// Cuts to at most `max_chars` code points (Discord counts characters), on a UTF-8 boundary.
std::string cut_utf8(const std::string& s, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) return s.substr(0, i);
      ++chars;
    }
  }
  return s;
}

std::string titled(std::string_view bold, const Event& e, bool escape_slack) {
  std::string title = display_title(e);
  std::string message = display_message(e);
  if (escape_slack) {
    title = slack_escape(title);
    message = slack_escape(message);
  }
  return std::string(bold) + title + std::string(bold) + "\n" + message;
}

}  // namespace

std::string display_title(const Event& e) { return e.title.empty() ? "New mail" : e.title; }
std::string display_message(const Event& e) { return e.message.empty() ? e.subject : e.message; }

Payload render_payload(const Event& e, const Target& target, const Secrets& secrets) {
  Payload p;
  switch (target.format) {
    case PayloadFormat::generic:
      p.content_type = "application/json";
      p.body = serialize(e);
      break;
    case PayloadFormat::ntfy: {
      p.content_type = "text/plain; charset=utf-8";
      p.body = display_message(e);
      p.headers.emplace_back("Title", encoded_word(display_title(e)));
      const char* prio = e.priority == Priority::low ? "2" : e.priority == Priority::high ? "4" : "3";
      p.headers.emplace_back("Priority", prio);
      p.headers.emplace_back("Tags", "email");
      if (!secrets.token.empty()) p.headers.emplace_back("Authorization", "Bearer " + header_safe(secrets.token));
      break;
    }
    case PayloadFormat::gotify: {
      p.content_type = "application/json";
      int prio = e.priority == Priority::low ? 2 : e.priority == Priority::high ? 8 : 5;
      p.body = dump(json{{"title", display_title(e)}, {"message", display_message(e)}, {"priority", prio}});
      if (!secrets.token.empty()) p.headers.emplace_back("X-Gotify-Key", header_safe(secrets.token));
      break;
    }
    case PayloadFormat::pushover: {
      p.content_type = "application/x-www-form-urlencoded";
      const char* prio = e.priority == Priority::low ? "-1" : e.priority == Priority::high ? "1" : "0";
      // Pushover limits: title 250, message 1024 characters.
      p.body = "token=" + form_escape(secrets.token) + "&user=" + form_escape(target.pushover_user) +
               "&title=" + form_escape(cut_utf8(repair_utf8(display_title(e)), 250)) +
               "&message=" + form_escape(cut_utf8(repair_utf8(display_message(e)), 1024)) +
               "&priority=" + prio;
      break;
    }
    case PayloadFormat::ifttt:
      p.content_type = "application/json";
      p.body = dump(json{{"value1", display_title(e)}, {"value2", display_message(e)}, {"value3", e.header_from}});
      break;
    case PayloadFormat::slack:
      p.content_type = "application/json";
      p.body = dump(json{{"text", titled("*", e, true)}});
      break;
    case PayloadFormat::mattermost:
      p.content_type = "application/json";
      p.body = dump(json{{"text", titled("**", e, false)}});
      break;
    case PayloadFormat::discord: {
      p.content_type = "application/json";
      // Repair UTF-8 first so the cut counts real characters.
      std::string text = repair_utf8(titled("**", e, false));
      p.body = dump(json{{"content", cut_utf8(text, 2000)}});
      break;
    }
  }
  return p;
}

namespace {

// A keyed HMAC-SHA256 context, built once per key and thread and duplicated per signature: the
// one-shot HMAC() looks the digest up by name on every call (~7% of notifyd's CPU per event).
struct MacCache {
  std::string key;
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  ~MacCache() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

EVP_MAC_CTX* keyed_ctx(std::string_view key) {
  thread_local MacCache cache;
  if (cache.ctx && cache.key == key) return EVP_MAC_CTX_dup(cache.ctx);
  if (!cache.mac) cache.mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!cache.mac) return nullptr;
  EVP_MAC_CTX_free(cache.ctx);
  cache.ctx = EVP_MAC_CTX_new(cache.mac);
  cache.key.assign(key);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
  if (!cache.ctx ||
      !EVP_MAC_init(cache.ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params)) {
    EVP_MAC_CTX_free(cache.ctx);
    cache.ctx = nullptr;
    return nullptr;
  }
  return EVP_MAC_CTX_dup(cache.ctx);
}

}  // namespace

std::string signature(std::string_view key, std::int64_t unix_time, std::string_view body) {
  const std::string t = std::to_string(unix_time);
  std::string out = "t=" + t + ",v1=";
  EVP_MAC_CTX* ctx = keyed_ctx(key);
  if (!ctx) return out;
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_len = 0;
  bool ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(t.data()), t.size()) &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>("."), 1) &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) &&
            EVP_MAC_final(ctx, mac, &mac_len, sizeof mac);
  EVP_MAC_CTX_free(ctx);
  if (!ok) return out;
  static const char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < mac_len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

Request build_request(const Event& e, const Target& target, const Secrets& secrets, std::int64_t now_unix) {
  Request r;
  r.method = target.method;
  r.url = (target.allow_user_url && e.url && !e.url->empty()) ? *e.url : target.url;
  Payload p = render_payload(e, target, secrets);
  for (const auto& h : target.headers) r.headers.push_back(h);
  r.headers.emplace_back("Content-Type", p.content_type);
  for (auto& h : p.headers) r.headers.push_back(std::move(h));
  r.headers.emplace_back("Idempotency-Key", e.id);
  if (!secrets.signing_key.empty())
    r.headers.emplace_back("X-Mailward-Signature", signature(secrets.signing_key, now_unix, p.body));
  r.body = std::move(p.body);
  return r;
}

}  // namespace mailward::notify
