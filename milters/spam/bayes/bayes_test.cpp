// Unit tests for the Bayesian classifier: token probability and chi-square math on hand-made
// counts with exact expectations, learning/forgetting with the ledger, per-user vs global, both
// Model implementations (memory, and StoreModel over the memory and LMDB stores), persistence.
#include "milters/spam/bayes/bayes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "common/store/store.h"

namespace mailward::spam::bayes {
namespace {

TEST(BayesMath, TokenProbabilityRobinson) {
  Params p;
  p.strength = 0.1;
  p.prior = 0.5;
  // b = 3/10, g = 1/10, p = 0.75, n = 4: f = (0.1*0.5 + 4*0.75) / 4.1
  EXPECT_DOUBLE_EQ(token_probability({3, 1}, {10, 10}, p), (0.05 + 3.0) / 4.1);
  // Unequal totals: b = 2/4, g = 2/20 -> p = 0.5 / 0.6; n = 4
  EXPECT_DOUBLE_EQ(token_probability({2, 2}, {4, 20}, p), (0.05 + 4 * (0.5 / 0.6)) / 4.1);
  // Never seen: the prior.
  EXPECT_DOUBLE_EQ(token_probability({0, 0}, {10, 10}, p), 0.5);
  // Spam-only token seen once: (0.05 + 1) / 1.1
  EXPECT_DOUBLE_EQ(token_probability({1, 0}, {10, 10}, p), 1.05 / 1.1);
}

TEST(BayesMath, ChiSquareTail) {
  // dof 2: Q = exp(-x/2); dof 4: Q = exp(-m)(1 + m); dof 6: exp(-m)(1 + m + m^2/2).
  struct Case { double x2; unsigned dof; double expected_ln; } cases[] = {
      {1.0, 2, -0.5},
      {10.0, 2, -5.0},
      {3.0, 4, -1.5 + std::log(2.5)},
      {8.0, 6, -4.0 + std::log(1 + 4 + 8)},
      {0.0, 6, 0.0},
      {4000.0, 2, -2000.0},  // far below double's range as a plain probability
  };
  for (const auto& c : cases) {
    EXPECT_NEAR(log_chi2_tail(c.x2, c.dof), c.expected_ln, 1e-9) << c.x2 << " " << c.dof;
  }
  // Large dof: still finite and <= 0.
  double v = log_chi2_tail(100.0, 2000);
  EXPECT_LE(v, 0.0);
  EXPECT_GT(v, -1e-6);  // the mean is 2000, so 100 is deep in the lower tail: Q ~ 1
}

TEST(BayesMath, OneTokenGivesItsProbability) {
  // With one token, q_spam = 1 - f and q_ham = f, so I = (1 + f - (1 - f)) / 2 = f.
  Params p;
  p.strength = 0.1;
  p.prior = 0.5;
  Counts totals{10, 10};
  std::vector<Counts> one{{3, 1}};
  Verdict v = combine(one, totals, p);
  double f = (0.05 + 3.0) / 4.1;
  EXPECT_TRUE(v.opinion);
  EXPECT_EQ(v.tokens_used, 1u);
  EXPECT_NEAR(v.probability, f, 1e-12);
  EXPECT_NEAR(v.log_ratio, std::log(f) - std::log(1 - f), 1e-9);
}

TEST(BayesMath, SelectionAndSymmetry) {
  Params p;
  p.strength = 0.1;
  p.prior = 0.5;
  p.min_deviation = 0.2;
  p.max_tokens = 2;
  Counts totals{10, 10};
  // Unseen and near-0.5 tokens are ignored; of the rest only the 2 most extreme count.
  std::vector<Counts> c{{0, 0}, {5, 5}, {9, 0}, {0, 9}, {4, 1}};
  Verdict v = combine(c, totals, p);
  EXPECT_EQ(v.tokens_used, 2u);
  // One spam-only and one ham-only token of equal weight: exactly undecided.
  EXPECT_NEAR(v.probability, 0.5, 1e-12);
  EXPECT_NEAR(v.log_ratio, 0.0, 1e-9);
  // Mirror image of a spammy message is equally hammy.
  std::vector<Counts> spammy{{9, 0}, {8, 1}, {7, 0}};
  std::vector<Counts> hammy{{0, 9}, {1, 8}, {0, 7}};
  p.max_tokens = 150;
  Verdict s = combine(spammy, totals, p);
  Verdict h = combine(hammy, totals, p);
  EXPECT_GT(s.probability, 0.99);
  EXPECT_NEAR(s.probability, 1 - h.probability, 1e-12);
  EXPECT_NEAR(s.log_ratio, -h.log_ratio, 1e-9);
  // No usable token: opinion, but undecided.
  std::vector<Counts> none{{0, 0}};
  Verdict n = combine(none, totals, p);
  EXPECT_TRUE(n.opinion);
  EXPECT_EQ(n.tokens_used, 0u);
  EXPECT_EQ(n.probability, 0.5);
}

TEST(BayesMath, ScoreMapping) {
  Verdict v;
  v.opinion = true;
  // score = clamp(points, -3, 8); the rule name from the probability.
  struct Case { double p, points, score; const char* rule; } cases[] = {
      {1.0, 100, 8.0, "BAYES_999"},  {0.9995, 5, 5.0, "BAYES_999"},
      {0.995, 3, 3.0, "BAYES_99"},   {0.5, 0, 0.0, "BAYES_50"},
      {0.1, -1, -1.0, "BAYES_05"},   {0.0, -100, -3.0, "BAYES_00"},
  };
  for (const auto& c : cases) {
    v.probability = c.p;
    v.points = c.points;
    v.log_ratio = 1e9;   // not the score's basis any more
    v.spamminess = 1e9;  // neither (points holds the combination)
    ScoreBin b = score(v);
    EXPECT_NEAR(b.score, c.score, 1e-12) << c.points;
    EXPECT_EQ(b.rule, c.rule) << c.p;
  }
  Verdict untrained;
  EXPECT_EQ(score(untrained).score, 0.0);
  EXPECT_EQ(score(untrained).rule, "");
}

TEST(BayesMath, PointsAverageSpamminessAndOdds) {
  // totals 100/100. Token A {95, 5}: f = 0.95 (plus a tiny prior pull), extreme enough for the
  // second reading (|f - 1/2| >= 0.4). Token B {30, 20}: f ~ 0.6, used by the spamminess only.
  Params p;  // shipped: strength 1.0, combine_odds, odds_* SpamAssassin's constants
  Counts totals{100, 100};
  std::vector<Counts> c{{95, 5}, {30, 20}};
  Verdict v = combine(c, totals, p);
  ASSERT_EQ(v.tokens_used, 2u);
  Params sa = p;
  sa.strength = p.odds_strength;
  sa.prior = p.odds_prior;
  double fa = token_probability(c[0], totals, sa);
  EXPECT_NEAR(fa, (0.03 * 0.538 + 100 * 0.95) / 100.03, 1e-12);
  EXPECT_GT(token_probability(c[1], totals, sa) - 0.5, 0.05);
  EXPECT_LT(token_probability(c[1], totals, sa) - 0.5, 0.4);  // left out of the odds
  EXPECT_NEAR(v.odds, std::log(fa / (1 - fa)), 1e-12);
  EXPECT_NEAR(v.points, (kScorePerSpamminess * v.spamminess + kScorePerOdds * v.odds) / 2, 1e-12);
  EXPECT_NEAR(score(v).score, std::clamp(v.points, kMinScore, kMaxScore), 1e-12);
  // Without the combination the points are the spamminess alone (the score before 2026-11-28).
  p.combine_odds = false;
  Verdict alone = combine(c, totals, p);
  EXPECT_EQ(alone.odds, 0.0);
  EXPECT_NEAR(alone.points, kScorePerSpamminess * alone.spamminess, 1e-12);
  EXPECT_NEAR(alone.spamminess, v.spamminess, 1e-12);
  // Only the most extreme odds_max_tokens take part in the odds; none extreme enough: 0.
  p.combine_odds = true;
  p.odds_max_tokens = 1;
  std::vector<Counts> two{{95, 5}, {0, 100}};  // the ham-only token is the more extreme one
  Verdict one = combine(two, totals, p);
  double fh = token_probability(two[1], totals, sa);
  EXPECT_NEAR(one.odds, std::log(fh / (1 - fh)), 1e-12);
  std::vector<Counts> mild{{30, 20}};
  EXPECT_EQ(combine(mild, totals, p).odds, 0.0);
  // Mirror symmetry holds for the spamminess; the odds prior (0.538) leans slightly to spam.
  std::vector<Counts> spammy{{95, 5}, {80, 0}};
  std::vector<Counts> hammy{{5, 95}, {0, 80}};
  Verdict s = combine(spammy, totals, p), h = combine(hammy, totals, p);
  EXPECT_GT(s.points, 5.0);
  EXPECT_LT(h.points, -5.0);
  EXPECT_NEAR(s.spamminess, -h.spamminess, 1e-12);
  EXPECT_GT(s.odds + h.odds, 0.0);
}

TEST(BayesMath, SpamminessIsLogRatioPerRootOfTokens) {
  // The same evidence repeated: the log ratio grows with the number of tokens, the spamminess
  // is log_ratio / sqrt(n) exactly, and the mean log odds stays that of one token.
  Params p;
  p.strength = 0.1;
  p.prior = 0.5;
  p.min_deviation = 0;
  Counts totals{10, 10};
  double f = (0.05 + 3.0) / 4.1;
  for (std::size_t n : {1u, 4u, 16u, 100u}) {
    std::vector<Counts> c(n, Counts{3, 1});
    Verdict v = combine(c, totals, p);
    ASSERT_EQ(v.tokens_used, n);
    EXPECT_NEAR(v.spamminess, v.log_ratio / std::sqrt(static_cast<double>(n)), 1e-12) << n;
    EXPECT_NEAR(v.mean_log_odds, std::log(f / (1 - f)), 1e-12) << n;
    EXPECT_GT(v.spamminess, 0.0);
  }
  std::vector<Counts> none{{0, 0}};
  EXPECT_EQ(combine(none, totals, p).spamminess, 0.0);
}

TEST(BayesUsers, ValidNames) {
  EXPECT_TRUE(valid_user(""));
  EXPECT_TRUE(valid_user("*"));
  EXPECT_TRUE(valid_user("alice@example.org"));
  EXPECT_FALSE(valid_user("a:b"));
  EXPECT_FALSE(valid_user("a b"));
  EXPECT_FALSE(valid_user("a\nb"));
  EXPECT_FALSE(valid_user(std::string(256, 'a')));
}

// The same behaviour from every Model implementation.
struct ModelFactory {
  const char* name;
  std::function<std::shared_ptr<Model>()> make;
};

class ModelTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (GetParam() == 0) {
      model_ = std::make_shared<MemoryModel>();
    } else {
      store_ = store::open_memory_store();
      model_ = std::make_shared<StoreModel>(*store_);
    }
  }
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<Model> model_;
};

