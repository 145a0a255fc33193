// Greedy and beam search on a hand-made model whose best sequence is not the
// greedy one: greedy follows the locally likeliest token, beam search finds
// the likelier whole sequence; batching keeps entries apart; eos and
// max_length stop decoding.
#include <cmath>
#include <map>

#include "test_support.h"

namespace attnkit::testing {
namespace {

constexpr int64_t kBos = 1, kEos = 2, kA = 3, kB = 4, kVocab = 5;

// P(next | prefix), by prefix (bos included). Entry 1 of a batch swaps A and B.
std::vector<double> distribution(const std::vector<int64_t>& prefix) {
  static const std::map<std::vector<int64_t>, std::vector<double>> table = {
      {{kBos}, {0, 0, 0.1, 0.5, 0.4}},
      {{kBos, kA}, {0, 0, 0.30, 0.36, 0.34}},
      {{kBos, kB}, {0, 0, 0.90, 0.05, 0.05}},
      {{kBos, kA, kA}, {0, 0, 1.0, 0, 0}},
      {{kBos, kA, kB}, {0, 0, 1.0, 0, 0}},
  };
  auto found = table.find(prefix);
  if (found != table.end()) return found->second;
  return {0, 0, 0.4, 0.3, 0.3};  // anything else: likely to end
}

Tensor step(const Tensor& tokens, const std::vector<int64_t>& rows) {
  const int64_t n = tokens.size(0), t = tokens.size(1);
  std::vector<float> out;
  for (int64_t r = 0; r < n; ++r) {
    std::vector<int64_t> prefix;
    for (int64_t j = 0; j < t; ++j) {
      int64_t token = static_cast<int64_t>(tokens.at({r, j}));
      if (rows[static_cast<size_t>(r)] == 1 && (token == kA || token == kB)) token = token == kA ? kB : kA;
      prefix.push_back(token);
    }
    std::vector<double> p = distribution(prefix);
    if (rows[static_cast<size_t>(r)] == 1) std::swap(p[kA], p[kB]);
    for (double x : p) out.push_back(static_cast<float>(x > 0 ? std::log(x) : -1e9));
  }
  return from_vector(out, {n, kVocab});
}

TEST(Decoding, GreedyTakesTheLocallyBestTokens) {
  decoding::SearchOptions o;
  o.bos = kBos;
  o.eos = kEos;
  auto out = decoding::greedy_search(step, 2, o);
  EXPECT_EQ(out[0], (std::vector<int64_t>{kA, kA, kEos}));  // probability 0.5 · 0.36 · 1 = 0.18
  EXPECT_EQ(out[1], (std::vector<int64_t>{kB, kB, kEos}));  // the mirrored entry
}

TEST(Decoding, BeamSearchFindsTheLikelierSequence) {
  decoding::SearchOptions o;
  o.bos = kBos;
  o.eos = kEos;
  o.beam_size = 2;
  o.length_penalty = 0.0;
  auto out = decoding::beam_search(step, 2, o);
  EXPECT_EQ(out[0], (std::vector<int64_t>{kB, kEos}));  // 0.4 · 0.9 = 0.36 > 0.18
  EXPECT_EQ(out[1], (std::vector<int64_t>{kA, kEos}));
  o.beam_size = 1;  // a beam of one is greedy
  EXPECT_EQ(decoding::beam_search(step, 1, o)[0], (std::vector<int64_t>{kA, kA, kEos}));
}

TEST(Decoding, MaxLengthStopsAndErrorsAreClear) {
  decoding::SearchOptions o;
  o.bos = kBos;
  o.eos = kEos;
  o.max_length = 2;
  EXPECT_EQ(decoding::greedy_search(step, 1, o)[0], (std::vector<int64_t>{kA, kA}));
  EXPECT_EQ(decoding::beam_search(step, 1, o)[0].size(), 2u);
  auto wrong = [](const Tensor& tokens, const std::vector<int64_t>&) { return zeros({tokens.size(0) + 1, 3}); };
  EXPECT_TRUE(throws_error_naming([&] { decoding::greedy_search(wrong, 1, o); },
                                  "greedy_search: the step function must return (1, vocabulary) scores, got (2, 3)"));
  o.beam_size = 0;
  EXPECT_TRUE(throws_error_naming([&] { decoding::beam_search(step, 1, o); }, "beam_size must be positive"));
}

}  // namespace
}  // namespace attnkit::testing
