// Dropping root privileges after a daemon has opened what only root may open (sockets in Postfix's
// queue directory, files under /etc): one implementation for every mailward daemon.
#pragma once

#include <string>

namespace mailward::util {

// Switches the process to `user` (its uid, primary gid and supplementary groups). An empty `user`
// means "stay as we are". Already running as that user: nothing to do. Returns false with `error`
// set ("unknown user 'x'", "cannot switch to user 'x': ...") and also when root could be regained.
bool drop_privileges(const std::string& user, std::string& error);

}  // namespace mailward::util