std::vector<Token> toks(std::initializer_list<Token> t) { return std::vector<Token>(t); }

TEST_P(ModelTest, LearnForgetRelearnWithLedger) {
  Model& m = *model_;
  auto msg = toks({1, 2, 3});
  EXPECT_EQ(learn(m, "", msg, Label::spam).outcome, LearnOutcome::learned);
  EXPECT_EQ(learn(m, "", msg, Label::spam).outcome, LearnOutcome::already);
  Counts t;
  ASSERT_TRUE(m.totals("", t).ok());
  EXPECT_EQ(t.spam, 1u);
  EXPECT_EQ(t.ham, 0u);
  std::vector<Counts> c(3);
  ASSERT_TRUE(m.lookup("*", msg, c).ok());
  EXPECT_EQ(c[1].spam, 1u);
  EXPECT_EQ(c[1].ham, 0u);
  // Learning it as ham moves it.
  EXPECT_EQ(learn(m, "", msg, Label::ham).outcome, LearnOutcome::relearned);
  ASSERT_TRUE(m.totals("", t).ok());
  EXPECT_EQ(t.spam, 0u);
  EXPECT_EQ(t.ham, 1u);
  ASSERT_TRUE(m.lookup("", msg, c).ok());
  EXPECT_EQ(c[2].spam, 0u);
  EXPECT_EQ(c[2].ham, 1u);
  // Forget (the label given does not matter: what was learned is removed).
  EXPECT_EQ(learn(m, "", msg, Label::spam, true).outcome, LearnOutcome::forgotten);
  EXPECT_EQ(learn(m, "", msg, Label::spam, true).outcome, LearnOutcome::not_learned);
  ASSERT_TRUE(m.totals("", t).ok());
  EXPECT_EQ(t.spam + t.ham, 0u);
  ASSERT_TRUE(m.lookup("", msg, c).ok());
  EXPECT_EQ(c[0].spam + c[0].ham, 0u);
  EXPECT_EQ(learn(m, "bad user", msg, Label::spam).status, Status::error);
}

