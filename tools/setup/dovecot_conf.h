// What `mailward setup dovecot` writes into Dovecot's conf.d (99-mailward.conf), decided by a pure
// function of its inputs; reading Dovecot's current values (doveconf) and writing files are in
// setup_command.cpp.
//
// The file (README.md in this directory, "setup dovecot"):
//   - LMTP and LDA delivery load Pigeonhole (`mail_plugins = $mail_plugins sieve`);
//   - the Sieve plugin `sieve_mailward` (vnd.mailward.webhook, dovecot-plugins/sieve-webhook) is
//     loaded and the extension offered to every script (`sieve_extensions`). It is deliberately not
//     in `sieve_global_extensions`: Pigeonhole restricts what is listed there to global scripts, and
//     notifications are written by users (found by the package test: a user's script failed to
//     load at LMTP delivery);
//   - imapsieve learning from Junk moves (packaging/imapsieve/90-mailward-imapsieve.conf, same
//     settings), when its scripts are installed;
//   - the authentication policy (policy/auth/README.md, "Dovecot side"), when mailward.conf has an
//     [auth-policy] section. The shared key and the hash nonce are read by Dovecot from files
//     (`setting = <FILE`), so this file holds no secret and stays readable by the mail user (sievec,
//     dovecot-lda); Dovecot reports an unreadable `<FILE` only where the setting is used.
// Plugin lists are merged with what Dovecot already has (`current_*`, the effective values), so a
// plugin configured elsewhere is kept; merging is stable, so a second run writes the same file.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"

namespace mailward::setup {

struct DovecotInputs {
  std::string mailward_config;  // `mailward_config` for the plugin (set when not the default path)
  // Effective values before the change (doveconf -h), split into words.
  std::vector<std::string> current_sieve_plugins;
  std::vector<std::string> current_sieve_extensions;
  std::vector<std::string> current_sieve_global_extensions;
  // imapsieve learning: on when the scripts are installed in `imapsieve_dir`.
  bool imapsieve = false;
  std::string imapsieve_dir;
  // Authentication policy: on when `auth_policy_url` is set.
  std::string auth_policy_url;     // "http://127.0.0.1:8099/"
  std::string api_header_file;     // holds "X-API-Key: KEY" (no newline), mode 0600
  std::string nonce_file;          // holds the hash nonce (no newline), mode 0600
};

std::string render_dovecot_conf(const DovecotInputs& inputs);

// Words of a Dovecot list setting (white space separated).
std::vector<std::string> split_words(std::string_view value);

// The auth-policy URL for Dovecot from [auth-policy] listen and path: "127.0.0.1:8099" + "/p" ->
// "http://127.0.0.1:8099/p"; a wildcard address is asked through loopback (0.0.0.0 -> 127.0.0.1,
// [::] -> [::1]). Empty with `error` set for a unix-socket listener (Dovecot's auth policy client
// speaks HTTP over TCP only).
std::string auth_policy_url(const std::string& listen, const std::string& path, std::string& error);

// What [auth-policy] says Dovecot must send: the URL and the header line "Name: KEY".
struct AuthPolicyWanted {
  bool configured = false;
  std::string url;
  std::string header_line;
};
// Reads [auth-policy] with its own reader (the api_key_file must be readable). Throws
// config::ConfigError naming file and line, also for a unix-socket listener.
AuthPolicyWanted auth_policy_from_config(const config::Config& config);

}  // namespace mailward::setup
