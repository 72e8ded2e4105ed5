// mailward-spam: a stand-alone driver for run_spam_command (`mailward-spam learn|score ...` is
// `mailward spam learn|score ...`), for the accuracy/speed benchmark and until the subcommand is
// wired into tools/mailward.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "tools/spam_command.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  return mailward::run_spam_command(args, std::cout, std::cerr);
}