TEST_P(ModelTest, UntrainedHasNoOpinion) {
  Model& m = *model_;
  for (Token i = 0; i < 9; ++i) learn(m, "", toks({100 + i, 7}), Label::spam);
  for (Token i = 0; i < 10; ++i) learn(m, "", toks({200 + i, 8}), Label::ham);
  Verdict v = classify(m, "", toks({7}));
  EXPECT_FALSE(v.opinion);
  EXPECT_EQ(v.status, Status::ok);
  EXPECT_NE(v.detail.find("9 spam, 10 ham"), std::string::npos) << v.detail;
  learn(m, "", toks({109, 7}), Label::spam);
  v = classify(m, "", toks({7}));
  EXPECT_TRUE(v.opinion);
  // One token seen in all 10 spam, none of the ham: f = (s * 0.5 + 10) / (s + 10), s = 1
  // (the default strength); with one token the probability is f.
  EXPECT_NEAR(v.probability, 10.5 / 11, 1e-12);
  EXPECT_GT(v.spamminess, 0.0);
  v = classify(m, "", toks({8, 999}));
  EXPECT_NEAR(v.probability, 0.5 / 11, 1e-12);  // 999 never seen: not used
  EXPECT_LT(v.spamminess, 0.0);
}

TEST_P(ModelTest, PerUserModelOnceTrainedElseGlobal) {
  Model& m = *model_;
  Params p;
  p.user_min_spam = 5;
  p.user_min_ham = 5;
  p.min_spam = 5;
  p.min_ham = 5;
  // Global (admin) training: token 42 is spammy, token 43 hammy.
  for (Token i = 0; i < 20; ++i) learn(m, "", toks({1000 + i, 42}), Label::spam);
  for (Token i = 0; i < 20; ++i) learn(m, "", toks({2000 + i, 43}), Label::ham);
  Verdict g = classify(m, "bob", toks({42}), p);
  EXPECT_FALSE(g.user_model);
  EXPECT_GT(g.probability, 0.9);
  // Bob wants token 42 (say a newsletter) and dislikes 43; four of each: still below his minimum.
  for (Token i = 0; i < 4; ++i) learn(m, "bob", toks({3000 + i, 42}), Label::ham);
  for (Token i = 0; i < 4; ++i) learn(m, "bob", toks({4000 + i, 43}), Label::spam);
  EXPECT_FALSE(classify(m, "bob", toks({42}), p).user_model);
  // His learning also went into the global counts.
  Counts t;
  ASSERT_TRUE(m.totals("", t).ok());
  EXPECT_EQ(t.spam, 24u);
  EXPECT_EQ(t.ham, 24u);
  learn(m, "bob", toks({3999, 42}), Label::ham);
  learn(m, "bob", toks({4999, 43}), Label::spam);
  Verdict u = classify(m, "bob", toks({42}), p);
  EXPECT_TRUE(u.user_model);
  EXPECT_LT(u.probability, 0.1);
  // Another user still gets the global opinion, now tempered by Bob's 5 ham with token 42:
  // b = 20/25, g = 5/25 -> p(w) = 0.8, n = 25: f = (0.45*0.5 + 25*0.8) / 25.45 (one token: I = f).
  Verdict c = classify(m, "carol", toks({42}), p);
  EXPECT_FALSE(c.user_model);
  EXPECT_NEAR(c.probability, (p.strength * 0.5 + 25 * 0.8) / (p.strength + 25), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Models, ModelTest, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == 0 ? "Memory" : "Store");
                         });

