// `mailward notify ...`: the operator's view of mailward-notifyd.
//   mailward notify test TARGET --config PATH   send a synthetic event through the same request
//                                               code as the daemon; print status and body
//   mailward notify queue --config PATH          counts, then one line per pending/dead event
//   mailward notify enqueue --config PATH --target T --user U [--title S] [--message S]
//       [--subject S] [--priority low|normal|high] [--url URL] [--field NAME=VALUE]... [--count N] [--interval-ms MS]
//                                               (hidden, for tests) write events into the spool
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mailward {

// `args` are the words after "notify". Returns the exit status: 0 ok (test: a 2xx answer),
// 1 failure (test: no answer or a non-2xx), 2 usage.
int run_notify_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace mailward
