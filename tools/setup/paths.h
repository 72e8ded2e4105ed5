// Default paths of `mailward setup` and `mailward dns`, in one place. The package (packaging/)
// installs to these; every one can be overridden on the command line.
#pragma once

namespace mailward::setup {

inline constexpr const char* kMailwardConfig = "/etc/mailward/mailward.conf";
inline constexpr const char* kPostfixDir = "/etc/postfix";
inline constexpr const char* kDovecotDir = "/etc/dovecot";
// The file `mailward setup dovecot` writes, below the Dovecot directory.
inline constexpr const char* kDovecotConfFile = "conf.d/99-mailward.conf";
// The imapsieve learning scripts and pipe programs (packaging/imapsieve, installed by the package).
inline constexpr const char* kImapsieveDir = "/usr/lib/mailward/imapsieve";
// Dovecot's auth_policy_hash_nonce, read by Dovecot with `< FILE`; generated (0600) when absent.
inline constexpr const char* kAuthPolicyNonceFile = "/etc/mailward/dovecot-auth-policy.nonce";
// auth_policy_server_api_header ("X-Api-Key: KEY" from [auth-policy]), read by Dovecot with `< FILE`.
inline constexpr const char* kAuthPolicyHeaderFile = "/etc/mailward/dovecot-auth-policy.header";
// Postfix's default queue directory (Debian's chroot for smtpd, cleanup, lmtp).
inline constexpr const char* kPostfixQueueDir = "/var/spool/postfix";

}  // namespace mailward::setup
