// Spam accuracy benchmark (issue 5, "Accuracy"): trains mailward's Bayes classifier on the train
// part of the deterministic split (split.sh) and measures it on the test part, beside the results
// of SpamAssassin's and rspamd's Bayes on the same split (reference.sh writes those), as one table:
// spam recall at <= 0.1 % and <= 1 % of ham misclassified (threshold swept on each filter's
// continuous Bayes output), and at each filter's default threshold (ham false positives counted).
//
// Usage:
//   spam_accuracy SPLIT_DIR [--ref DIR] [--variant SPEC]...
//       the table: mailward trained on train/, tested on test/ (once per variant; default: the
//       shipped defaults)
//   spam_accuracy SPLIT_DIR --cv [K] [--repeat R] [--variant SPEC]... [--show N]
//       K-fold cross-validation inside train/ only (tuning never sees test/), repeated R times with
//       different fold assignments (fold = FNV-1a(file name, repeat) mod K); one row per variant.
// SPEC: comma-separated key=value changing the shipped defaults: tokenizer (bigrams, headers,
// more_headers, url_paths, tok_max, min_word, max_word) and classifier (strength, prior, min_dev,
// max_tokens, min_count, combine_odds, odds_min_dev), `rank` (what is swept and scored: 3 the
// verdict's points, the shipped measure; 0 the spamminess alone; 1 the log ratio; 2 the mean log
// odds) and `scale` (score points per unit of ranks 0-2, default bayes::kScorePerSpamminess);
// `combo` (1 average, 2 min, 3 max) with b_strength, b_prior, b_min_dev, b_max_tokens, b_rank,
// b_scale: a second classifier on the same counts combined with the first in the bench itself.
// --dump FILE writes every train message's CV value (repeat 0) per variant.
// Time figures: CPU ms per message for parse + tokenize and for classify (in process, model in
// memory): the per-message cost the milter pays, beside rspamd's from reference.sh.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "milters/spam/bayes/bayes.h"
#include "milters/spam/content/parsed_mail.h"
#include "milters/spam/content/tokenize.h"

namespace fs = std::filesystem;
using namespace mailward::spam;

namespace {

struct Message {
  std::string name;  // "<subset>__<file>"
  bool spam = false;
  std::string raw;
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

void load(const fs::path& dir, bool spam, std::vector<Message>& out) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) out.push_back({f.filename().string(), spam, read_file(f)});
}

struct Variant {
  std::string spec;  // as given ("" = the shipped defaults)
  TokenizerOptions tok;
  bayes::Params params;
  double scale = bayes::kScorePerSpamminess;
  // What is swept and scored: 3 Verdict::points (shipped since 2026-11-28: the spamminess and
  // the second reading averaged, bayes.h), 0 spamminess (log ratio / sqrt(tokens used), shipped
  // before), 1 the log ratio (the measure before that), 2 the mean log odds.
  int rank = 3;
  std::string tok_key;  // the tokenizer part of the spec (token sets are cached per key)
  // Prototype (bench only, to decide whether the tokenizer should learn it): HTML tag tokens from
  // a crude scan of the raw body of HTML mail: 1 "T:tag" and "T:tag:attr", 2 also "T:tag:attr=value"
  // for presentational attributes (color, bgcolor, face, size, align).
  int html_tags = 0;
  // A second classifier on the same counts (combo != 0): its own parameters (b_* keys; default
  // SpamAssassin's constants with |f - 1/2| >= 0.4), ranked by b_rank (default 2, the mean log
  // odds) and put on the points scale by b_scale. combo: 1 the average of the two points, 2 the
  // minimum, 3 the maximum. The swept value is then the combined points.
  int combo = 0;
  bayes::Params params2 = sa_params();
  int rank2 = 2;
  double scale2 = 5.0;

  static bayes::Params sa_params() {
    bayes::Params p;
    p.strength = 0.03;
    p.prior = 0.538;
    p.min_deviation = 0.4;
    p.max_tokens = 150;
    return p;
  }
};

