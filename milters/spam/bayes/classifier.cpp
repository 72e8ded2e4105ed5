// BayesClassifier: tokens of a parsed message -> bayes::classify -> a ClassifierResult for the
// spam checker's total.
#include "milters/spam/bayes/classifier.h"

#include <exception>
#include <utility>

namespace mailward::spam::bayes {

BayesClassifier::BayesClassifier(std::shared_ptr<Model> model, Params params,
                                 TokenizerOptions tokenizer)
    : model_(std::move(model)), params_(params), tokenizer_(tokenizer) {}

std::optional<ClassifierResult> BayesClassifier::classify(const ParsedMail& mail,
                                                          std::string_view user) {
  try {
    std::vector<Token> tokens = tokenize(mail, tokenizer_);
    Verdict v = bayes::classify(*model_, user, tokens, params_);
    if (v.status != Status::ok || !v.opinion) {
      std::lock_guard<std::mutex> lock(problem_mutex_);
      last_problem_ = v.detail;
      return std::nullopt;
    }
    ScoreBin bin = score(v);
    ClassifierResult r;
    r.probability = v.probability;
    r.score = bin.score;
    r.name = bin.rule;
    r.description = bin.description;
    return r;
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(problem_mutex_);
    last_problem_ = e.what();
    return std::nullopt;
  }
}

Params load_bayes_params(const config::Config& config) {
  Params p;
  auto count = [&](const char* key, std::uint64_t fallback) {
    return static_cast<std::uint64_t>(
        config.get_int("spam", key, static_cast<long long>(fallback), 0, 1000000000));
  };
  p.min_spam = count("bayes_min_spam", p.min_spam);
  p.min_ham = count("bayes_min_ham", p.min_ham);
  p.user_min_spam = count("bayes_user_min_spam", p.user_min_spam);
  p.user_min_ham = count("bayes_user_min_ham", p.user_min_ham);
  return p;
}

}  // namespace mailward::spam::bayes
