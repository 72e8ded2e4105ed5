// Spam accuracy benchmark (issue 5, "Accuracy"): trains mailward's Bayes classifier on the train
// part of the deterministic split (split.sh) and measures it on the test part, beside the results
// of SpamAssassin's and rspamd's Bayes on the same split (reference.sh writes those), as one table:
// spam recall at <= 0.1 % and <= 1 % of ham misclassified (threshold swept on each filter's
// continuous Bayes output), and at each filter's default threshold (ham false positives counted).
//
// Usage:
//   spam_accuracy SPLIT_DIR [--ref DIR]        the table (mailward trained on train/, tested on test/)
//   spam_accuracy SPLIT_DIR --cv [K]           K-fold cross-validation inside train/ only, over a small
//                                              grid of classifier parameters (tuning never sees test/)
// Time figures: CPU ms per message for parse + tokenize + classify (in process, model in memory).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "milters/spam/bayes/bayes.h"
#include "milters/spam/content/parsed_mail.h"
#include "milters/spam/content/tokenize.h"

namespace fs = std::filesystem;
using namespace mailward::spam;

namespace {

struct Sample {
  std::string name;  // "<subset>__<file>"
  bool spam = false;
  std::vector<std::uint64_t> tokens;
};

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TokenizerOptions g_tokenizer;  // --no-bigrams / --no-headers (for cross-validation experiments)

std::vector<Sample> load(const fs::path& dir, bool spam, double& cpu) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<Sample> out;
  for (const auto& f : files) {
    std::string raw = read_file(f);
    double t0 = cpu_seconds();
    Sample s;
    s.name = f.filename().string();
    s.spam = spam;
    s.tokens = tokenize(parse_mail(raw), g_tokenizer);
    cpu += cpu_seconds() - t0;
    out.push_back(std::move(s));
  }
  return out;
}

struct Scored {
  double rank;   // continuous spamminess (swept)
  double score;  // on the SpamAssassin-like scale (default threshold)
  bool spam;
};

struct Metrics {
  double recall_01 = 0, recall_1 = 0;  // spam recall at <= 0.1 % / <= 1 % ham above threshold
  std::size_t spam_at_default = 0, ham_at_default = 0, ham_rejected = 0;
  std::size_t n_spam = 0, n_ham = 0;
};

double recall_at(const std::vector<Scored>& v, double max_ham_rate) {
  std::vector<double> ham, spam;
  for (const auto& s : v) (s.spam ? spam : ham).push_back(s.rank);
  if (spam.empty()) return 0;
  std::sort(ham.begin(), ham.end(), std::greater<>());
  auto allowed = static_cast<std::size_t>(std::floor(max_ham_rate * static_cast<double>(ham.size()) + 1e-9));
  // Spam counts when strictly above the (allowed+1)-th highest ham value.
  double threshold = allowed < ham.size() ? ham[allowed] : -HUGE_VAL;
  std::size_t caught = 0;
  for (double s : spam) caught += s > threshold ? 1 : 0;
  return static_cast<double>(caught) / static_cast<double>(spam.size());
}

Metrics measure(const std::vector<Scored>& v, double default_threshold, double reject_threshold) {
  Metrics m;
  for (const auto& s : v) {
    if (s.spam) {
      ++m.n_spam;
      m.spam_at_default += s.score >= default_threshold ? 1 : 0;
    } else {
      ++m.n_ham;
      m.ham_at_default += s.score >= default_threshold ? 1 : 0;
      m.ham_rejected += s.score >= reject_threshold ? 1 : 0;
    }
  }
  m.recall_01 = recall_at(v, 0.001);
  m.recall_1 = recall_at(v, 0.01);
  return m;
}

