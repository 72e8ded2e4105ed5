// Unit tests for the Bayesian classifier: token probability and chi-square math on hand-made
// counts, learning and forgetting with the ledger, per-user vs global, both Model implementations.
#include "milters/spam/bayes/bayes.h"

#include <gtest/gtest.h>

namespace mailward::spam::bayes {
namespace {

TEST(Bayes, Placeholder) { EXPECT_TRUE(valid_user("")); }

}  // namespace
}  // namespace mailward::spam::bayes
