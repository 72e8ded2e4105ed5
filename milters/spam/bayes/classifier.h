// The Bayes classifier as the spam checker sees it (SpamClassifier in milters/spam/rules/spam.h):
// tokenize the parsed message (milters/spam/content/tokenize.h), classify against a Model, and
// turn the verdict into a named score contribution (bayes::score).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/config/config.h"
#include "milters/spam/bayes/bayes.h"
#include "milters/spam/content/tokenize.h"
#include "milters/spam/rules/spam.h"

namespace mailward::spam::bayes {

class BayesClassifier final : public SpamClassifier {
 public:
  explicit BayesClassifier(std::shared_ptr<Model> model, Params params = {},
                           TokenizerOptions tokenizer = {});
  // nullopt: untrained model or store failure (detail in last_problem(), not synchronised: for the
  // CLI and tests). Never throws.
  std::optional<ClassifierResult> classify(const ParsedMail& mail, std::string_view user) override;

  const Params& params() const { return params_; }
  const TokenizerOptions& tokenizer() const { return tokenizer_; }
  Model& model() { return *model_; }
  std::string last_problem() const {
    std::lock_guard<std::mutex> lock(problem_mutex_);
    return last_problem_;
  }

 private:
  std::shared_ptr<Model> model_;
  Params params_;
  TokenizerOptions tokenizer_;
  mutable std::mutex problem_mutex_;  // classify() runs on several milter threads
  std::string last_problem_;
};

// [spam] bayes_min_spam, bayes_min_ham (default 10 each), bayes_user_min_spam, bayes_user_min_ham
// (default 50 each). Throws config::ConfigError naming the line for a bad value.
Params load_bayes_params(const config::Config& config);

}  // namespace mailward::spam::bayes
