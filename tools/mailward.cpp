// mailward: the operator's command.
//
//   mailward spf --ip IP --mail-from ADDRESS [--helo NAME]
//   mailward verify [FILE|-] [--ip IP --mail-from ADDRESS --helo NAME]
//   mailward dkim keygen --domain D --selector S [--type rsa|ed25519] [--bits N] [--out DIR]
//   mailward dkim sign [--domain D --selector S --key FILE] < message > signed
//   mailward config check
//   mailward spam learn|score ...     (tools/spam_command.cpp)
//   mailward notify test|queue ...    (tools/notify_command.cpp)
//   mailward policy check|test|route  (policy/cli/policy_command.cpp)
//   mailward setup postfix|dovecot    (tools/setup/setup_command.cpp)
//   mailward dns DOMAIN [--check]     (tools/setup/setup_command.cpp)
// Every command takes --config FILE, --dns-server HOST[:PORT] (repeatable), --dns-timeout SECONDS.
//
// Output is an interface (scripts and tests read it): `spf` prints the result word first on its
// first line; `verify` prints exactly the Authentication-Results field the milter would add, by the
// milter's own code path (milter::Engine).
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/util/text.h"
#include "milters/auth/spf/spf.h"
#include "milters/milter/runtime.h"
#include "common/notify/targets.h"
#include "policy/auth/endpoint.h"
#include "policy/checks/settings.h"
#include "policy/cli/policy_command.h"
#include "tools/notify_command.h"
#include "tools/setup/setup_command.h"
#include "tools/spam_command.h"

using namespace mailward;

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitDataErr = 65;
constexpr int kExitNoInput = 66;
constexpr int kExitConfig = 78;

const char kUsage[] =
    "usage: mailward COMMAND [OPTIONS]\n"
    "  spf --ip IP --mail-from ADDRESS [--helo NAME]\n"
    "        SPF check_host() result (first word: pass fail softfail neutral none permerror temperror)\n"
    "  verify [FILE|-] [--ip IP --mail-from ADDRESS --helo NAME]\n"
    "        the Authentication-Results header mailward-milter would add to this message\n"
    "  dkim keygen --domain D --selector S [--type rsa|ed25519] [--bits N] [--out DIR]\n"
    "        write DIR/D.S.key (mode 0600) and print the DNS TXT record as a zone-file line\n"
    "  dkim sign [--domain D --selector S --key FILE]\n"
    "        sign the message on stdin (keys from [dkim-sign] unless given) and write it to stdout\n"
    "  config check\n"
    "        validate the configuration file, keys included, without starting anything\n"
    "  spam learn --spam PATH... --ham PATH... [--user USER]   |   spam score FILE...\n"
    "        teach the Bayes classifier (files, Maildirs, mbox); print PATH<TAB>SCORE<TAB>spam|ham\n"
    "        (`mailward spam --help` for the options)\n"
    "  policy check   |   policy test NAME=VALUE...   |   policy route relayhost|transport KEY\n"
    "        check the [policy] configuration; run one request through the checks; ask the routing table\n"
    "  notify test TARGET   |   notify queue\n"
    "        send a test notification and print the response; list pending and dead-lettered events\n"
    "  setup postfix [--apply] [--postfix-dir DIR]   |   setup dovecot [--apply] [--dovecot-dir DIR]\n"
    "        print (or apply, with a backup) the Postfix / Dovecot settings that hook mailward in\n"
    "        (`mailward setup --help` for the options)\n"
    "  dns DOMAIN [--ip ADDR]... [--mx HOST] [--report ADDRESS] [--mta-sts] [--tls-rpt] [--check]\n"
    "        the DNS records to publish for DOMAIN; --check: what is published, record by record\n"
    "common options: --config FILE (default /etc/mailward/mailward.conf, optional unless named),\n"
    "                --dns-server HOST[:PORT] (repeatable), --dns-timeout SECONDS\n";

