// mailward-auth-policy: serves the Dovecot auth-policy endpoint on its own, until
// mailward-policyd hosts it. Reads [auth-policy] (and [store]) from the configuration file.
//   mailward-auth-policy -c /etc/mailward/mailward.conf [-l stderr|/path/to/log] [-v]
// Stops on SIGTERM or SIGINT.
#include <signal.h>

#include <cstring>
#include <iostream>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/store/store.h"
#include "policy/auth/server.h"

using namespace mailward;

int main(int argc, char** argv) {
  std::string config_path, log_dest = "stderr";
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-c" || a == "-l") && i + 1 < argc) {
      (a == "-c" ? config_path : log_dest) = argv[++i];
    } else if (a == "-v") {
      verbose = true;
    } else {
      std::cerr << "usage: mailward-auth-policy -c CONFIG [-l stderr|FILE] [-v]\n";
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "usage: mailward-auth-policy -c CONFIG [-l stderr|FILE] [-v]\n";
    return 2;
  }
  try {
    log::Settings ls;
    ls.ident = "mailward-auth-policy";
    ls.destination = log::parse_destination(log_dest, ls.file_path);
    ls.min_level = verbose ? log::Level::debug : log::Level::info;
    log::init(ls);
    const auto config = config::Config::load_file(config_path);
    const auto settings = auth_policy::read_config(config, "auth-policy");
    auto store = store::open_store(config, "store");
    auth_policy::AuthPolicy policy(*store, settings.policy);
    auth_policy::AuthPolicyEndpoint endpoint(policy, settings.endpoint);
    auth_policy::AuthPolicyServer server(endpoint);
    std::string error;
    if (!server.listen(settings.listen, error)) {
      log::write(log::Level::fatal, {}, error);
      return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    server.start();
    log::info("serving the Dovecot auth policy on ", settings.listen, " (store ", store->describe(),
              ")");
    int sig = 0;
    sigwait(&set, &sig);
    log::info("stopping on signal ", sig);
    server.stop();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mailward-auth-policy: " << e.what() << "\n";
    return 1;
  }
}
