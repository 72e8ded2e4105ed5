// Privilege drop for the daemons (privileges.h).
#include "common/util/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mailward::util {

bool drop_privileges(const std::string& user, std::string& error) {
  if (user.empty()) return true;
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) {
    error = "unknown user '" + user + "'";
    return false;
  }
  if (::getuid() == pw->pw_uid && ::geteuid() == pw->pw_uid) return true;
  // Groups first: once the uid is gone, setgid/initgroups are no longer allowed.
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 ||
      ::setuid(pw->pw_uid) != 0) {
    error = "cannot switch to user '" + user + "': " + std::strerror(errno);
    return false;
  }
  if (pw->pw_uid != 0 && ::setuid(0) == 0) {  // a real drop cannot be undone
    error = "switched to user '" + user + "' but root could be regained";
    return false;
  }
  return true;
}

}  // namespace mailward::util