bool parse_variant(const std::string& spec, Variant& v, std::string& why) {
  v = Variant{};
  v.spec = spec;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos) {
      why = "no '=' in " + item;
      return false;
    }
    std::string k = item.substr(0, eq);
    double x = std::strtod(item.c_str() + eq + 1, nullptr);
    auto n = static_cast<std::size_t>(x);
    bool b = x != 0;
    bool tok = true;
    if (k == "bigrams") v.tok.bigrams = b;
    else if (k == "headers") v.tok.header_tokens = b;
    else if (k == "more_headers") v.tok.more_headers = b;
    else if (k == "url_paths") v.tok.url_paths = b;
    else if (k == "tok_max") v.tok.max_tokens = n;
    else if (k == "min_word") v.tok.min_word_chars = n;
    else if (k == "max_word") v.tok.max_word_chars = n;
    else if (k == "html_tags") v.html_tags = static_cast<int>(n);
    else {
      tok = false;
      if (k == "strength") v.params.strength = x;
      else if (k == "prior") v.params.prior = x;
      else if (k == "min_dev") v.params.min_deviation = x;
      else if (k == "max_tokens") v.params.max_tokens = n;
      else if (k == "min_count") v.params.min_count = n;
      else if (k == "combine_odds") v.params.combine_odds = b;
      else if (k == "odds_min_dev") v.params.odds_min_deviation = x;
      else if (k == "scale") v.scale = x;
      else if (k == "rank") v.rank = static_cast<int>(n);
      else if (k == "combo") v.combo = static_cast<int>(n);
      else if (k == "b_strength") v.params2.strength = x;
      else if (k == "b_prior") v.params2.prior = x;
      else if (k == "b_min_dev") v.params2.min_deviation = x;
      else if (k == "b_max_tokens") v.params2.max_tokens = n;
      else if (k == "b_rank") v.rank2 = static_cast<int>(n);
      else if (k == "b_scale") v.scale2 = x;
      else {
        why = "unknown key " + k;
        return false;
      }
    }
    if (tok) v.tok_key += item + ",";
  }
  return true;
}

using Tokens = std::vector<std::uint64_t>;

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// The html_tags prototype: a crude scan of the raw message after the header for <tag attr=...>
// (no MIME decoding: base64 HTML is missed). Adds hashes and re-sorts, unique.
void add_html_tag_tokens(const std::string& raw, int mode, Tokens& t) {
  std::size_t body = raw.find("\n\n");
  if (body == std::string::npos) return;
  std::set<std::string> found;
  for (std::size_t i = raw.find('<', body); i != std::string::npos && found.size() < 300;
       i = raw.find('<', i + 1)) {
    std::size_t j = i + 1;
    if (j < raw.size() && raw[j] == '/') ++j;
    std::size_t k = j;
    while (k < raw.size() && std::isalnum(static_cast<unsigned char>(raw[k]))) ++k;
    if (k == j || k - j > 10 || !std::isalpha(static_cast<unsigned char>(raw[j]))) continue;
    std::string tag = lower(std::string_view(raw).substr(j, k - j));
    found.insert("T:" + tag);
    std::size_t end = raw.find('>', k);
    if (end == std::string::npos || end - k > 1000) continue;
    std::string attrs = lower(std::string_view(raw).substr(k, end - k));
    std::size_t a = 0;
    while (a < attrs.size()) {
      while (a < attrs.size() && !std::isalpha(static_cast<unsigned char>(attrs[a]))) ++a;
      std::size_t b = a;
      while (b < attrs.size() && (std::isalnum(static_cast<unsigned char>(attrs[b])) || attrs[b] == '-')) ++b;
      if (b == a) break;
      std::string name = attrs.substr(a, b - a);
      found.insert("T:" + tag + ":" + name);
      std::size_t c = b;
      while (c < attrs.size() && attrs[c] == ' ') ++c;
      if (c < attrs.size() && attrs[c] == '=') {
        ++c;
        while (c < attrs.size() && attrs[c] == ' ') ++c;
        std::size_t d = c;
        if (d < attrs.size() && (attrs[d] == '"' || attrs[d] == '\'')) {
          char q = attrs[d];
          std::size_t e = attrs.find(q, d + 1);
          if (e == std::string::npos) e = attrs.size();
          if (mode >= 2 && (name == "color" || name == "bgcolor" || name == "face" || name == "size" || name == "align"))
            found.insert("T:" + tag + ":" + name + "=" + attrs.substr(d + 1, std::min<std::size_t>(e - d - 1, 40)));
          c = e + 1;
        } else {
          std::size_t e = c;
          while (e < attrs.size() && attrs[e] != ' ') ++e;
          if (mode >= 2 && (name == "color" || name == "bgcolor" || name == "face" || name == "size" || name == "align"))
            found.insert("T:" + tag + ":" + name + "=" + attrs.substr(c, std::min<std::size_t>(e - c, 40)));
          c = e;
        }
      }
      a = c;
    }
  }
  for (const std::string& f : found) t.push_back(token_hash(f));
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
}

