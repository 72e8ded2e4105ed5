// `mailward setup postfix|dovecot` and `mailward dns`: the operator's commands that hook mailward
// into a stock Postfix + Dovecot and print the DNS records to publish. Output formats and exit
// statuses are documented in README.md in this directory (scripts and tests read them).
//
//   mailward setup postfix [--apply] [--postfix-dir DIR] [--config FILE]
//   mailward setup dovecot [--apply] [--dovecot-dir DIR] [--config FILE] [--imapsieve-dir DIR]
//                          [--nonce-file FILE]
//   mailward dns DOMAIN [--check] [--ip ADDR]... [--mx HOST] [--report ADDRESS] [--mta-sts]
//                [--tls-rpt] [--config FILE] [--dns-server HOST[:PORT]]... [--dns-timeout SECONDS]
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mailward::setup {

// Exit statuses: 0 done (or nothing to change; dns --check: every record ok), 1 failed / refused
// (dns --check: something missing or wrong), 2 usage, 78 configuration error.
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitConfig = 78;

// `args` are the words after "setup".
int run_setup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `args` are the words after "dns".
int run_dns_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace mailward::setup