struct Options {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> named;  // --name -> values
  bool has(const std::string& name) const { return named.contains(name); }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = named.find(name);
    return it == named.end() || it->second.empty() ? fallback : it->second.back();
  }
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Options parse_options(int argc, char** argv, int first) {
  static const std::vector<std::string> kValued = {
      "--config", "--dns-server", "--dns-timeout", "--ip", "--mail-from", "--helo", "--domain",
      "--selector", "--type", "--bits", "--out", "--key"};
  Options o;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.starts_with("--")) {
      std::string value;
      std::size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      } else if (std::find(kValued.begin(), kValued.end(), arg) != kValued.end()) {
        if (i + 1 >= argc) throw UsageError(arg + " needs a value");
        value = argv[++i];
      }
      if (std::find(kValued.begin(), kValued.end(), arg) == kValued.end() && arg != "--help")
        throw UsageError("unknown option " + arg);
      o.named[arg].push_back(value);
    } else {
      o.positional.push_back(arg);
    }
  }
  return o;
}

// The settings from --config (or the default file when it exists), with command-line DNS overrides.
milter::Settings settings_from(const Options& o) {
  std::string path = o.get("--config", "/etc/mailward/mailward.conf");
  milter::Settings s;
  if (o.has("--config") || std::filesystem::exists(path))
    s = milter::load_settings(config::Config::load_file(path));
  if (o.has("--dns-server")) s.dns_servers = o.named.at("--dns-server");
  if (o.has("--dns-timeout")) {
    double seconds = 0;
    try {
      seconds = std::stod(o.get("--dns-timeout"));
    } catch (...) {
      throw UsageError("--dns-timeout needs a number of seconds");
    }
    if (seconds < 0.01 || seconds > 600) throw UsageError("--dns-timeout must be 0.01..600 seconds");
    s.dns_timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  }
  // The command reports on stdout; only warnings and errors go to stderr, whatever [log] says.
  s.log = log::Settings{};
  s.log.ident = "mailward";
  s.log.min_level = log::Level::warning;
  log::init(s.log);
  return s;
}

net::IpAddress require_ip(const Options& o) {
  auto ip = net::IpAddress::parse(o.get("--ip"));
  if (!ip) throw UsageError("--ip needs an IPv4 or IPv6 address");
  return *ip;
}

std::string read_input(const std::string& path) {
  std::ostringstream buf;
  if (path.empty() || path == "-") {
    buf << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    buf << in.rdbuf();
  }
  return buf.str();
}

int cmd_spf(const Options& o) {
  if (!o.has("--ip") || !o.has("--mail-from")) throw UsageError("spf needs --ip and --mail-from");
  milter::Settings s = settings_from(o);
  dns::StubResolver stub(milter::stub_settings(s));
  spf::Request req;
  req.client_ip = require_ip(o);
  req.mail_from = o.get("--mail-from");
  if (req.mail_from.size() >= 2 && req.mail_from.front() == '<' && req.mail_from.back() == '>')
    req.mail_from = req.mail_from.substr(1, req.mail_from.size() - 2);
  req.helo = o.get("--helo");
  req.receiver = s.authserv_id;
  req.now = static_cast<std::int64_t>(std::time(nullptr));
  spf::Verdict v = spf::check_mail_from(stub, req);
  std::printf("%s identity=%s domain=%s ip=%s\n", std::string(spf::to_string(v.result)).c_str(),
              v.sender.c_str(), v.domain.c_str(), req.client_ip.to_string().c_str());
  if (!v.mechanism.empty()) std::printf("mechanism: %s\n", v.mechanism.c_str());
  if (!v.problem.empty()) std::printf("problem: %s\n", v.problem.c_str());
  if (!v.explanation.empty()) std::printf("explanation: %s\n", v.explanation.c_str());
  std::printf("dns lookups: %u, void lookups: %u\n", v.dns_lookups, v.void_lookups);
  return 0;
}