// Token sets per tokenizer spec, parse + tokenize CPU measured.
std::map<std::string, std::vector<Tokens>> g_token_cache;
double g_tokenize_cpu = 0;
std::size_t g_tokenized = 0;

const std::vector<Tokens>& tokens_for(const std::vector<Message>& msgs, const Variant& v,
                                      const std::string& tag) {
  std::string key = tag + "|" + v.tok_key;
  auto it = g_token_cache.find(key);
  if (it != g_token_cache.end()) return it->second;
  std::vector<Tokens> out;
  out.reserve(msgs.size());
  double t0 = cpu_seconds();
  for (const Message& m : msgs) {
    ParsedMail pm = parse_mail(m.raw);
    Tokens t = tokenize(pm, v.tok);
    if (v.html_tags > 0 && pm.has_html) add_html_tag_tokens(m.raw, v.html_tags, t);
    out.push_back(std::move(t));
  }
  g_tokenize_cpu += cpu_seconds() - t0;
  g_tokenized += msgs.size();
  return g_token_cache.emplace(key, std::move(out)).first->second;
}

struct Scored {
  double rank;   // continuous spamminess (swept)
  double score;  // on the SpamAssassin-like scale (default threshold)
  bool spam;
};

struct Metrics {
  double recall_0 = 0, recall_01 = 0, recall_05 = 0, recall_1 = 0;
  double recall_0_of_905 = 0;  // expected_recall_at_zero(..., 905)
  std::size_t spam_at_default = 0, ham_at_default = 0, ham_rejected = 0;
  std::size_t n_spam = 0, n_ham = 0;
  std::vector<double> top_ham;  // highest ham ranks
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

// The expected recall at zero false positives on a random subset of `n` of the ham (all spam):
// the test part's figure (905 ham: 0.1 % allows none) as cross-validation on train/ predicts it.
// The subset's highest ham is the i-th highest of all N with probability C(N-i, n-1) / C(N, n).
double expected_recall_at_zero(const std::vector<Scored>& v, std::size_t n) {
  std::vector<double> ham, spam;
  for (const auto& s : v) (s.spam ? spam : ham).push_back(s.rank);
  if (spam.empty() || ham.size() < n || n == 0) return 0;
  std::sort(ham.begin(), ham.end(), std::greater<>());
  std::sort(spam.begin(), spam.end());
  auto lchoose = [](double a, double b) { return std::lgamma(a + 1) - std::lgamma(b + 1) - std::lgamma(a - b + 1); };
  const auto N = static_cast<double>(ham.size());
  const auto nn = static_cast<double>(n);
  double total = lchoose(N, nn);
  double expected = 0;
  for (std::size_t i = 1; i + n - 1 <= ham.size(); ++i) {
    double p = std::exp(lchoose(N - static_cast<double>(i), nn - 1) - total);
    if (p < 1e-12 && i > 1) break;
    auto above = static_cast<std::size_t>(spam.end() - std::upper_bound(spam.begin(), spam.end(), ham[i - 1]));
    expected += p * static_cast<double>(above) / static_cast<double>(spam.size());
  }
  return expected;
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
      m.top_ham.push_back(s.rank);
    }
  }
  std::sort(m.top_ham.begin(), m.top_ham.end(), std::greater<>());
  if (m.top_ham.size() > 5) m.top_ham.resize(5);
  m.recall_0 = recall_at(v, 0);
  m.recall_01 = recall_at(v, 0.001);
  m.recall_0_of_905 = expected_recall_at_zero(v, 905);
  m.recall_05 = recall_at(v, 0.005);
  m.recall_1 = recall_at(v, 0.01);
  return m;
}

