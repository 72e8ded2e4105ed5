// `mailward notify test|queue|enqueue` (see notify_command.h).
#include "tools/notify_command.h"

#include <chrono>
#include <map>
#include <thread>

#include "common/config/config.h"
#include "common/notify/event.h"
#include "common/notify/payload.h"
#include "common/notify/targets.h"
#include "common/util/text.h"
#include "dovecot-plugins/notifyd/spool.h"
#include "dovecot-plugins/notifyd/transfer.h"
#include "dovecot-plugins/notifyd/address_check.h"

namespace mailward {

namespace {

int usage(std::ostream& err) {
  err << "usage: mailward notify test TARGET --config PATH\n"
         "       mailward notify queue --config PATH\n";
  return 2;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int test_target(const notify::NotifySettings& s, const std::string& name, std::ostream& out, std::ostream& err) {
  const notify::Target* target = s.find(name);
  if (!target) {
    err << "mailward notify: no target \"" << name << "\"\n";
    return 1;
  }
  notify::Event e;
  e.id = notify::new_event_id();
  e.time_ms = now_ms();
  e.user = "test@mailward.invalid";
  e.mailbox = "INBOX";
  e.envelope_from = "sender@mailward.invalid";
  e.header_from = "mailward <sender@mailward.invalid>";
  e.to = e.user;
  e.subject = "mailward test notification";
  e.message_id = "<" + e.id + "@mailward.invalid>";
  e.target = target->name;
  e.title = "mailward test";
  e.message = "This is a test notification from mailward notify test.";
  notify::Secrets secrets;
  std::string error;
  if (!notifyd::load_secrets(*target, secrets, error)) {
    err << "mailward notify: target " << name << ": " << error << "\n";
    return 1;
  }
  notify::Request request = notify::build_request(e, *target, secrets, e.time_ms / 1000);
  auto transfer = notifyd::Transfer::create(request, *target, false, {}, error);
  if (!transfer) {
    err << "mailward notify: " << error << "\n";
    return 1;
  }
  notifyd::Response r = transfer->perform();
  if (r.status == 0) {
    out << "no response: " << r.error << "\n";
    return 1;
  }
  out << "HTTP " << r.status << "\n" << r.body;
  if (!r.body.empty() && r.body.back() != '\n') out << "\n";
  return r.status >= 200 && r.status < 300 ? 0 : 1;
}

int show_queue(const notify::NotifySettings& s, std::ostream& out) {
  notifyd::Spool spool(s.spool);
  auto entries = spool.list_queue();
  std::size_t pending = 0, dead = 0;
  for (const auto& e : entries) (e.dead ? dead : pending)++;
  out << "pending " << pending << ", dead " << dead << "\n";
  const std::int64_t now = now_ms();
  for (const auto& e : entries) {
    out << (e.dead ? "dead    " : "pending ");
    if (!e.problem.empty()) {
      out << e.name << " unreadable: " << e.problem << "\n";
      continue;
    }
    out << e.id << " target=" << e.target << " age=" << (now - e.time_ms) / 1000 << "s attempts="
        << e.state.attempts;
    if (!e.state.last_error.empty()) out << " last_error=" << e.state.last_error;
    out << "\n";
  }
  return 0;
}

int enqueue(const notify::NotifySettings& s, const std::map<std::string, std::vector<std::string>>& opts,
            std::ostream& out, std::ostream& err) {
  auto one = [&](const char* key, const char* fallback) -> std::string {
    auto it = opts.find(key);
    return it == opts.end() ? fallback : it->second.back();
  };
  notify::Event base;
  base.user = one("user", "");
  base.target = one("target", "");
  base.title = one("title", "");
  base.message = one("message", "");
  base.subject = one("subject", "");
  base.mailbox = "INBOX";
  std::string prio = one("priority", "normal");
  base.priority = prio == "low" ? notify::Priority::low : prio == "high" ? notify::Priority::high : notify::Priority::normal;
  if (opts.contains("url")) base.url = one("url", "");
  if (auto it = opts.find("field"); it != opts.end()) {
    for (const std::string& f : it->second) {
      std::size_t eq = f.find('=');
      base.fields.emplace_back(f.substr(0, eq), eq == std::string::npos ? "" : f.substr(eq + 1));
    }
  }
  if (base.user.empty() || base.target.empty()) {
    err << "mailward notify enqueue: --target and --user are required\n";
    return 2;
  }
  unsigned long long count = 1, interval_ms = 0;
  if (!text::parse_uint(one("count", "1"), 1'000'000, count) ||
      !text::parse_uint(one("interval-ms", "0"), 60'000, interval_ms))
    return usage(err);
  notifyd::Spool spool(s.spool);
  std::string error;
  if (!spool.ensure(error)) {
    err << "mailward notify enqueue: " << error << "\n";
    return 1;
  }
  for (unsigned long long i = 0; i < count; ++i) {
    notify::Event e = base;
    e.id = notify::new_event_id();
    e.time_ms = now_ms();
    if (count > 1) e.message += " #" + std::to_string(i + 1);
    notify::WriteResult w = notify::write_event(s.spool, e);
    if (!w.ok) {
      err << "mailward notify enqueue: " << w.error << "\n";
      return 1;
    }
    out << e.id << "\n";
    if (interval_ms > 0 && i + 1 < count) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  return 0;
}

}  // namespace

int run_notify_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string config_path;
  std::vector<std::string> words;
  std::map<std::string, std::vector<std::string>> opts;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.starts_with("--")) {
      if (i + 1 >= args.size()) return usage(err);
      if (a == "--config") config_path = args[++i];
      else opts[a.substr(2)].push_back(args[++i]);
    } else {
      words.push_back(a);
    }
  }
  if (words.empty() || config_path.empty()) return usage(err);
  notify::NotifySettings settings;
  try {
    settings = notify::parse_notify_settings(config::Config::load_file(config_path));
  } catch (const std::exception& e) {
    err << "mailward notify: " << e.what() << "\n";
    return 1;
  }
  if (words[0] == "test" && words.size() == 2 && opts.empty()) return test_target(settings, words[1], out, err);
  if (words[0] == "queue" && words.size() == 1 && opts.empty()) return show_queue(settings, out);
  if (words[0] == "enqueue" && words.size() == 1) return enqueue(settings, opts, out, err);
  return usage(err);
}

}  // namespace mailward
