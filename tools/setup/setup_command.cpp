// `mailward setup postfix|dovecot` and `mailward dns` (setup_command.h): option parsing, loading
// mailward.conf, printing and applying what the pure planners (postfix_plan.h, dovecot_conf.h,
// dns_records.h) decide.
#include "tools/setup/setup_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "common/config/config.h"
#include "common/util/text.h"
#include "common/dns/stub_resolver.h"
#include "common/log/log.h"
#include "milters/auth/spf/spf.h"
#include "milters/milter/runtime.h"
#include "milters/milter/settings.h"
#include "policy/checks/settings.h"
#include "tools/setup/dns_records.h"
#include "tools/setup/dovecot_conf.h"
#include "tools/setup/paths.h"
#include "tools/setup/postfix_io.h"
#include "tools/setup/postfix_plan.h"
#include "tools/setup/process.h"
#include "tools/setup/utc_format.h"

namespace fs = std::filesystem;

namespace mailward::setup {

namespace {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> named;
  bool has(const std::string& name) const { return named.contains(name); }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = named.find(name);
    return it == named.end() || it->second.empty() ? fallback : it->second.back();
  }
};

// Parses --name VALUE / --name=VALUE for `valued`, bare --name for `flags`. Empty optional + message
// on an unknown option or a missing value.
std::optional<Args> parse_args(const std::vector<std::string>& args, std::size_t first,
                               const std::vector<std::string>& valued, const std::vector<std::string>& flags,
                               std::string& problem) {
  Args a;
  for (std::size_t i = first; i < args.size(); ++i) {
    std::string arg = args[i];
    if (!arg.starts_with("--")) {
      a.positional.push_back(arg);
      continue;
    }
    std::string value;
    bool has_value = false;
    if (std::size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    bool is_valued = std::find(valued.begin(), valued.end(), arg) != valued.end();
    bool is_flag = std::find(flags.begin(), flags.end(), arg) != flags.end();
    if (!is_valued && !is_flag) {
      problem = "unknown option " + arg;
      return std::nullopt;
    }
    if (is_flag && has_value) {
      problem = arg + " takes no value";
      return std::nullopt;
    }
    if (is_valued && !has_value) {
      if (i + 1 >= args.size()) {
        problem = arg + " needs a value";
        return std::nullopt;
      }
      value = args[++i];
    }
    a.named[arg].push_back(value);
  }
  return a;
}

const char kSetupUsage[] =
    "usage: mailward setup postfix [--apply] [--postfix-dir DIR] [--config FILE]\n"
    "       mailward setup dovecot [--apply] [--dovecot-dir DIR] [--config FILE] [--imapsieve-dir DIR]\n"
    "                              [--nonce-file FILE] [--header-file FILE]\n"
    "Without --apply: print what would change. With --apply: make the changes (a backup of every file\n"
    "changed is kept beside it); a second run says \"nothing to change\".\n";

int usage(std::ostream& err, const std::string& problem) {
  if (!problem.empty()) err << "mailward setup: " << problem << "\n";
  err << kSetupUsage;
  return kExitUsage;
}

// mailward.conf: the named file (must exist), or the default file when it exists, else no settings
// (every part's defaults).
config::Config load_config(const Args& a, std::string& described) {
  std::string path = a.get("--config", kMailwardConfig);
  if (a.has("--config") || fs::exists(path)) {
    described = path;
    return config::Config::load_file(path);
  }
  described = path + " (absent: defaults)";
  return config::Config::parse("", path);
}

void print_comment(std::ostream& out, const std::string& text) {
  out << "# " << text << "\n";
}

int setup_postfix(const Args& a, std::ostream& out, std::ostream& err) {
  std::string dir = a.get("--postfix-dir", kPostfixDir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string described;
  config::Config cfg = load_config(a, described);
  PostfixWanted wanted = wanted_from_config(cfg);
  PostfixSettings current;
  std::string error;
  if (!read_postfix(dir, current, error)) {
    err << "mailward setup postfix: " << error << "\n";
    return kExitFailed;
  }
  PostfixPlan plan = plan_postfix(current, wanted);
  if (!plan.error.empty()) {
    err << "mailward setup postfix: refused: " << plan.error << "\n";
    return kExitFailed;
  }
  out << "# mailward setup postfix: " << dir << ", configuration " << described << "\n";
  for (const std::string& note : plan.notes) print_comment(out, "note: " + note);
  if (plan.changes.empty()) {
    out << "nothing to change: " << dir << " already has mailward's settings\n";
    return 0;
  }
  std::vector<std::vector<std::string>> commands = postconf_commands(dir, plan);
  for (std::size_t i = 0; i < plan.changes.size(); ++i) {
    const PostfixChange& c = plan.changes[i];
    print_comment(out, (c.service.empty() ? "main.cf " : "master.cf " + c.service + " ") + c.parameter + ": " +
                           c.reason);
    print_comment(out, "  was: " + (!c.was_set ? std::string("(not set)")
                                    : c.old_value.empty() ? std::string("(empty)")
                                                          : c.old_value));
    out << shell_words(commands[i]) << "\n";
  }
  if (!a.has("--apply")) {
    out << plan.changes.size() << " change" << (plan.changes.size() == 1 ? "" : "s")
        << " to make; run again with --apply to make them\n";
    return 0;
  }
  ApplyResult applied = apply_postfix(dir, plan, std::time(nullptr));
  for (const std::string& b : applied.backups) print_comment(out, "backup: " + b);
  if (!applied.ok) {
    err << "mailward setup postfix: " << applied.error << "\n";
    return kExitFailed;
  }
  // Check: what Postfix now says needs no further change (idempotence, and that postconf took it).
  PostfixSettings after;
  if (!read_postfix(dir, after, error)) {
    err << "mailward setup postfix: after the changes: " << error << "\n";
    return kExitFailed;
  }
  PostfixPlan again = plan_postfix(after, wanted);
  if (!again.changes.empty()) {
    err << "mailward setup postfix: after the changes, postconf still shows " << again.changes.front().parameter
        << " = " << again.changes.front().old_value << "\n";
    return kExitFailed;
  }
  out << "applied " << plan.changes.size() << " change" << (plan.changes.size() == 1 ? "" : "s")
      << "; reload Postfix to use them: "
      << (dir == kPostfixDir ? std::string("postfix reload") : "postfix -c " + dir + " reload") << "\n";
  return 0;
}


std::optional<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes PATH.mailward-new with `mode`, fsyncs it and renames it over PATH.
bool write_file(const std::string& path, const std::string& content, mode_t mode, std::string& error) {
  std::string tmp = path + ".mailward-new";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    error = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && fsync(fd) == 0;
  int saved = errno;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    unlink(tmp.c_str());
    error = "cannot write " + path + ": " + std::strerror(saved);
    return false;
  }
  return true;
}

// 32 random bytes as hex, from the kernel.
std::string random_hex(std::string& error) {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char bytes[32];
  if (!in.read(reinterpret_cast<char*>(bytes), sizeof bytes)) {
    error = "cannot read /dev/urandom";
    return {};
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// `doveconf -c CONF -h NAME` -> value; false with `error` when doveconf fails.
bool doveconf_value(const std::string& conf, const std::string& name, std::string& value, std::string& error) {
  std::vector<std::string> argv = {"doveconf", "-c", conf, "-h", name};
  ProgramResult r = run_program(argv);
  if (r.status != 0) {
    error = shell_words(argv) + " failed (exit " + std::to_string(r.status) + "): " + std::string(text::trim(r.err));
    return false;
  }
  value = std::string(text::trim(r.out));
  return true;
}

int setup_dovecot(const Args& a, std::ostream& out, std::ostream& err) {
  std::string dir = a.get("--dovecot-dir", kDovecotDir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::string conf = dir + "/dovecot.conf";
  const std::string target = dir + "/" + kDovecotConfFile;
  const bool apply = a.has("--apply");
  if (!fs::exists(conf)) {
    err << "mailward setup dovecot: " << conf << " does not exist: name Dovecot's directory with --dovecot-dir\n";
    return kExitFailed;
  }
  if (!fs::is_directory(fs::path(target).parent_path())) {
    err << "mailward setup dovecot: " << fs::path(target).parent_path().string()
        << " does not exist (Debian's dovecot.conf includes conf.d/*.conf)\n";
    return kExitFailed;
  }
  std::string described;
  config::Config cfg = load_config(a, described);
  AuthPolicyWanted auth = auth_policy_from_config(cfg);

  // Paths written into Dovecot's configuration are made absolute (Dovecot runs elsewhere).
  auto absolute = [](const std::string& p) { return fs::absolute(p).lexically_normal().string(); };
  DovecotInputs in;
  in.mailward_config = absolute(a.get("--config", kMailwardConfig));
  in.imapsieve_dir = absolute(a.get("--imapsieve-dir", kImapsieveDir));
  in.imapsieve = fs::exists(in.imapsieve_dir + "/report-spam.sieve") && fs::exists(in.imapsieve_dir + "/report-ham.sieve");
  std::string error, value;
  for (auto [name, list] : {std::pair{"plugin/sieve_plugins", &in.current_sieve_plugins},
                            std::pair{"plugin/sieve_extensions", &in.current_sieve_extensions},
                            std::pair{"plugin/sieve_global_extensions", &in.current_sieve_global_extensions}}) {
    if (!doveconf_value(conf, name, value, error)) {
      err << "mailward setup dovecot: the current configuration does not parse: " << error << "\n";
      return kExitFailed;
    }
    *list = split_words(value);
  }
  if (auth.configured) {
    in.auth_policy_url = auth.url;
    in.api_header_file = absolute(a.get("--header-file", kAuthPolicyHeaderFile));
    in.nonce_file = absolute(a.get("--nonce-file", kAuthPolicyNonceFile));
  }
  const std::string text = render_dovecot_conf(in);
  std::optional<std::string> existing = read_whole(target);
  const bool conf_changes = !existing || *existing != text;
  // The secrets Dovecot reads with `<FILE` (mode 0600): the header line from [auth-policy], the nonce
  // generated once and then left to the administrator.
  const bool header_changes = auth.configured && read_whole(in.api_header_file) != std::optional(auth.header_line);
  const bool nonce_missing = auth.configured && !fs::exists(in.nonce_file);

  out << "# mailward setup dovecot: " << dir << ", configuration " << described << "\n";
  if (!in.imapsieve)
    print_comment(out, "note: imapsieve learning left out: " + in.imapsieve_dir +
                           "/report-spam.sieve and report-ham.sieve are not installed (--imapsieve-dir)");
  if (!auth.configured)
    print_comment(out, "note: no [auth-policy] section in " + described + ": no authentication policy");
  if (!conf_changes && !header_changes && !nonce_missing) {
    out << "nothing to change: " << target << " is up to date\n";
    return 0;
  }
  if (conf_changes) {
    print_comment(out, target + (existing ? " (differs: the old file is backed up):" : " (new):"));
    out << text;
  }
  if (header_changes) print_comment(out, in.api_header_file + ": the auth-policy key header for Dovecot (0600)");
  if (nonce_missing) print_comment(out, in.nonce_file + ": a new random auth_policy_hash_nonce (0600)");
  if (!apply) {
    out << "run again with --apply to write " << (conf_changes ? target : std::string("the files")) << "\n";
    return 0;
  }
  std::string backup;
  if (auth.configured) {
    if (header_changes && !write_file(in.api_header_file, auth.header_line, 0600, error)) {
      err << "mailward setup dovecot: " << error << "\n";
      return kExitFailed;
    }
    if (nonce_missing) {
      std::string nonce = random_hex(error);
      if (nonce.empty() || !write_file(in.nonce_file, nonce, 0600, error)) {
        err << "mailward setup dovecot: " << error << "\n";
        return kExitFailed;
      }
    }
  }
  if (conf_changes) {
    if (existing) {
      backup = backup_file(target, std::time(nullptr), error);
      if (backup.empty()) {
        err << "mailward setup dovecot: " << error << "\n";
        return kExitFailed;
      }
      print_comment(out, "backup: " + backup);
    }
    if (!write_file(target, text, 0644, error)) {
      err << "mailward setup dovecot: " << error << "\n";
      return kExitFailed;
    }
  }
  // Check: Dovecot parses the result, and our plugin list is what it uses (a file read after ours could
  // set sieve_plugins again). On failure the previous file is put back.
  std::vector<std::string> check = {"doveconf", "-c", conf, "-n"};
  ProgramResult r = run_program(check);
  std::string problem;
  if (r.status != 0) {
    problem = "Dovecot does not accept the result: " + shell_words(check) + ": " + std::string(text::trim(r.err));
  } else if (!doveconf_value(conf, "plugin/sieve_plugins", value, error)) {
    problem = error;
  } else if (std::vector<std::string> w = split_words(value);
             std::find(w.begin(), w.end(), "sieve_mailward") == w.end()) {
    problem = "Dovecot's effective sieve_plugins is \"" + value + "\": a file read after " + target +
              " sets it again; add sieve_mailward there";
  }
  if (!problem.empty()) {
    std::string undo_error;
    if (conf_changes) {
      if (existing)
        write_file(target, *existing, 0644, undo_error);
      else
        unlink(target.c_str());
    }
    err << "mailward setup dovecot: " << problem << " (" << target << " "
        << (conf_changes ? (existing ? "restored" : "removed") : "unchanged") << ")\n";
    return kExitFailed;
  }
  out << "written; reload Dovecot to use it: " << (dir == kDovecotDir ? std::string("doveadm reload") : "doveadm -c " + conf + " reload") << "\n";
  if (in.imapsieve)
    out << "compile the imapsieve scripts once as root: sievec " << in.imapsieve_dir << "/report-spam.sieve; sievec "
        << in.imapsieve_dir << "/report-ham.sieve\n";
  return 0;
}


const char kDnsUsage[] =
    "usage: mailward dns DOMAIN [--ip ADDR]... [--mx HOST] [--report ADDRESS] [--spf-include DOMAIN]...\n"
    "                    [--mta-sts] [--tls-rpt] [--check] [--config FILE] [--dns-server HOST[:PORT]]...\n"
    "                    [--dns-timeout SECONDS]\n"
    "Prints the zone-file lines to publish for DOMAIN (MX, SPF, every DKIM key configured for DOMAIN in\n"
    "[dkim-sign], DMARC, optionally MTA-STS and TLS-RPT, a PTR hint per --ip). --check looks up what is\n"
    "published and prints one line per record: ok|missing|wrong|warn|error  TYPE  NAME  detail\n"
    "(exit 0 only when every line is ok).\n";

int dns_command(const Args& a, std::ostream& out, std::ostream& err) {
  DnsRequest r;
  r.domain = text::normalize_domain(a.positional.front());
  if (!spf::valid_domain(r.domain)) {
    err << "mailward dns: '" << a.positional.front() << "' is not a domain name\n";
    return kExitUsage;
  }
  r.mx_given = a.has("--mx");
  r.mx = r.mx_given ? text::normalize_domain(a.get("--mx")) : "mail." + r.domain;
  if (!spf::valid_domain(r.mx)) {
    err << "mailward dns: --mx '" << a.get("--mx") << "' is not a host name\n";
    return kExitUsage;
  }
  if (a.has("--ip"))
    for (const std::string& ip : a.named.at("--ip")) {
      auto parsed = net::IpAddress::parse(ip);
      if (!parsed) {
        err << "mailward dns: --ip '" << ip << "' is not an IPv4 or IPv6 address\n";
        return kExitUsage;
      }
      r.ips.push_back(*parsed);
    }
  if (a.has("--spf-include"))
    for (const std::string& inc : a.named.at("--spf-include")) r.spf_includes.push_back(text::normalize_domain(inc));
  r.report = a.get("--report", "postmaster@" + r.domain);
  if (r.report.find('@') == std::string::npos || r.report.find_first_of(" ;,!") != std::string::npos) {
    err << "mailward dns: --report '" << r.report << "' is not a mail address\n";
    return kExitUsage;
  }
  r.mta_sts = a.has("--mta-sts");
  r.tls_rpt = a.has("--tls-rpt");
  const std::time_t now = std::time(nullptr);
  r.mta_sts_id = utc_format(now, "%Y%m%d%H%M%S");

  std::string described;
  config::Config cfg = load_config(a, described);
  milter::Settings settings = milter::load_settings(cfg);
  for (const milter::SigningKeySpec& spec : settings.signing_keys) {
    if (spec.domain != r.domain) continue;
    dkim::SigningKey key;
    try {
      key = dkim::SigningKey::load_pem_file(spec.domain, spec.selector, spec.key_file);
    } catch (const std::exception& e) {
      throw std::runtime_error(spec.where + ": [dkim-sign] key: " + e.what());
    }
    DkimPublicKey pub = dkim_public_key(key);
    pub.key_file = spec.key_file;
    r.dkim.push_back(std::move(pub));
  }
  // Relays mail from this domain leaves through ([policy] routes): their SPF is the provider's.
  std::vector<std::string> relays;
  if (cfg.has_section("policy")) {
    policy::PolicySettings p = policy::load_policy_settings(cfg);
    for (const policy::Route& route : p.sender_routes)
      if (route.domain == r.domain) relays.push_back(route.nexthop);
    if (relays.empty() && !p.fallback_relay.empty()) relays.push_back(p.fallback_relay);
  }

  if (!a.has("--check")) {
    out << "; mailward dns " << r.domain << ": records to publish (configuration " << described << ")\n";
    if (!r.mx_given) out << "; MX host " << r.mx << " (name yours with --mx HOST)\n";
    if (r.dkim.empty()) out << "; no [dkim-sign] key for " << r.domain << ": create one with mailward dkim keygen\n";
    for (const std::string& relay : relays)
      out << "; mail from " << r.domain << " leaves through the relay " << relay
          << ": add its provider's SPF include with --spf-include DOMAIN\n";
    for (const DnsRecord& rec : records_for(r)) out << "; " << rec.what << "\n" << zone_line(rec) << "\n";
    for (const net::IpAddress& ip : r.ips)
      out << "; PTR for " << ip.to_string() << ", published by the owner of its reverse zone:\n; "
          << zone_line(ptr_hint(r, ip)) << "\n";
    if (r.mta_sts) {
      out << "; MTA-STS policy file: serve it at https://mta-sts." << r.domain
          << "/.well-known/mta-sts.txt\n; (host mta-sts." << r.domain
          << ", valid certificate); change the id= above whenever it changes. Mode testing only\n"
             "; reports; switch to enforce once the TLS reports are clean:\n";
      std::string policy = mta_sts_policy(r);
      for (std::string_view l : text::split(policy, '\n'))
        if (!l.empty()) out << ";   " << l << "\n";
    }
    return 0;
  }

  settings.log = log::Settings{};
  settings.log.ident = "mailward";
  settings.log.min_level = log::Level::warning;
  log::init(settings.log);
  if (a.has("--dns-server")) settings.dns_servers = a.named.at("--dns-server");
  if (a.has("--dns-timeout")) {
    double seconds = 0;
    try {
      seconds = std::stod(a.get("--dns-timeout"));
    } catch (...) {
      seconds = -1;
    }
    if (seconds < 0.01 || seconds > 600) {
      err << "mailward dns: --dns-timeout must be 0.01..600 seconds\n";
      return kExitUsage;
    }
    settings.dns_timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  }
  dns::StubResolver resolver(milter::stub_settings(settings));
  std::vector<CheckLine> lines = check_records(resolver, r, static_cast<std::int64_t>(now));
  std::size_t bad = 0;
  for (const CheckLine& l : lines) {
    out << format_check_line(l) << "\n";
    bad += l.status != CheckStatus::ok;
  }
  if (bad == 0) return 0;
  err << "mailward dns: " << bad << " of " << lines.size() << " records not ok\n";
  return kExitFailed;
}

}  // namespace

int run_setup_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    (args.empty() ? err : out) << kSetupUsage;
    return args.empty() ? kExitUsage : 0;
  }
  std::string problem;
  try {
    if (args[0] == "postfix") {
      auto a = parse_args(args, 1, {"--postfix-dir", "--config"}, {"--apply", "--help"}, problem);
      if (!a || !a->positional.empty())
        return usage(err, a ? "unexpected argument " + a->positional.front() : problem);
      if (a->has("--help")) {
        out << kSetupUsage;
        return 0;
      }
      return setup_postfix(*a, out, err);
    }
    if (args[0] == "dovecot") {
      auto a = parse_args(args, 1,
                          {"--dovecot-dir", "--config", "--imapsieve-dir", "--nonce-file", "--header-file"},
                          {"--apply", "--help"}, problem);
      if (!a || !a->positional.empty())
        return usage(err, a ? "unexpected argument " + a->positional.front() : problem);
      if (a->has("--help")) {
        out << kSetupUsage;
        return 0;
      }
      return setup_dovecot(*a, out, err);
    }
    return usage(err, "unknown setup target '" + args[0] + "' (postfix or dovecot)");
  } catch (const config::ConfigError& e) {
    err << "mailward setup: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    err << "mailward setup: " << e.what() << "\n";
    return kExitFailed;
  }
}

int run_dns_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string problem;
  auto a = parse_args(args, 0,
                      {"--ip", "--mx", "--report", "--spf-include", "--config", "--dns-server", "--dns-timeout"},
                      {"--check", "--mta-sts", "--tls-rpt", "--help"}, problem);
  if (a && a->has("--help")) {
    out << kDnsUsage;
    return 0;
  }
  if (!a || a->positional.size() != 1) {
    err << "mailward dns: " << (a ? (a->positional.empty() ? "a DOMAIN is needed" : "one DOMAIN only") : problem) << "\n"
        << kDnsUsage;
    return kExitUsage;
  }
  try {
    return dns_command(*a, out, err);
  } catch (const config::ConfigError& e) {
    err << "mailward dns: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    err << "mailward dns: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace mailward::setup