std::vector<Scored> run_mailward(const std::vector<Sample>& train, const std::vector<Sample>& test,
                                 const bayes::Params& params, double* cpu_per_msg = nullptr) {
  bayes::MemoryModel model;
  for (const auto& s : train) {
    bayes::learn(model, "", s.tokens, s.spam ? bayes::Label::spam : bayes::Label::ham);
  }
  std::vector<Scored> out;
  double t0 = cpu_seconds();
  for (const auto& s : test) {
    bayes::Verdict v = bayes::classify(model, "", s.tokens, params);
    out.push_back({v.log_ratio, bayes::score(v).score, s.spam});
  }
  if (cpu_per_msg) *cpu_per_msg = (cpu_seconds() - t0) * 1000 / static_cast<double>(test.size());
  return out;
}

// reference.sh output: label, file, bayes, score, extra (one line per message).
std::vector<Scored> load_reference(const fs::path& tsv, bool sa, std::size_t* missing_bayes) {
  std::vector<Scored> out;
  std::ifstream in(tsv);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, '\t')) f.push_back(x);
    if (f.size() < 4) continue;
    Scored s{};
    s.spam = f[0] == "spam";
    double bayes = std::strtod(f[2].c_str(), nullptr);
    if (sa && (f[2] == "nan" || f[2].empty())) {
      bayes = 0.5;
      if (missing_bayes) ++*missing_bayes;
    }
    s.rank = bayes;
    s.score = std::strtod(f[3].c_str(), nullptr);
    out.push_back(s);
  }
  return out;
}