TEST(StoreModel, KeysAndPacking) {
  EXPECT_EQ(StoreModel::token_key("", 0xabcULL), "bayes:*:0000000000000abc");
  EXPECT_EQ(StoreModel::token_key("u@x", ~0ULL), "bayes:u@x:ffffffffffffffff");
  auto st = store::open_memory_store();
  StoreModel m(*st);
  auto t = toks({5});
  ASSERT_TRUE(m.update("", t, Label::spam, 1).ok());
  ASSERT_TRUE(m.update("", t, Label::ham, 1).ok());
  ASSERT_TRUE(m.update("", t, Label::ham, 1).ok());
  std::string key = StoreModel::token_key("", 5);
  auto r = st->get(std::span<const std::string>(&key, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value[0], (std::int64_t{1} << 32) + 2);
}

TEST(StoreModel, PersistsInLmdbAcrossReopen) {
  auto dir = std::filesystem::temp_directory_path() /
             ("mw-bayes-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  store::LmdbSettings s;
  s.path = (dir / "state.mdb").string();
  Verdict before;
  {
    auto st = store::open_lmdb_store(s);
    StoreModel m(*st);
    for (Token i = 0; i < 12; ++i) learn(m, "", toks({10 + i, 500, 501}), Label::spam);
    for (Token i = 0; i < 12; ++i) learn(m, "", toks({100 + i, 600}), Label::ham);
    before = classify(m, "", toks({500, 600, 777}));
    ASSERT_TRUE(before.opinion);
  }
  {
    auto st = store::open_lmdb_store(s);
    StoreModel m(*st);
    Verdict after = classify(m, "", toks({500, 600, 777}));
    EXPECT_TRUE(after.opinion);
    EXPECT_DOUBLE_EQ(after.probability, before.probability);
    EXPECT_DOUBLE_EQ(after.log_ratio, before.log_ratio);
    EXPECT_EQ(learn(m, "", toks({10, 500, 501}), Label::spam).outcome, LearnOutcome::already);
  }
  std::filesystem::remove_all(dir);
}

// A store that counts write calls and can be told to fail them (batch tests).
class CountingStore final : public store::Store {
 public:
  explicit CountingStore(store::Store& base) : base_(base) {}
  store::Result<std::vector<std::int64_t>> add(std::span<const store::CounterUpdate> u) override {
    ++adds;
    if (fail_adds) {
      store::Result<std::vector<std::int64_t>> r;
      r.status = store::Status::error;
      r.detail = "disk full (test)";
      return r;
    }
    return base_.add(u);
  }
  store::Result<std::vector<std::int64_t>> get(std::span<const std::string> keys) override {
    return base_.get(keys);
  }
  store::Result<store::BucketOutcome> take(std::string_view key, const store::BucketSpec& spec,
                                           double cost, store::Clock::time_point now) override {
    return base_.take(key, spec, cost, now);
  }
  store::Result<bool> erase(std::span<const std::string> keys) override {
    ++erases;
    return base_.erase(keys);
  }
  std::string describe() const override { return "counting"; }
  int adds = 0;
  int erases = 0;
  bool fail_adds = false;

 private:
  store::Store& base_;
};

// The same learning script, batched or not: learn, learn again (already), move to the other
// class, forget, learn for a user.
void learning_script(StoreModel& m, std::vector<LearnOutcome>& outcomes) {
  for (Token i = 0; i < 12; ++i)
    outcomes.push_back(learn(m, "", toks({10 + i, 500, 501}), Label::spam).outcome);
  for (Token i = 0; i < 12; ++i)
    outcomes.push_back(learn(m, "", toks({100 + i, 600}), Label::ham).outcome);
  outcomes.push_back(learn(m, "", toks({10, 500, 501}), Label::spam).outcome);   // already
  outcomes.push_back(learn(m, "", toks({11, 500, 501}), Label::ham).outcome);    // relearned
  outcomes.push_back(learn(m, "", toks({100, 600}), Label::ham, true).outcome);  // forgotten
  outcomes.push_back(learn(m, "", toks({100, 600}), Label::ham, true).outcome);  // not_learned
  outcomes.push_back(learn(m, "carol", toks({7, 8}), Label::spam).outcome);
}

TEST(StoreModel, BatchIsOneWriteAndEqualsUnbatchedLearning) {
  auto plain_store = store::open_memory_store();
  StoreModel plain(*plain_store);
  std::vector<LearnOutcome> want;
  learning_script(plain, want);

  auto base = store::open_memory_store();
  CountingStore counting(*base);
  StoreModel batched(counting);
  batched.begin_batch();
  EXPECT_TRUE(batched.batching());
  std::vector<LearnOutcome> got;
  learning_script(batched, got);
  EXPECT_EQ(got, want);
  EXPECT_EQ(counting.adds, 0);
  EXPECT_EQ(counting.erases, 0);
  // Reads during the batch see the pending counts; the store itself has nothing yet.
  Counts pending_totals;
  ASSERT_TRUE(batched.totals("", pending_totals).ok());
  EXPECT_EQ(pending_totals.spam, 12u);  // 12 spam - 1 moved + carol's 1 (global too)
  EXPECT_EQ(pending_totals.ham, 12u);   // 12 ham + 1 moved - 1 forgotten
  std::string totals_key = "bayes:*:!totals";
  EXPECT_EQ(base->get(std::span<const std::string>(&totals_key, 1)).value[0], 0);
  EXPECT_GT(batched.pending_keys(), 0u);

  ASSERT_TRUE(batched.commit().ok());
  EXPECT_FALSE(batched.batching());
  EXPECT_EQ(batched.pending_keys(), 0u);
  EXPECT_EQ(counting.adds, 1);
  // Same counts, ledger and verdicts as learning message by message.
  for (std::string_view user : {"", "carol"}) {
    Counts a, b;
    ASSERT_TRUE(plain.totals(user, a).ok());
    ASSERT_TRUE(batched.totals(user, b).ok());
    EXPECT_EQ(a.spam, b.spam);
    EXPECT_EQ(a.ham, b.ham);
  }
  auto probe = toks({10, 11, 100, 101, 500, 501, 600, 7, 8});
  std::vector<Counts> ca(probe.size()), cb(probe.size());
  ASSERT_TRUE(plain.lookup("", probe, ca).ok());
  ASSERT_TRUE(batched.lookup("", probe, cb).ok());
  for (std::size_t i = 0; i < probe.size(); ++i) {
    EXPECT_EQ(ca[i].spam, cb[i].spam) << probe[i];
    EXPECT_EQ(ca[i].ham, cb[i].ham) << probe[i];
  }
  EXPECT_DOUBLE_EQ(classify(batched, "", toks({500, 600, 9})).log_ratio,
                   classify(plain, "", toks({500, 600, 9})).log_ratio);
  EXPECT_EQ(learn(batched, "", toks({11, 500, 501}), Label::ham).outcome, LearnOutcome::already);
  EXPECT_EQ(learn(batched, "", toks({100, 600}), Label::ham).outcome, LearnOutcome::learned);
  // An empty commit writes nothing.
  int adds = counting.adds;
  batched.begin_batch();
  ASSERT_TRUE(batched.commit().ok());
  EXPECT_EQ(counting.adds, adds);
}

TEST(StoreModel, FailedCommitLosesTheWholeBatchOnly) {
  auto base = store::open_memory_store();
  CountingStore counting(*base);
  StoreModel m(counting);
  m.begin_batch();
  for (Token i = 0; i < 3; ++i) learn(m, "", toks({10 + i, 500}), Label::spam);
  ASSERT_TRUE(m.commit().ok());  // first batch: 3 spam
  m.begin_batch();
  for (Token i = 0; i < 3; ++i) learn(m, "", toks({20 + i, 600}), Label::ham);
  counting.fail_adds = true;
  ModelStatus st = m.commit();
  EXPECT_EQ(st.status, Status::error);
  EXPECT_EQ(st.detail, "disk full (test)");
  EXPECT_FALSE(m.batching());
  EXPECT_EQ(m.pending_keys(), 0u);
  counting.fail_adds = false;
  Counts t;
  ASSERT_TRUE(m.totals("", t).ok());
  EXPECT_EQ(t.spam, 3u);
  EXPECT_EQ(t.ham, 0u);
  Counts c;
  Token tok = 600;
  ASSERT_TRUE(m.lookup("", std::span<const Token>(&tok, 1), std::span<Counts>(&c, 1)).ok());
  EXPECT_EQ(c.ham, 0u);
  // The lost messages are not in the ledger: learning them again counts them.
  EXPECT_EQ(learn(m, "", toks({20, 600}), Label::ham).outcome, LearnOutcome::learned);
  EXPECT_EQ(learn(m, "", toks({10, 500}), Label::spam).outcome, LearnOutcome::already);
}

}  // namespace
}  // namespace mailward::spam::bayes