double rank_of(const bayes::Verdict& v, int rank) {
  if (rank == 3) return v.points;
  if (rank == 1) return v.log_ratio;
  if (rank == 2) return v.mean_log_odds;
  return v.spamminess;
}

double score_of(const bayes::Verdict& v, const Variant& variant) {
  if (variant.rank == 3) return bayes::score(v).score;
  return std::clamp(variant.scale * rank_of(v, variant.rank), bayes::kMinScore, bayes::kMaxScore);
}

// The swept value and the score of a message under a variant (one or two classifiers).
std::pair<double, double> evaluate(bayes::MemoryModel& model, const Tokens& toks, const Variant& v) {
  bayes::Verdict a = bayes::classify(model, "", toks, v.params);
  if (v.combo == 0) return {rank_of(a, v.rank), score_of(a, v)};
  bayes::Verdict b = bayes::classify(model, "", toks, v.params2);
  double pa = v.scale * rank_of(a, v.rank);
  double pb = v.scale2 * rank_of(b, v.rank2);
  double c = v.combo == 1 ? (pa + pb) / 2 : v.combo == 2 ? std::min(pa, pb) : std::max(pa, pb);
  return {c, std::clamp(c, bayes::kMinScore, bayes::kMaxScore)};
}

void train_model(bayes::MemoryModel& model, const std::vector<Message>& msgs,
                 const std::vector<Tokens>& toks, const std::vector<bool>* skip = nullptr) {
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    if (skip && (*skip)[i]) continue;
    bayes::learn(model, "", toks[i], msgs[i].spam ? bayes::Label::spam : bayes::Label::ham);
  }
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

void print_row(const std::string& name, const Metrics& m, const char* default_desc) {
  std::printf("%-38s %8.1f %% %8.1f %%   %4zu/%zu spam, %zu/%zu ham (%s), ham rejected %zu\n",
              name.c_str(), 100 * m.recall_01, 100 * m.recall_1, m.spam_at_default, m.n_spam,
              m.ham_at_default, m.n_ham, default_desc, m.ham_rejected);
}

// --dump FILE: every train message's CV value under each variant (repeat 0), one line per
// message and variant: variant index, label, swept value, name.
std::FILE* g_dump = nullptr;

std::uint64_t fold_hash(const std::string& name, int repeat) {
  std::uint64_t h = token_hash(name) ^ (std::uint64_t{0x9e3779b97f4a7c15} * static_cast<std::uint64_t>(repeat + 1));
  h ^= h >> 33;
  h *= std::uint64_t{0xff51afd7ed558ccd};
  h ^= h >> 33;
  return h;
}

// The tokens that weigh most in a verdict (for --show): token strings of the message with their
// smoothed probability and counts.
void explain(const Message& msg, const Variant& v, bayes::MemoryModel& model, int n) {
  std::vector<std::string> strs = token_strings(parse_mail(msg.raw), v.tok);
  bayes::Counts totals;
  model.totals("", totals);
  struct Row {
    double f;
    bayes::Counts c;
    std::string s;
  };
  std::vector<Row> rows;
  for (const std::string& s : strs) {
    std::uint64_t h = token_hash(s);
    bayes::Counts c;
    model.lookup("", std::span<const std::uint64_t>(&h, 1), std::span<bayes::Counts>(&c, 1));
    if (c.spam == 0 && c.ham == 0) continue;
    rows.push_back({bayes::token_probability(c, totals, v.params), c, s});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.f > b.f; });
  std::printf("    %zu tokens known of %zu; spammiest:", rows.size(), strs.size());
  for (int i = 0; i < n && i < static_cast<int>(rows.size()); ++i) {
    const Row& r = rows[static_cast<std::size_t>(i)];
    std::printf(" [%s %.3f %llu/%llu]", r.s.c_str(), r.f, static_cast<unsigned long long>(r.c.spam),
                static_cast<unsigned long long>(r.c.ham));
  }
  std::printf("\n");
}

