// run_command (command.h): popen + read to the end + pclose.
#include "tests/support/command.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace mailward::test_support {

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int raw = pclose(p);
  r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

}  // namespace mailward::test_support
