// cross_entropy (ops/loss.h): forward against the formula of
// torch.nn.functional.cross_entropy (class-index targets, ignore_index,
// label_smoothing, reductions) and gradients by finite differences.
#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "reference.h"

namespace attnkit::testing {
namespace {

struct CrossEntropyCase {
  const char* name;
  Shape input;
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  int ignored = 0;  // how many targets to set to ignore_index
  double smoothing = 0.0;
  Layout layout = Layout::Contiguous;
};

const std::vector<CrossEntropyCase>& cross_entropy_cases() {
  using R = Reduction;
  static const std::vector<CrossEntropyCase> cases = {
      {"nc_mean", {4, 5}},
      {"nc_sum", {4, 5}, R::Sum},
      {"nc_none", {4, 5}, R::None},
      {"nc_ignore_mean", {6, 5}, R::Mean, -100, 2},
      {"nc_ignore_sum", {6, 5}, R::Sum, -100, 2},
      {"nc_ignore_none", {6, 5}, R::None, -100, 3},
      {"nc_ignore_valid_class", {6, 5}, R::Mean, 2, 2},
      {"nc_smoothing_mean", {4, 5}, R::Mean, -100, 0, 0.1},
      {"nc_smoothing_none", {4, 5}, R::None, -100, 0, 0.25},
      {"nc_smoothing_ignore_mean", {6, 5}, R::Mean, -100, 2, 0.1},
      {"nc_smoothing_ignore_sum", {6, 5}, R::Sum, -1, 2, 0.2},
      {"ncd_mean", {3, 4, 5}},
      {"ncd_none", {3, 4, 5}, R::None},
      {"ncd_ignore_smoothing_mean", {3, 4, 5}, R::Mean, -100, 4, 0.1},
      {"ncdd_sum", {2, 3, 2, 3}, R::Sum, -100, 2},
      {"ncdd_none_smoothing", {2, 3, 2, 3}, R::None, -100, 1, 0.3},
      {"unbatched_mean", {5}},
      {"unbatched_none", {5}, R::None},
      {"transposed_logits", {4, 5}, R::Mean, -100, 1, 0.1, Layout::Transposed},
      {"strided_logits_ncd", {3, 4, 5}, R::Sum, -100, 0, 0.0, Layout::Strided},
  };
  return cases;
}

class CrossEntropy : public ::testing::TestWithParam<size_t> {
 protected:
  const CrossEntropyCase& c() const { return cross_entropy_cases()[GetParam()]; }
  Tensor input() const { return relayout(randn_tensor(c().input, 101, 2.0), c().layout); }
  Tensor target() const {
    const Shape& s = c().input;
    Shape shape;
    int64_t classes;
    if (s.size() == 1) {
      classes = s[0];
    } else {
      classes = s[1];
      shape.push_back(s[0]);
      shape.insert(shape.end(), s.begin() + 2, s.end());
    }
    TestRng rng(102);
    std::vector<int64_t> t(static_cast<size_t>(shape_numel(shape)));
    for (auto& v : t) v = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(classes));
    // Ignore a few positions; a valid-class ignore_index also drops its natural hits.
    for (int i = 0; i < c().ignored; ++i) t[(3 * i + 1) % t.size()] = c().ignore_index;
    if (c().ignore_index >= 0 && c().ignore_index < classes) {
      // Keep at least one counted target so "mean" is defined.
      if (t[0] == c().ignore_index) t[0] = (c().ignore_index + 1) % classes;
    }
    return from_vector_i64(t, shape);
  }
};

TEST_P(CrossEntropy, ForwardMatchesFormula) {
  Tensor x = input(), t = target();
  Shape shape;
  std::vector<double> expected =
      cross_entropy_reference(x, t, c().ignore_index, c().reduction, c().smoothing, &shape);
  Tensor loss = cross_entropy(x, t, c().ignore_index, c().reduction, c().smoothing);
  EXPECT_EQ(loss.shape(), shape);
  EXPECT_EQ(loss.dtype(), kFloat32);
  EXPECT_TRUE(all_close(loss, expected, 1e-5, 1e-5));
}

TEST_P(CrossEntropy, Gradcheck) {
  Tensor x = leaf(input()), t = target();
  const CrossEntropyCase cc = c();
  EXPECT_TRUE(gradcheck(
      [&](const auto& in) {
        return cross_entropy(in[0], t, cc.ignore_index, cc.reduction, cc.smoothing);
      },
      {x}));
}

INSTANTIATE_TEST_SUITE_P(Loss, CrossEntropy, ::testing::Range<size_t>(0, cross_entropy_cases().size()),
                         [](const auto& info) { return std::string(cross_entropy_cases()[info.param].name); });

TEST(CrossEntropyValues, KnownValue) {
  // Uniform logits over 4 classes: loss = log(4) for every target.
  Tensor x = zeros({3, 4});
  Tensor t = from_vector_i64({0, 3, 1}, {3});
  EXPECT_NEAR(cross_entropy(x, t).item(), std::log(4.0), 1e-6);
  // A confident right answer costs ~0, a confident wrong one ~margin.
  Tensor y = from_vector({20, 0, 0, 0, 0, 20}, {2, 3});
  Tensor loss = cross_entropy(y, from_vector_i64({0, 0}, {2}), -100, Reduction::None);
  EXPECT_NEAR(loss.at({0}), 0.0, 1e-6);
  EXPECT_NEAR(loss.at({1}), 20.0, 1e-5);
}

TEST(CrossEntropyValues, IgnoredTargetsGetZeroGradient) {
  Tensor x = leaf(randn_tensor({3, 4}, 103));
  Tensor t = from_vector_i64({1, -100, 2}, {3});
  cross_entropy(x, t).backward();
  std::vector<double> g = values(x.grad());
  for (int k = 0; k < 4; ++k) EXPECT_EQ(g[4 + k], 0.0);
  // Each counted row's gradient sums to zero (softmax minus one-hot, / 2).
  for (int r : {0, 2}) {
    double s = 0;
    for (int k = 0; k < 4; ++k) s += g[r * 4 + k];
    EXPECT_NEAR(s, 0.0, 1e-6);
  }
  EXPECT_NEAR(g[0 * 4 + 1], (values(softmax(x.detach(), 1))[1] - 1.0) / 2.0, 1e-6);
}

TEST(CrossEntropyValues, AllTargetsIgnored) {
  // As torch: "mean" over no targets is 0 / 0 = NaN; "sum" is 0.
  Tensor x = randn_tensor({2, 3}, 104);
  Tensor t = from_vector_i64({-100, -100}, {2});
  EXPECT_TRUE(std::isnan(cross_entropy(x, t).item()));
  EXPECT_EQ(cross_entropy(x, t, -100, Reduction::Sum).item(), 0.0);
  EXPECT_TRUE(all_close(cross_entropy(x, t, -100, Reduction::None), {0, 0}, 0, 0));
}

TEST(CrossEntropyValues, ParseReduction) {
  EXPECT_EQ(parse_reduction("none", "test"), Reduction::None);
  EXPECT_EQ(parse_reduction("mean", "test"), Reduction::Mean);
  EXPECT_EQ(parse_reduction("sum", "test"), Reduction::Sum);
  EXPECT_TRUE(throws_error_naming([] { parse_reduction("average", "myloss"); }, "myloss"));
}

TEST(CrossEntropyValues, LargeLogitsStayFinite) {
  Tensor x = from_vector({1000, -1000, 0, 500}, {2, 2});
  Tensor loss = cross_entropy(x, from_vector_i64({1, 0}, {2}), -100, Reduction::None);
  EXPECT_NEAR(loss.at({0}), 2000.0, 1e-2);
  EXPECT_NEAR(loss.at({1}), 500.0, 1e-2);
}

}  // namespace
}  // namespace attnkit::testing