int run_cv(const std::vector<Message>& train, const std::vector<Variant>& variants, int k, int repeats,
           int show) {
  std::printf("%d-fold cross-validation inside train/ (%zu messages), %d repeat(s); recall averaged over repeats\n",
              k, train.size(), repeats);
  std::printf("rec@0: none of the 2000 ham above; rec@0/905: expected recall with none of a random 905 of\n"
              "them above (what the test part measures); FP@5, TP@5: ham and spam at score >= 5\n");
  std::printf("%-52s %8s %8s %8s %8s %8s %6s %7s  %s\n", "variant", "rec@0", "rec@0/905", "rec@0.1%", "rec@0.5%",
              "rec@1%", "FP@5", "TP@5", "top ham ranks (repeat 0)");
  for (const Variant& v : variants) {
    const std::vector<Tokens>& toks = tokens_for(train, v, "train");
    Metrics sum;
    Metrics first;
    std::vector<Scored> first_results;
    std::vector<int> first_fold(train.size());
    for (int r = 0; r < repeats; ++r) {
      std::vector<Scored> results(train.size());
      std::vector<int> fold(train.size());
      for (std::size_t i = 0; i < train.size(); ++i) fold[i] = static_cast<int>(fold_hash(train[i].name, r) % static_cast<std::uint64_t>(k));
      for (int f = 0; f < k; ++f) {
        bayes::MemoryModel model;
        std::vector<bool> skip(train.size());
        for (std::size_t i = 0; i < train.size(); ++i) skip[i] = fold[i] == f;
        train_model(model, train, toks, &skip);
        for (std::size_t i = 0; i < train.size(); ++i) {
          if (!skip[i]) continue;
          auto [rank, points] = evaluate(model, toks[i], v);
          results[i] = {rank, points, train[i].spam};
        }
      }
      Metrics m = measure(results, 5.0, 15.0);
      if (r == 0) {
        if (g_dump) {
          for (std::size_t i = 0; i < train.size(); ++i)
            std::fprintf(g_dump, "%zu\t%s\t%.6f\t%s\n", static_cast<std::size_t>(&v - variants.data()),
                         train[i].spam ? "spam" : "ham", results[i].rank, train[i].name.c_str());
        }
        first = m;
        first_results = results;
        first_fold = fold;
      }
      sum.recall_0 += m.recall_0;
      sum.recall_01 += m.recall_01;
      sum.recall_0_of_905 += m.recall_0_of_905;
      sum.recall_05 += m.recall_05;
      sum.recall_1 += m.recall_1;
      sum.ham_at_default += m.ham_at_default;
      sum.spam_at_default += m.spam_at_default;
    }
    double R = repeats;
    std::printf("%-52s %7.2f%% %7.2f%% %7.2f%% %7.2f%% %7.2f%% %6.1f %6.1f%%  ", v.spec.empty() ? "(defaults)" : v.spec.c_str(),
                100 * sum.recall_0 / R, 100 * sum.recall_0_of_905 / R, 100 * sum.recall_01 / R, 100 * sum.recall_05 / R,
                100 * sum.recall_1 / R, static_cast<double>(sum.ham_at_default) / R,
                100 * static_cast<double>(sum.spam_at_default) / R / static_cast<double>(first.n_spam));
    for (double x : first.top_ham) std::printf(" %.2f", x);
    std::printf("\n");
    std::fflush(stdout);
    if (show > 0) {
      std::vector<std::size_t> idx;
      for (std::size_t i = 0; i < train.size(); ++i) idx.push_back(i);
      std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return first_results[a].rank > first_results[b].rank; });
      int shown_ham = 0;
      for (std::size_t i : idx) {
        if (train[i].spam || shown_ham >= show) continue;
        ++shown_ham;
        std::printf("  ham  %8.2f %s\n", first_results[i].rank, train[i].name.c_str());
        bayes::MemoryModel model;
        std::vector<bool> skip(train.size());
        for (std::size_t j = 0; j < train.size(); ++j) skip[j] = first_fold[j] == first_fold[i];
        train_model(model, train, toks, &skip);
        explain(train[i], v, model, 25);
      }
      int shown_spam = 0;
      for (auto it = idx.rbegin(); it != idx.rend() && shown_spam < show; ++it) {
        if (!train[*it].spam) continue;
        ++shown_spam;
        std::printf("  spam %8.2f %s\n", first_results[*it].rank, train[*it].name.c_str());
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: spam_accuracy SPLIT_DIR [--ref DIR] [--variant SPEC]... [--cv [K] [--repeat R] [--show N]]\n";
    return 2;
  }
  fs::path split = argv[1];
  fs::path ref;
  int cv = 0, repeats = 1, show = 0;
  std::vector<Variant> variants;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--ref" && i + 1 < argc) ref = argv[++i];
    else if (a == "--variant" && i + 1 < argc) {
      Variant v;
      std::string why;
      if (!parse_variant(argv[++i], v, why)) {
        std::cerr << "bad --variant: " << why << "\n";
        return 2;
      }
      variants.push_back(v);
    } else if (a == "--repeat" && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
    else if (a == "--show" && i + 1 < argc) show = std::atoi(argv[++i]);
    else if (a == "--dump" && i + 1 < argc) {
      g_dump = std::fopen(argv[++i], "w");
      if (!g_dump) {
        std::cerr << "cannot write " << argv[i] << "\n";
        return 2;
      }
    }
    else if (a == "--cv") cv = (i + 1 < argc && std::isdigit(static_cast<unsigned char>(argv[i + 1][0]))) ? std::atoi(argv[++i]) : 5;
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  if (variants.empty()) variants.push_back(Variant{});
  std::vector<Message> train;
  load(split / "train" / "spam", true, train);
  load(split / "train" / "ham", false, train);
  if (cv > 0) return run_cv(train, variants, cv, repeats, show);

  std::vector<Message> test;
  load(split / "test" / "spam", true, test);
  load(split / "test" / "ham", false, test);
  std::size_t test_spam = static_cast<std::size_t>(std::count_if(test.begin(), test.end(), [](const Message& m) { return m.spam; }));
  std::printf("split: %zu train, %zu test messages (test: %zu spam, %zu ham)\n", train.size(),
              test.size(), test_spam, test.size() - test_spam);
  std::printf("%-38s %10s %10s   %s\n", "filter", "rec@0.1%FP", "rec@1%FP", "at default threshold");
  double classify_cpu = 0;
  std::size_t classified = 0;
  for (const Variant& v : variants) {
    const std::vector<Tokens>& train_toks = tokens_for(train, v, "train");
    const std::vector<Tokens>& test_toks = tokens_for(test, v, "test");
    bayes::MemoryModel model;
    train_model(model, train, train_toks);
    std::vector<Scored> ours;
    double t0 = cpu_seconds();
    for (std::size_t i = 0; i < test.size(); ++i) {
      auto [rank, points] = evaluate(model, test_toks[i], v);
      ours.push_back({rank, points, test[i].spam});
    }
    classify_cpu += cpu_seconds() - t0;
    classified += test.size();
    std::string name = v.spec.empty() ? "mailward Bayes (score >= 5)" : "mailward " + v.spec;
    print_row(name, measure(ours, 5.0, 15.0), "score >= 5.0");
    if (std::getenv("SPAM_ACCURACY_SHOW")) {  // the highest-ranked test ham
      std::vector<std::size_t> idx(test.size());
      for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return ours[a].rank > ours[b].rank; });
      int shown = 0;
      for (std::size_t i : idx) {
        if (!test[i].spam && shown++ < 5) std::printf("  ham  %8.2f %s\n", ours[i].rank, test[i].name.c_str());
      }
    }
  }
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
  std::printf("mailward in process, model in memory: parse+tokenize %.3f ms CPU/msg, classify %.4f ms CPU/msg, total %.3f ms CPU/msg\n",
              g_tokenize_cpu * 1000 / static_cast<double>(g_tokenized),
              classify_cpu * 1000 / static_cast<double>(classified),
              g_tokenize_cpu * 1000 / static_cast<double>(g_tokenized) + classify_cpu * 1000 / static_cast<double>(classified));
  return 0;
}
