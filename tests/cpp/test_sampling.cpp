// The next-token chooser of generate(): each warper against the set of
// tokens its definition keeps, computed here by brute force, and the draw
// against the distribution it should follow.
#include <cmath>
#include <map>
#include <set>

#include "test_support.h"

namespace attnkit::testing {
namespace {

using decoding::SamplingOptions;
using decoding::TokenSampler;

std::set<int64_t> tokens_ever_drawn(const SamplingOptions& options, const std::vector<float>& logits, int draws) {
  TokenSampler sampler(options);
  std::set<int64_t> seen;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> copy = logits;
    seen.insert(sampler.next(copy, {}));
  }
  return seen;
}

TEST(Sampling, GreedyIsTheFirstArgmax) {
  TokenSampler sampler({});
  std::vector<float> logits{0.1f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(sampler.next(logits, {}), 1);
}

TEST(Sampling, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfSeenTokens) {
  SamplingOptions o;
  o.repetition_penalty = 2.0;
  TokenSampler sampler(o);
  std::vector<float> logits{3.0f, -1.0f, 2.0f, 0.5f};
  // Token 0 (3 -> 1.5) and 1 (-1 -> -2) were seen, twice for 0: penalised once.
  EXPECT_EQ(sampler.next(logits, {0, 1, 0}), 2);
  EXPECT_FLOAT_EQ(logits[0], 1.5f);
  EXPECT_FLOAT_EQ(logits[1], -2.0f);
  EXPECT_FLOAT_EQ(logits[2], 2.0f);
}

TEST(Sampling, TopKDrawsOnlyTheKLargest) {
  SamplingOptions o;
  o.do_sample = true;
  o.top_k = 3;
  o.seed = 5;
  const std::vector<float> logits{0.0f, 1.0f, 0.5f, 0.9f, 0.2f, 0.95f};
  EXPECT_EQ(tokens_ever_drawn(o, logits, 2000), (std::set<int64_t>{1, 3, 5}));
}

TEST(Sampling, TopPKeepsTheSmallestSetReachingP) {
  // Probabilities 0.5, 0.25, 0.125, 0.125: p = 0.7 needs the first two (0.75).
  const std::vector<float> logits{std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)};
  SamplingOptions o;
  o.do_sample = true;
  o.top_k = 0;
  o.top_p = 0.7;
  EXPECT_EQ(tokens_ever_drawn(o, logits, 2000), (std::set<int64_t>{0, 1}));
  o.top_p = 0.76;  // now the third is needed; of the two equal ones, both may be kept or one; at least one is
  const std::set<int64_t> wider = tokens_ever_drawn(o, logits, 2000);
  EXPECT_TRUE(wider.count(0) && wider.count(1) && (wider.count(2) || wider.count(3)));
}

TEST(Sampling, DrawsFollowTheSoftmaxAndTheTemperature) {
  const std::vector<float> logits{0.0f, std::log(3.0f)};  // probabilities 1/4, 3/4
  for (double temperature : {1.0, 2.0}) {
    SamplingOptions o;
    o.do_sample = true;
    o.temperature = temperature;
    o.seed = 9;
    TokenSampler sampler(o);
    int ones = 0;
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) {
      std::vector<float> copy = logits;
      ones += sampler.next(copy, {}) == 1;
    }
    const double expected = std::pow(3.0, 1.0 / temperature) / (1.0 + std::pow(3.0, 1.0 / temperature));
    EXPECT_NEAR(static_cast<double>(ones) / draws, expected, 0.015) << "temperature " << temperature;
  }
}

TEST(Sampling, TheSeedFixesTheDraws) {
  SamplingOptions o;
  o.do_sample = true;
  o.top_k = 0;
  o.seed = 42;
  std::vector<float> logits(50, 0.0f);
  auto run = [&](uint64_t seed) {
    o.seed = seed;
    TokenSampler sampler(o);
    std::vector<int64_t> tokens;
    for (int i = 0; i < 30; ++i) {
      std::vector<float> copy = logits;
      tokens.push_back(sampler.next(copy, {}));
    }
    return tokens;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampling, BadOptionsAreErrorsNamingTheOption) {
  auto expect_error = [](SamplingOptions o, const std::string& name) {
    try {
      TokenSampler sampler(o);
      FAIL() << "no error for " << name;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  };
  SamplingOptions o;
  o.temperature = 0.0;
  expect_error(o, "temperature");
  o = {};
  o.top_p = 0.0;
  expect_error(o, "top_p");
  o = {};
  o.top_k = -2;
  expect_error(o, "top_k");
  o = {};
  o.repetition_penalty = -1.0;
  expect_error(o, "repetition_penalty");
}

}  // namespace
}  // namespace attnkit::testing