int cmd_verify(const Options& o) {
  std::string path = o.positional.size() > 1 ? o.positional[1] : "-";
  milter::Settings s = settings_from(o);
  milter::Runtime runtime(s);
  milter::Envelope env;
  env.direction = milter::Direction::incoming;
  if (o.has("--ip")) env.client_ip = require_ip(o);
  env.mail_from = o.get("--mail-from");
  env.helo = o.get("--helo");
  mail::Message m = mail::parse_message(read_input(path));
  auto scan = runtime.engine().begin(env);
  for (const auto& h : m.headers) scan->add_header(h);
  scan->end_of_headers();
  scan->add_body(m.body);
  milter::Decision d = scan->finish();
  for (const milter::HeaderEdit& e : d.edits) {
    if (e.kind == milter::HeaderEdit::Kind::insert && e.name == "Authentication-Results") {
      std::string value;
      for (char c : e.value)
        if (c != '\r') value.push_back(c);
      std::printf("%s:%s\n", e.name.c_str(), value.c_str());
    }
  }
  std::fflush(stdout);  // the header first, then the action, even when both go to one pipe
  std::fprintf(stderr, "action: %s%s%s\n", std::string(milter::to_string(d.action)).c_str(),
               d.reply_code.empty() ? "" : (" " + d.reply_code + " " + d.enhanced_code).c_str(),
               d.reply_text.empty() ? "" : (" " + d.reply_text).c_str());
  return 0;
}

// A TXT record as a zone-file line, split into <=255-byte character-strings (RFC 1035 §3.3.14).
std::string zone_line(const std::string& owner, const std::string& txt) {
  std::string out = owner + ". IN TXT (";
  for (std::size_t i = 0; i < txt.size(); i += 255) out += " \"" + txt.substr(i, 255) + "\"";
  return out + " )";
}

int cmd_dkim_keygen(const Options& o) {
  std::string domain = text::normalize_domain(o.get("--domain"));
  std::string selector = text::to_lower(o.get("--selector"));
  if (domain.empty() || selector.empty()) throw UsageError("keygen needs --domain and --selector");
  for (char c : domain + selector)
    if (!(text::is_alpha(c) || text::is_digit(c) || c == '-' || c == '.' || c == '_'))
      throw UsageError("--domain and --selector may hold letters, digits, '-', '_' and '.' only");
  std::string type = o.get("--type", "rsa");
  if (type != "rsa" && type != "ed25519") throw UsageError("--type must be rsa or ed25519");
  unsigned long long bits = 2048;
  if (o.has("--bits") && !text::parse_uint(o.get("--bits"), 8192, bits))
    throw UsageError("--bits must be a number up to 8192");
  if (type == "rsa" && bits < 1024) throw UsageError("--bits must be at least 1024 (RFC 8301)");
  auto key = dkim::generate_key(type == "rsa" ? dkim::KeyType::rsa : dkim::KeyType::ed25519,
                                static_cast<unsigned>(bits));
  std::filesystem::path dir = o.get("--out", ".");
  std::filesystem::create_directories(dir);
  std::filesystem::path file = dir / (domain + "." + selector + ".key");
  mode_t old = umask(0077);
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << key.private_pem;
    if (!out) {
      umask(old);
      throw std::runtime_error("cannot write " + file.string());
    }
  }
  umask(old);
  chmod(file.c_str(), 0600);
  std::printf("%s\n", zone_line(selector + "._domainkey." + domain, key.dns_txt).c_str());
  std::fprintf(stderr, "private key written to %s (mode 0600)\n", file.c_str());
  return 0;
}

