// The HTTP + JSON side of the Dovecot auth policy (see endpoint.h).
#include "policy/auth/endpoint.h"

#include <openssl/crypto.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/util/text.h"

namespace mailward::auth_policy {
namespace {

using nlohmann::json;

HttpAnswer error_answer(int status, std::string_view why, bool keep_alive = true) {
  HttpAnswer a;
  a.http_status = status;
  json j = {{"status", -1}, {"msg", std::string(why)}};
  a.body = j.dump(-1, ' ', true, json::error_handler_t::replace);
  a.keep_alive = keep_alive;
  return a;
}

bool key_matches(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
}

// Text from the request for the log: bounded, control characters replaced.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 128)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > 128) out += "...";
  return out;
}

}  // namespace

AuthPolicyConfig read_config(const config::Config& c, std::string_view section) {
  c.require_known_keys(section, {"listen", "path", "api_header", "api_key_file", "allow_networks",
                                 "ipv6_prefix", "failure_window", "delay_after", "ip_delay_after",
                                 "user_delay_after", "block_after", "block_time", "max_delay",
                                 "fail_mode"});
  AuthPolicyConfig out;
  out.policy = read_settings(c, section);
  out.listen = c.get_string(section, "listen", "127.0.0.1:8099");
  out.endpoint.path = c.get_string(section, "path", "/");
  if (out.endpoint.path.empty() || out.endpoint.path[0] != '/') {
    config::Config::fail(*c.find(section, "path"), "must start with '/'");
  }
  out.endpoint.api_header = text::to_lower(c.get_string(section, "api_header", "X-API-Key"));
  if (out.endpoint.api_header.empty()) {
    config::Config::fail(*c.find(section, "api_header"), "must name a header field");
  }
  const config::Entry* key_file = c.find(section, "api_key_file");
  if (!key_file) {
    throw config::ConfigError(c.file() + ": [" + std::string(section) +
                              "] api_key_file is required (the key Dovecot sends with "
                              "auth_policy_server_api_header)");
  }
  std::ifstream in(key_file->value);
  std::string line;
  if (!in || !std::getline(in, line)) {
    config::Config::fail(*key_file, "cannot read " + key_file->value);
  }
  out.endpoint.api_key = std::string(text::trim(line));
  if (out.endpoint.api_key.empty()) config::Config::fail(*key_file, "the key file is empty");
  return out;
}

AuthPolicyEndpoint::AuthPolicyEndpoint(AuthPolicy& policy, EndpointSettings settings)
    : policy_(policy), settings_(std::move(settings)) {}

HttpAnswer AuthPolicyEndpoint::respond(const HttpRequest& req) {
  try {
    const std::string* key = req.field(settings_.api_header);
    if (!key || !key_matches(*key, settings_.api_key)) {
      log::warning("auth-policy: request without the right ", settings_.api_header, " refused");
      return error_answer(401, "unauthorized", req.keep_alive);
    }
    if (req.path != settings_.path) return error_answer(404, "not found", req.keep_alive);
    if (req.method != "POST") return error_answer(405, "only POST", req.keep_alive);
    std::string command;
    if (!query_param(req.query, "command", command)) {
      return error_answer(400, "missing command", req.keep_alive);
    }
    Attempt a;
    if (command == "allow") {
      a.command = Command::allow;
    } else if (command == "report") {
      a.command = Command::report;
    } else {
      return error_answer(400, "unknown command", req.keep_alive);
    }
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return error_answer(400, "body is not a JSON object", req.keep_alive);
    }
    auto str = [&](const char* name, std::string& out) {
      auto it = j.find(name);
      if (it == j.end() || it->is_null()) return true;
      if (!it->is_string()) return false;
      out = it->get<std::string>();
      return out.size() <= 512;
    };
    auto boolean = [&](const char* name, bool& out) {
      auto it = j.find(name);
      if (it == j.end()) return a.command == Command::allow;  // required on report
      if (!it->is_boolean()) return false;
      out = it->get<bool>();
      return true;
    };
    if (!str("login", a.login) || !str("remote", a.remote) || !str("protocol", a.protocol)) {
      return error_answer(400, "login, remote and protocol must be strings", req.keep_alive);
    }
    if (!boolean("success", a.success) || !boolean("policy_reject", a.policy_reject)) {
      return error_answer(400, "report needs boolean success and policy_reject", req.keep_alive);
    }
    Verdict v = policy_.decide(a);
    const std::string line = "auth-policy: " + command + " login=" + printable(a.login) +
                             " remote=" + printable(a.remote) + " protocol=" +
                             printable(a.protocol) +
                             (a.command == Command::report
                                  ? std::string(" success=") + (a.success ? "yes" : "no")
                                  : std::string()) +
                             ": status=" + std::to_string(v.status) + " " + v.reason;
    if (v.store_failed) {
      log::warning(line);
    } else {
      log::info(line);
    }
    HttpAnswer answer;
    json out = {{"status", v.status}, {"msg", v.message}};
    answer.body = out.dump(-1, ' ', true, json::error_handler_t::replace);
    answer.keep_alive = req.keep_alive;
    return answer;
  } catch (const std::exception& e) {
    log::error("auth-policy: internal error: ", e.what());
    return error_answer(500, "internal error", false);
  }
}

std::string AuthPolicyEndpoint::handle(std::string_view bytes) {
  HttpParseResult p = parse_http_request(bytes, settings_.limits);
  if (p.state == HttpParseState::complete) return respond(p.request).render();
  if (p.state == HttpParseState::incomplete) {
    return error_answer(400, "incomplete request", false).render();
  }
  log::warning("auth-policy: malformed HTTP request: ", p.error);
  return error_answer(p.error_status, p.error, false).render();
}

bool AuthPolicyConnection::on_data(std::string_view bytes, std::string& out) {
  buffer_.append(bytes);
  for (;;) {
    HttpParseResult p = parse_http_request(buffer_, endpoint_.settings().limits);
    if (p.state == HttpParseState::incomplete) return true;
    if (p.state == HttpParseState::bad) {
      log::warning("auth-policy: malformed HTTP request: ", p.error);
      out += error_answer(p.error_status, p.error, false).render();
      buffer_.clear();
      return false;
    }
    buffer_.erase(0, p.consumed);
    HttpAnswer a = endpoint_.respond(p.request);
    out += a.render();
    if (!a.keep_alive) {
      buffer_.clear();
      return false;
    }
  }
}

}  // namespace mailward::auth_policy
