// `mailward policy check|test|route` (policy_command.h): the daemon's own settings loader and
// decision engine, run once from the command line.
#include "policy/cli/policy_command.h"

#include <exception>

#include "common/config/config.h"
#include "common/store/store.h"
#include "policy/checks/engine.h"

namespace mailward::policy {

namespace {

constexpr int kUsage = 64;
constexpr int kConfig = 78;

int usage(std::ostream& err) {
  err << "usage: mailward policy check [--config FILE]\n"
         "       mailward policy test [--config FILE] NAME=VALUE...\n"
         "       mailward policy route [--config FILE] relayhost|transport KEY\n";
  return kUsage;
}

bool set_attribute(Request& r, const std::string& name, const std::string& value) {
  // Through the real parser, so the command accepts exactly what the daemon accepts.
  RequestParser p;
  std::vector<Request> one;
  if (p.feed(name + "=" + value + "\n\n", one) != ParseError::none || one.size() != 1) return false;
  const Request& x = one[0];
  auto take = [](std::string& to, const std::string& from) {
    if (!from.empty()) to = from;
  };
  take(r.request, x.request);
  take(r.protocol_state, x.protocol_state);
  take(r.protocol_name, x.protocol_name);
  take(r.client_address, x.client_address);
  take(r.client_name, x.client_name);
  take(r.helo_name, x.helo_name);
  take(r.queue_id, x.queue_id);
  take(r.sender, x.sender);
  take(r.recipient, x.recipient);
  take(r.recipient_count, x.recipient_count);
  take(r.instance, x.instance);
  take(r.sasl_username, x.sasl_username);
  take(r.sasl_method, x.sasl_method);
  take(r.size, x.size);
  return true;
}

}  // namespace

int run_policy_command(const std::vector<std::string>& args, std::ostream& out,
                       std::ostream& err) {
  if (args.empty()) return usage(err);
  const std::string& verb = args[0];
  std::string config_path = "/etc/mailward/mailward.conf";
  std::vector<std::string> rest;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) return usage(err);
      config_path = args[++i];
    } else {
      rest.push_back(args[i]);
    }
  }
  if (verb != "check" && verb != "test" && verb != "route") return usage(err);
  if (verb == "check" && !rest.empty()) return usage(err);
  if (verb == "route" && rest.size() != 2) return usage(err);
  if (verb == "test" && rest.empty()) return usage(err);

  PolicySettings settings;
  SenderMap map;
  try {
    config::Config cfg = config::Config::load_file(config_path);
    settings = load_policy_settings(cfg);
    bool sender_on = false;
    for (CheckKind k : settings.checks) sender_on = sender_on || k == CheckKind::sender;
    std::string error;
    if (sender_on && !SenderMap::load_file(settings.sender_map_path, map, error)) {
      err << "mailward policy: " << error << "\n";
      return kConfig;
    }
  } catch (const std::exception& e) {
    err << "mailward policy: " << e.what() << "\n";
    return kConfig;
  }
  if (verb == "check") {
    out << "policy configuration OK: " << config_path << " (" << settings.checks.size()
        << " checks, " << settings.limits.size() << " limits, " << map.size()
        << " sender map entries)\n";
    return 0;
  }
  std::unique_ptr<store::Store> memory = store::open_memory_store();
  PolicyEngine engine(settings, memory.get(), std::move(map));
  if (verb == "route") {
    out << engine.socketmap_reply({rest[0], rest[1]}) << "\n";
    return 0;
  }
  Request r;
  for (const std::string& a : rest) {
    std::size_t eq = a.find('=');
    if (eq == std::string::npos || !set_attribute(r, a.substr(0, eq), a.substr(eq + 1))) {
      err << "mailward policy test: not a policy attribute: '" << a << "' (NAME=VALUE)\n";
      return kUsage;
    }
  }
  if (r.request.empty()) r.request = "smtpd_access_policy";
  if (r.protocol_state.empty()) r.protocol_state = "RCPT";
  Decision d = engine.evaluate(r, store::Clock::now());
  out << "action=" << d.action << "\n";
  if (!d.check.empty()) out << "check: " << d.check << "\n";
  if (!d.reason.empty()) out << "reason: " << d.reason << "\n";
  return 0;
}

}  // namespace mailward::policy