int cmd_dkim_sign(const Options& o) {
  std::vector<dkim::SigningKey> keys;
  milter::Settings s = settings_from(o);
  std::string raw = read_input("-");
  mail::Message m = mail::parse_message(raw);
  if (o.has("--key")) {
    if (!o.has("--domain") || !o.has("--selector"))
      throw UsageError("--key needs --domain and --selector");
    keys.push_back(dkim::SigningKey::load_pem_file(text::normalize_domain(o.get("--domain")),
                                                   text::to_lower(o.get("--selector")),
                                                   o.get("--key")));
  } else {
    milter::Runtime runtime(s);
    dmarc::FromDomain from = dmarc::from_domain_of(m.headers);
    if (from.domain.empty()) throw std::runtime_error("cannot sign: " + from.problem);
    keys = runtime.engine().keys_for(from.domain);
    if (keys.empty())
      throw std::runtime_error("no [dkim-sign] key for " + from.domain + " in the configuration");
  }
  dkim::Signer signer(std::move(keys),
                      milter::sign_options(s, static_cast<std::int64_t>(std::time(nullptr))));
  signer.set_headers(m.headers);
  signer.add_body(m.body);
  std::vector<mail::HeaderField> signatures = signer.finish();
  m.headers.insert(m.headers.begin(), signatures.begin(), signatures.end());
  std::string out = mail::render(m);
  if (raw.find('\r') == std::string::npos) {  // keep the input's line endings
    std::string lf;
    for (char c : out)
      if (c != '\r') lf.push_back(c);
    out.swap(lf);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int cmd_config_check(const Options& o) {
  std::string path = o.get("--config", "/etc/mailward/mailward.conf");
  const config::Config cfg = config::Config::load_file(path);
  milter::Settings s = milter::load_settings(cfg);
  milter::Runtime runtime(s);  // loads keys and the PSL exactly as the milter does
  // The other parts' sections, by the same readers their daemons use (each throws ConfigError
  // naming file, line and key).
  std::vector<std::string> parts;
  if (cfg.has_section("policy")) {
    policy::load_policy_settings(cfg);
    parts.emplace_back("policy");
  }
  if (cfg.has_section("auth-policy")) {
    auth_policy::read_config(cfg, "auth-policy");
    parts.emplace_back("auth-policy");
  }
  const notify::NotifySettings n = notify::parse_notify_settings(cfg);
  if (cfg.has_section("notify") || !n.targets.empty())
    parts.emplace_back("notify (" + std::to_string(n.targets.size()) + " targets)");
  std::printf("configuration OK: %s\n", path.c_str());
  std::string also;
  for (const std::string& p : parts) also += (also.empty() ? "" : ", ") + p;
  if (!also.empty()) std::printf("  also checked: %s\n", also.c_str());
  std::printf("  authserv-id %s, socket %s, fail mode %s\n", s.authserv_id.c_str(),
              s.socket_path.c_str(), s.fail_mode == milter::FailMode::tempfail ? "tempfail" : "accept");
  std::printf("  spf %s, dkim verify %s, dkim signing keys %zu, dmarc %s\n",
              s.spf_enabled ? "on" : "off", s.dkim_verify ? "on" : "off", s.signing_keys.size(),
              s.dmarc_enabled ? (s.dmarc_enforce ? "enforced" : "report only") : "off");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : 0;
  }
  std::string command = argv[1];
  // Subcommands with their own option parsers (tools/notify_command.cpp, tools/spam_command.cpp,
  // policy/cli/policy_command.cpp).
  if (command == "notify" || command == "spam" || command == "policy" || command == "setup" || command == "dns") {
    std::vector<std::string> rest(argv + 2, argv + argc);
    try {
      if (command == "policy") return policy::run_policy_command(rest, std::cout, std::cerr);
      if (command == "setup") return setup::run_setup_command(rest, std::cout, std::cerr);
      if (command == "dns") return setup::run_dns_command(rest, std::cout, std::cerr);
      return command == "notify" ? run_notify_command(rest, std::cout, std::cerr)
                                 : run_spam_command(rest, std::cout, std::cerr);
    } catch (const std::exception& e) {  // both report their errors themselves; this is a last resort
      std::cerr << "mailward " << command << ": " << e.what() << "\n";
      return kExitDataErr;
    }
  }
  try {
    if (command == "spf") return cmd_spf(parse_options(argc, argv, 2));
    if (command == "verify") return cmd_verify(parse_options(argc, argv, 1));
    if (command == "dkim" && argc >= 3 && std::string(argv[2]) == "keygen")
      return cmd_dkim_keygen(parse_options(argc, argv, 3));
    if (command == "dkim" && argc >= 3 && std::string(argv[2]) == "sign")
      return cmd_dkim_sign(parse_options(argc, argv, 3));
    if (command == "config" && argc >= 3 && std::string(argv[2]) == "check")
      return cmd_config_check(parse_options(argc, argv, 3));
    throw UsageError("unknown command '" + command + "'");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "mailward: %s\n%s", e.what(), kUsage);
    return kExitUsage;
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "mailward: %s\n", e.what());
    return kExitConfig;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mailward: %s\n", e.what());
    return std::string(e.what()).starts_with("cannot read") ? kExitNoInput : kExitDataErr;
  }
}
