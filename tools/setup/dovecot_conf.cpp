// The pure part of `mailward setup dovecot`: the text of conf.d/99-mailward.conf (dovecot_conf.h).
#include "tools/setup/dovecot_conf.h"

#include <algorithm>

#include "common/util/text.h"
#include "policy/auth/endpoint.h"
#include "tools/setup/paths.h"

namespace mailward::setup {

namespace {

// `current` words first (what the administrator had, in their order), then ours not yet there.
std::string merge(const std::vector<std::string>& current, const std::vector<std::string>& ours) {
  std::vector<std::string> all = current;
  for (const std::string& w : ours)
    if (std::find(all.begin(), all.end(), w) == all.end()) all.push_back(w);
  std::string out;
  for (const std::string& w : all) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::string header_name(std::string_view lower) {
  std::string out(lower);
  bool start = true;
  for (char& c : out) {
    if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    start = c == '-';
  }
  return out;
}

}  // namespace

std::vector<std::string> split_words(std::string_view value) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && text::is_fws(value[i])) ++i;
    std::size_t start = i;
    while (i < value.size() && !text::is_fws(value[i])) ++i;
    if (i > start) out.emplace_back(value.substr(start, i - start));
  }
  return out;
}

std::string render_dovecot_conf(const DovecotInputs& in) {
  std::string o;
  o += "# mailward for Dovecot 2.3 / Pigeonhole 0.5, written by `mailward setup dovecot`.\n"
       "# Run that command again rather than editing this file: a file that differs is backed up and\n"
       "# replaced. Plugin lists merge what the rest of the configuration already had.\n"
       "\n"
       "# Sieve at delivery (LMTP and LDA), with the notification extension vnd.mailward.webhook.\n"
       "protocol lmtp {\n"
       "  mail_plugins = $mail_plugins sieve\n"
       "}\n"
       "protocol lda {\n"
       "  mail_plugins = $mail_plugins sieve\n"
       "}\n";
  std::vector<std::string> plugins = {"sieve_mailward"};
  // Only the learning scripts' extensions are global-only. vnd.mailward.webhook must NOT be listed
  // in sieve_global_extensions: Pigeonhole then restricts it to global scripts and a user's script
  // fails to load at delivery ("its use is restricted to global scripts"); sieve_extensions already
  // offers it to every script. A listing left by an earlier version of this command is dropped.
  std::vector<std::string> global;
  if (in.imapsieve) {
    plugins.insert(plugins.begin(), {"sieve_imapsieve", "sieve_extprograms"});
    global.insert(global.end(), {"+vnd.dovecot.pipe", "+vnd.dovecot.environment"});
    o += "\n"
         "# Learning from users' Junk moves (imapsieve; packaging/imapsieve). The pipe programs map the\n"
         "# Bayes store, which needs more address space than imap's default vsz_limit.\n"
         "protocol imap {\n"
         "  mail_plugins = $mail_plugins imap_sieve\n"
         "}\n"
         "service imap {\n"
         "  vsz_limit = 2G\n"
         "}\n";
  }
  o += "\nplugin {\n";
  o += "  sieve_plugins = " + merge(in.current_sieve_plugins, plugins) + "\n";
  o += "  sieve_extensions = " + merge(in.current_sieve_extensions, {"+vnd.mailward.webhook"}) + "\n";
  std::vector<std::string> current_global;
  for (const std::string& e : in.current_sieve_global_extensions)
    if (e != "+vnd.mailward.webhook" && e != "vnd.mailward.webhook") current_global.push_back(e);
  std::string global_list = merge(current_global, global);
  if (!global_list.empty() || !in.current_sieve_global_extensions.empty())
    o += "  sieve_global_extensions = " + global_list + "\n";
  if (!in.mailward_config.empty() && in.mailward_config != kMailwardConfig)
    o += "  mailward_config = " + in.mailward_config + "\n";
  if (in.imapsieve) {
    const std::string& d = in.imapsieve_dir;
    o += "  sieve_pipe_bin_dir = " + d + "\n"
         "  # Into Junk (moved, copied, or appended by a client that moves by APPEND): spam.\n"
         "  imapsieve_mailbox1_name = Junk\n"
         "  imapsieve_mailbox1_causes = COPY APPEND\n"
         "  imapsieve_mailbox1_before = file:" + d + "/report-spam.sieve\n"
         "  # Out of Junk into any other mailbox: ham.\n"
         "  imapsieve_mailbox2_name = *\n"
         "  imapsieve_mailbox2_from = Junk\n"
         "  imapsieve_mailbox2_causes = COPY\n"
         "  imapsieve_mailbox2_before = file:" + d + "/report-ham.sieve\n";
  }
  o += "}\n";
  if (!in.auth_policy_url.empty()) {
    o += "\n"
         "# Authentication policy answered by mailward-policyd ([auth-policy] in mailward.conf). The key\n"
         "# header and the nonce are read from root-only files. Dovecot asks again after a successful\n"
         "# password check only to repeat the first answer's delay, hence check_after_auth = no.\n"
         "auth_policy_server_url = " + in.auth_policy_url + "\n"
         "auth_policy_server_api_header = <" + in.api_header_file + "\n"
         "auth_policy_hash_nonce = <" + in.nonce_file + "\n"
         "auth_policy_reject_on_fail = no\n"
         "auth_policy_check_before_auth = yes\n"
         "auth_policy_check_after_auth = no\n"
         "auth_policy_report_after_auth = yes\n";
  } else {
    o += "\n# Authentication policy: not configured (no [auth-policy] section in mailward.conf).\n";
  }
  return o;
}

std::string auth_policy_url(const std::string& listen, const std::string& path, std::string& error) {
  if (listen.empty() || listen.front() == '/') {
    error = "Dovecot's auth_policy_server_url speaks HTTP over TCP only; [auth-policy] listen = " + listen +
            " is not a host:port (use e.g. 127.0.0.1:8099)";
    return {};
  }
  std::string host_port = listen;
  if (host_port.starts_with("0.0.0.0:")) host_port = "127.0.0.1:" + host_port.substr(8);
  if (host_port.starts_with("[::]:")) host_port = "[::1]:" + host_port.substr(5);
  std::string p = path.empty() ? "/" : path;
  if (p.front() != '/') p = "/" + p;
  return "http://" + host_port + p;
}

AuthPolicyWanted auth_policy_from_config(const config::Config& config) {
  AuthPolicyWanted w;
  if (!config.has_section("auth-policy")) return w;
  auth_policy::AuthPolicyConfig c = auth_policy::read_config(config, "auth-policy");
  std::string error;
  w.url = auth_policy_url(c.listen, c.endpoint.path, error);
  if (w.url.empty()) {
    if (const config::Entry* e = config.find("auth-policy", "listen")) config::Config::fail(*e, error);
    throw config::ConfigError(config.file() + ": [auth-policy] listen: " + error);
  }
  w.header_line = header_name(c.endpoint.api_header) + ": " + c.endpoint.api_key;
  w.configured = true;
  return w;
}

}  // namespace mailward::setup
