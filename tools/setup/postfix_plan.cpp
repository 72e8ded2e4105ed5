// The pure part of `mailward setup postfix`: current Postfix settings + mailward.conf -> changes.
// The decisions and their reasons are listed in postfix_plan.h.
#include "tools/setup/postfix_plan.h"

#include <algorithm>

#include "common/util/text.h"
#include "milters/milter/settings.h"
#include "policy/checks/settings.h"
#include "tools/setup/paths.h"

namespace mailward::setup {

namespace {

bool is_list_separator(char c) { return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string value_of(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

// The first element inside a `{ ... }` group, or the element itself.
std::string first_word(const std::string& element) {
  if (element.empty() || element.front() != '{') return element;
  std::vector<std::string> inner = split_postfix_list(std::string_view(element).substr(1, element.size() - 2));
  return inner.empty() ? std::string() : inner.front();
}

// Does a list element name our socket? Both the chroot-relative form and the absolute path count.
bool names_socket(const std::string& element, const std::string& relative, const std::string& absolute) {
  std::string word = first_word(element);
  return word == relative || word == "unix:" + absolute;
}

// Restrictions that take the next list element as their argument (postconf(5)): written
// "check_policy_service unix:x", as people write them, not "check_policy_service, unix:x".
bool takes_argument(std::string_view element) {
  return element.starts_with("check_") || element.starts_with("reject_rbl_") ||
         element.starts_with("reject_rhsbl_") || element.starts_with("permit_dnswl_") ||
         element.starts_with("permit_rhswl_");
}

// Postfix lists in main.cf are written "a, b arg, c"; master.cf -o values without spaces ("a,b,arg,c").
std::string render_list(const std::vector<std::string>& items, bool master) {
  if (master) return join(items, ",");
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += takes_argument(items[i - 1]) ? " " : ", ";
    out += items[i];
  }
  return out;
}

// Append `element` to a list unless it is already there. Returns true when changed.
bool append_unique(std::vector<std::string>& list, const std::string& element, const std::string& absolute) {
  for (const std::string& e : list)
    if (names_socket(e, element, absolute)) return false;
  list.push_back(element);
  return true;
}

// Is `check_policy_service <socket>` in the restriction list?
bool has_policy(const std::vector<std::string>& list, const std::string& relative, const std::string& absolute) {
  for (std::size_t i = 0; i + 1 < list.size(); ++i)
    if (text::iequals(list[i], "check_policy_service") && names_socket(list[i + 1], relative, absolute))
      return true;
  return false;
}

}  // namespace

std::vector<std::string> split_postfix_list(std::string_view value) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < value.size()) {
    if (is_list_separator(value[i])) {
      ++i;
      continue;
    }
    std::size_t start = i;
    if (value[i] == '{') {  // a group runs to its matching '}' (groups may nest)
      int depth = 0;
      for (; i < value.size(); ++i) {
        if (value[i] == '{') ++depth;
        if (value[i] == '}' && --depth == 0) {
          ++i;
          break;
        }
      }
    } else {
      while (i < value.size() && !is_list_separator(value[i])) ++i;
    }
    out.emplace_back(value.substr(start, i - start));
  }
  return out;
}

std::string chroot_relative(std::string_view path, std::string_view queue_directory) {
  std::string queue(queue_directory);
  while (queue.size() > 1 && queue.back() == '/') queue.pop_back();
  if (queue.empty() || path.size() <= queue.size() + 1 || !path.starts_with(queue) ||
      path[queue.size()] != '/')
    return {};
  std::string rest(path.substr(queue.size() + 1));
  // "../" would leave the chroot again.
  for (std::string_view part : text::split(rest, '/'))
    if (part == ".." || part.empty()) return {};
  return "unix:" + rest;
}

std::string PostfixChange::postconf_argument() const {
  if (service.empty()) return parameter + " = " + new_value;
  return service + "/" + parameter + "=" + new_value;
}