void print_row(const char* name, const Metrics& m, const char* default_desc) {
  std::printf("%-34s %8.1f %% %8.1f %%   %4zu/%zu spam, %zu/%zu ham (%s), ham rejected %zu\n", name,
              100 * m.recall_01, 100 * m.recall_1, m.spam_at_default, m.n_spam, m.ham_at_default,
              m.n_ham, default_desc, m.ham_rejected);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: spam_accuracy SPLIT_DIR [--ref DIR] [--cv [K]]\n";
    return 2;
  }
  fs::path split = argv[1];
  fs::path ref;
  int cv = 0;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--ref" && i + 1 < argc) ref = argv[++i];
    else if (a == "--no-bigrams") g_tokenizer.bigrams = false;
    else if (a == "--no-headers") g_tokenizer.header_tokens = false;
    else if (a == "--cv") cv = (i + 1 < argc && std::isdigit(static_cast<unsigned char>(argv[i + 1][0]))) ? std::atoi(argv[++i]) : 5;
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  double parse_cpu = 0;
  auto train = load(split / "train" / "spam", true, parse_cpu);
  auto train_ham = load(split / "train" / "ham", false, parse_cpu);
  train.insert(train.end(), train_ham.begin(), train_ham.end());

  if (cv > 0) {
    // Folds by position in the sorted file list (deterministic); all parameters on one grid.
    std::vector<bayes::Params> grid;
    grid.push_back(bayes::Params{});  // the defaults first: their rank distribution is printed
    for (double strength : {0.1, 0.45, 1.0}) {
      for (double min_dev : {0.0, 0.1, 0.2, 0.3}) {
        for (std::size_t max_tokens : {50u, 150u, 300u, 1000u}) {
          bayes::Params p;
          p.strength = strength;
          p.min_deviation = min_dev;
          p.max_tokens = max_tokens;
          grid.push_back(p);
        }
      }
    }
    std::vector<std::vector<Scored>> results(grid.size());
    for (int k = 0; k < cv; ++k) {
      bayes::MemoryModel model;
      std::vector<const Sample*> te;
      for (std::size_t i = 0; i < train.size(); ++i) {
        if (static_cast<int>(i % static_cast<std::size_t>(cv)) == k) {
          te.push_back(&train[i]);
        } else {
          bayes::learn(model, "", train[i].tokens, train[i].spam ? bayes::Label::spam : bayes::Label::ham);
        }
      }
      for (std::size_t g = 0; g < grid.size(); ++g) {
        for (const Sample* s : te) {
          bayes::Verdict v = bayes::classify(model, "", s->tokens, grid[g]);
          results[g].push_back({v.log_ratio, bayes::score(v).score, s->spam});
        }
      }
    }
    {
      // Where the defaults put ham and spam (log ratio), to place the score bins (train part only).
      std::vector<double> ham, spam;
      for (const auto& r : results[0]) (r.spam ? spam : ham).push_back(r.rank);
      std::sort(ham.begin(), ham.end(), std::greater<>());
      std::sort(spam.begin(), spam.end());
      std::printf("defaults: top ham log ratios:");
      for (std::size_t i = 0; i < 8 && i < ham.size(); ++i) std::printf(" %.1f", ham[i]);
      std::printf("\nspam log ratio quantiles:");
      for (double q : {0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5}) {
        std::printf(" q%.2f=%.1f", q, spam[static_cast<std::size_t>(q * static_cast<double>(spam.size()))]);
      }
      std::printf("\n");
    }
    std::printf("%-8s %-8s %-10s %10s %10s %8s %8s\n", "strength", "min_dev", "max_tok", "rec@0.1%",
                "rec@1%", "FP@5", "TP@5");
    for (std::size_t g = 0; g < grid.size(); ++g) {
      const auto& p = grid[g];
      Metrics m = measure(results[g], 5.0, 15.0);
      std::printf("%-8.2f %-8.2f %-10zu %9.2f%% %9.2f%% %8zu %8zu\n", p.strength, p.min_deviation,
                  p.max_tokens, 100 * m.recall_01, 100 * m.recall_1, m.ham_at_default,
                  m.spam_at_default);
    }
    return 0;
  }

  std::size_t n_train = train.size();
  auto test = load(split / "test" / "spam", true, parse_cpu);
  auto test_ham = load(split / "test" / "ham", false, parse_cpu);
  test.insert(test.end(), test_ham.begin(), test_ham.end());
  double classify_ms = 0;
  auto ours = run_mailward(train, test, bayes::Params{}, &classify_ms);
  if (std::getenv("SPAM_ACCURACY_SHOW")) {  // the highest-ranked ham and lowest-ranked spam
    std::vector<std::size_t> idx(test.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return ours[a].rank > ours[b].rank; });
    int shown = 0;
    for (std::size_t i : idx) {
      if (!test[i].spam && shown++ < 5) std::printf("ham  %8.2f %s\n", ours[i].rank, test[i].name.c_str());
    }
  }
  std::printf("split: %zu train, %zu test messages (test: %zu spam, %zu ham)\n", n_train,
              test.size(), static_cast<std::size_t>(std::count_if(test.begin(), test.end(), [](const Sample& s) { return s.spam; })),
              static_cast<std::size_t>(std::count_if(test.begin(), test.end(), [](const Sample& s) { return !s.spam; })));
  std::printf("%-34s %10s %10s   %s\n", "filter", "rec@0.1%FP", "rec@1%FP", "at default threshold");
  print_row("mailward Bayes (score >= 5)", measure(ours, 5.0, 15.0), "score >= 5.0");
  if (!ref.empty()) {
    if (fs::exists(ref / "sa.tsv")) {
      std::size_t missing = 0;
      auto sa = load_reference(ref / "sa.tsv", true, &missing);
      print_row("SpamAssassin 4.0 Bayes (+local rules)", measure(sa, 5.0, 15.0), "score >= 5.0");
      if (missing) std::printf("  (SpamAssassin gave no Bayes probability for %zu messages)\n", missing);
    } else {
      std::printf("SpamAssassin: no %s\n", (ref / "sa.tsv").c_str());
    }
    if (fs::exists(ref / "rspamd.tsv")) {
      auto rs = load_reference(ref / "rspamd.tsv", false, nullptr);
      print_row("rspamd 3.4 Bayes (+local rules)", measure(rs, 6.0, 15.0), "add header, score >= 6");
    } else {
      std::printf("rspamd: no %s\n", (ref / "rspamd.tsv").c_str());
    }
  }
  std::printf("mailward CPU: parse+tokenize %.3f ms/msg, classify %.4f ms/msg (in-memory model)\n",
              parse_cpu * 1000 / static_cast<double>(n_train + test.size()), classify_ms);
  return 0;
}
