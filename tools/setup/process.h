// Running a program (postconf, doveconf) and capturing what it prints: fork + execvp, no shell, so
// no argument is ever interpreted by one.
#pragma once

#include <string>
#include <vector>

namespace mailward::setup {

struct ProgramResult {
  int status = -1;   // exit status; -1 when it could not be started or was killed by a signal
  std::string out;   // standard output
  std::string err;   // standard error (and the reason when it could not start)
};

// argv[0] is looked up in PATH. Never throws.
ProgramResult run_program(const std::vector<std::string>& argv);

// "postconf -c '/etc/postfix' -e 'a = b'": for printing only (single quotes, ' escaped).
std::string shell_words(const std::vector<std::string>& argv);

}  // namespace mailward::setup
