// Test-only front end: `mailward-notify-cli ARGS` == `mailward notify ARGS` (until wired into mailward).
#include <iostream>
#include <string>
#include <vector>

#include "tools/notify_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return mailward::run_notify_command(args, std::cout, std::cerr);
}