PostfixWanted wanted_from_config(const config::Config& config) {
  PostfixWanted w;
  w.source = config.file();
  milter::Settings milter_settings = milter::load_settings(config);
  w.milter_socket = milter_settings.socket_path;
  if (config.has_section("policy")) {
    policy::PolicySettings p = policy::load_policy_settings(config);
    w.policy_socket = p.socket_path;
    w.socketmap_socket = p.socketmap_path;
    bool route_on = std::find(p.checks.begin(), p.checks.end(), policy::CheckKind::route) != p.checks.end();
    w.sender_routes = route_on && (!p.sender_routes.empty() || !p.fallback_relay.empty());
    w.recipient_routes = route_on && !p.recipient_routes.empty();
  }
  return w;
}

namespace {

PostfixPlan plan_unchecked(const PostfixSettings& current, const PostfixWanted& wanted) {
  PostfixPlan plan;
  std::string queue = value_of(current.main, "queue_directory");
  if (queue.empty()) queue = kPostfixQueueDir;

  auto relative_or_fail = [&](const std::string& path, const char* what, const char* key) {
    std::string rel = chroot_relative(path, queue);
    if (rel.empty() && plan.error.empty())
      plan.error = std::string(what) + " socket " + path + " ([" + key + "] socket in " + wanted.source +
                   ") is not inside Postfix's queue directory " + queue +
                   ": Debian's master.cf runs smtpd and cleanup chrooted there, so Postfix could not "
                   "reach it. Put it below " + queue + " (e.g. " + queue + "/mailward/" +
                   (std::string_view(key) == "milter" ? "milter.sock" : "policy.sock") + ")";
    return rel;
  };

  auto set_main = [&](const std::string& parameter, const std::string& value, const std::string& reason) {
    std::string old = value_of(current.main, parameter);
    if (old == value) return;
    plan.changes.push_back({"", parameter, current.main.contains(parameter), old, value, reason});
  };

  // Milters (both lists: mail from SMTP clients and from sendmail/local submission).
  std::string milter = relative_or_fail(wanted.milter_socket, "mailward-milter's", "milter");
  if (!plan.error.empty()) return plan;
  for (const char* parameter : {"smtpd_milters", "non_smtpd_milters"}) {
    std::vector<std::string> list = split_postfix_list(value_of(current.main, parameter));
    // non_smtpd_milters = $smtpd_milters already gets ours through smtpd_milters.
    bool by_reference = std::string_view(parameter) == "non_smtpd_milters" &&
                        (std::find(list.begin(), list.end(), "$smtpd_milters") != list.end() ||
                         std::find(list.begin(), list.end(), "${smtpd_milters}") != list.end());
    if (!by_reference && append_unique(list, milter, wanted.milter_socket))
      set_main(parameter, render_list(list, false),
               std::string("mailward-milter for mail ") +
                   (std::string_view(parameter) == "smtpd_milters" ? "received over SMTP"
                                                                    : "submitted locally (sendmail)") +
                   "; other milters kept");
  }
  set_main("milter_default_action", "tempfail",
           "mail is deferred, never passed unchecked, while the milter cannot answer");
  set_main("milter_protocol", "6", "the milter protocol libmilter speaks");

  // The policy service.
  if (wanted.policy_socket.empty()) {
    plan.notes.push_back("no [policy] section in " + wanted.source +
                         ": mailward-policyd is not hooked into smtpd_relay_restrictions");
  } else {
    std::string pol = relative_or_fail(wanted.policy_socket, "mailward-policyd's", "policy");
    if (!plan.error.empty()) return plan;
    auto with_policy = [&](const std::string& value, bool& changed) {
      std::vector<std::string> list = split_postfix_list(value);
      changed = !has_policy(list, pol, wanted.policy_socket);
      if (changed) {
        list.insert(list.begin(), pol);
        list.insert(list.begin(), "check_policy_service");
      }
      return list;
    };
    bool changed = false;
    std::vector<std::string> relay = with_policy(value_of(current.main, "smtpd_relay_restrictions"), changed);
    if (changed)
      set_main("smtpd_relay_restrictions", render_list(relay, false),
               "mailward-policyd first: it sees every relay attempt, and authenticated senders before "
               "permit_sasl_authenticated; the rest kept");
    for (const std::string& service : current.submission_services) {
      std::string key = service + "/smtpd_relay_restrictions";
      auto it = current.overrides.find(key);
      if (it == current.overrides.end()) {
        plan.notes.push_back("master.cf " + service +
                             " has no smtpd_relay_restrictions of its own: it uses main.cf's");
        continue;
      }
      std::string value(text::trim(it->second));
      if (value.size() > 1 && value.front() == '$' && value.find_first_of(", \t") == std::string::npos) {
        // -o smtpd_relay_restrictions=$mua_relay_restrictions: change the main.cf parameter it names.
        std::string name = value.substr(1);
        if (!name.empty() && name.front() == '{' && name.back() == '}') name = name.substr(1, name.size() - 2);
        bool ch = false;
        std::vector<std::string> list = with_policy(value_of(current.main, name), ch);
        bool already = std::any_of(plan.changes.begin(), plan.changes.end(),
                                   [&](const PostfixChange& c) { return c.service.empty() && c.parameter == name; });
        if (ch && !already)
          plan.changes.push_back({"", name, current.main.contains(name), value_of(current.main, name),
                                  render_list(list, false),
                                  "used by master.cf " + service +
                                      " as its smtpd_relay_restrictions: mailward-policyd first"});
        continue;
      }
      bool ch = false;
      std::vector<std::string> list = with_policy(value, ch);
      if (ch)
        plan.changes.push_back({service, "smtpd_relay_restrictions", true, it->second, render_list(list, true),
                                "submission: mailward-policyd first (sender ownership, rate limits)"});
    }
  }

  // Sender-dependent relays and recipient routes, served by the policy daemon's socketmap.
  if (wanted.sender_routes || wanted.recipient_routes) {
    if (wanted.socketmap_socket.empty()) {
      plan.error = "[policy] configures routes but no socketmap_socket in " + wanted.source;
      return plan;
    }
    std::string map = chroot_relative(wanted.socketmap_socket, queue);
    if (map.empty()) {
      plan.error = "mailward-policyd's socketmap socket " + wanted.socketmap_socket + " ([policy] socketmap_socket in " +
                   wanted.source + ") is not inside Postfix's queue directory " + queue;
      return plan;
    }
    auto add_map = [&](const char* parameter, const std::string& table, const std::string& reason) {
      std::vector<std::string> list = split_postfix_list(value_of(current.main, parameter));
      std::string element = "socketmap:" + map + ":" + table;
      std::string absolute = "socketmap:unix:" + wanted.socketmap_socket + ":" + table;
      if (std::find(list.begin(), list.end(), element) != list.end() ||
          std::find(list.begin(), list.end(), absolute) != list.end())
        return;
      list.push_back(element);
      set_main(parameter, render_list(list, false), reason);
    };
    if (wanted.sender_routes)
      add_map("sender_dependent_relayhost_maps", "relayhost",
              "relay hosts per sender domain ([policy] route_sender_domain, route_fallback); earlier maps kept first");
    if (wanted.recipient_routes)
      add_map("transport_maps", "transport",
              "routes per recipient domain ([policy] route_recipient_domain); earlier maps kept first");
  }
  return plan;
}

}  // namespace

PostfixPlan plan_postfix(const PostfixSettings& current, const PostfixWanted& wanted) {
  PostfixPlan plan = plan_unchecked(current, wanted);
  if (!plan.error.empty()) plan.changes.clear();  // a refusal changes nothing
  return plan;
}

}  // namespace mailward::setup
