// Test helper: runs a shell command line and captures what it prints (stdout and stderr together)
// and its exit status — for tests that drive the real `mailward` binary.
#pragma once

#include <string>

namespace mailward::test_support {

struct CommandResult {
  int status = -1;  // exit status; -1 when it could not be started or was killed by a signal
  std::string out;  // standard output followed by standard error, interleaved as written
};

// `command` is run by /bin/sh (popen) with " 2>&1" appended, so redirections in it apply first.
CommandResult run_command(const std::string& command);

}  // namespace mailward::test_support
