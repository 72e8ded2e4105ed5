// spam_content_bench: parse_mail + tokenize over every file under the given paths (files or
// directories, e.g. the unpacked SpamAssassin corpus), all read into memory first. Prints CPU ms
// per message (best of N rounds), messages per second, mean size and token count, and the
// anomalies seen. Usage: spam_content_bench [--rounds N] PATH...
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "milters/spam/content/parsed_mail.h"
#include "milters/spam/content/tokenize.h"

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string out(static_cast<std::size_t>(std::filesystem::file_size(p)), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  std::vector<std::string> messages;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
      continue;
    }
    std::filesystem::path p(a);
    if (std::filesystem::is_directory(p)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) messages.push_back(read_file(f));
    } else if (std::filesystem::exists(p)) {
      messages.push_back(read_file(p));
    }
  }
  if (messages.empty()) {
    std::cerr << "usage: spam_content_bench [--rounds N] PATH...\n";
    return 2;
  }
  std::size_t bytes = 0;
  for (const std::string& m : messages) bytes += m.size();
  double best = 1e100;
  std::size_t tokens = 0;
  std::map<std::string, std::size_t> anomalies;
  for (int r = 0; r < rounds; ++r) {
    tokens = 0;
    double t0 = cpu_seconds();
    for (const std::string& raw : messages) {
      mailward::spam::ParsedMail m = mailward::spam::parse_mail(raw);
      tokens += mailward::spam::tokenize(m).size();
      if (r == 0)
        for (const std::string& a : m.anomalies) ++anomalies[a];
    }
    best = std::min(best, cpu_seconds() - t0);
  }
  double n = static_cast<double>(messages.size());
  std::printf("messages %zu, mean size %.1f KB, mean tokens %.0f\n", messages.size(),
              static_cast<double>(bytes) / n / 1024.0, static_cast<double>(tokens) / n);
  std::printf("parse+tokenize: %.4f ms CPU/message, %.0f messages/s, %.1f MB/s (best of %d)\n",
              best * 1000.0 / n, n / best, static_cast<double>(bytes) / best / 1e6, rounds);
  for (const auto& [a, c] : anomalies) std::printf("  anomaly %-28s %zu\n", a.c_str(), c);
  return 0;
}
