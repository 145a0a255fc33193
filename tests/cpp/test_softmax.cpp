// softmax and log_softmax (ops/softmax.h): forward against the formula in
// double, numerical stability, gradients along every dim.
#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "reference.h"

namespace attnkit::testing {
namespace {

class SoftmaxDim : public ::testing::TestWithParam<std::tuple<int64_t, Layout>> {
 protected:
  int64_t dim() const { return std::get<0>(GetParam()); }
  Tensor input() const {
    return relayout(randn_tensor({3, 4, 5}, 71, 2.0), std::get<1>(GetParam()));
  }
};

TEST_P(SoftmaxDim, ForwardMatchesFormula) {
  Tensor x = input();
  Tensor y = softmax(x, dim());
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_TRUE(all_close(y, softmax_reference(x, dim(), false), 1e-7, 1e-5));
  Tensor ly = log_softmax(x, dim());
  EXPECT_EQ(ly.shape(), x.shape());
  EXPECT_TRUE(all_close(ly, softmax_reference(x, dim(), true), 1e-6, 1e-5));
}

TEST_P(SoftmaxDim, SoftmaxGradcheck) {
  const int64_t d = dim();
  EXPECT_TRUE(gradcheck([d](const auto& in) { return softmax(in[0], d); }, {leaf(input())}));
}

TEST_P(SoftmaxDim, LogSoftmaxGradcheck) {
  const int64_t d = dim();
  EXPECT_TRUE(gradcheck([d](const auto& in) { return log_softmax(in[0], d); }, {leaf(input())}));
}

INSTANTIATE_TEST_SUITE_P(Softmax, SoftmaxDim,
                         ::testing::Combine(::testing::Values(0, 1, 2, -1, -2),
                                            ::testing::Values(Layout::Contiguous,
                                                              Layout::Transposed, Layout::Strided)),
                         [](const auto& info) {
                           int64_t dim = std::get<0>(info.param);
                           return std::string("dim") + (dim < 0 ? "_neg" : "") +
                                  std::to_string(std::abs(dim)) + "_" +
                                  layout_name(std::get<1>(info.param));
                         });

TEST(Softmax, RowsSumToOne) {
  Tensor x = randn_tensor({7, 33}, 72, 3.0);
  Tensor y = softmax(x, -1);
  std::vector<double> v = values(y);
  for (int64_t r = 0; r < 7; ++r) {
    double s = 0;
    for (int64_t c = 0; c < 33; ++c) s += v[r * 33 + c];
    EXPECT_NEAR(s, 1.0, 1e-6) << "row " << r;
  }
}

TEST(Softmax, StableForLargeInputs) {
  Tensor x = from_vector({1000.f, 1001.f, 1002.f, -1000.f, -1001.f, -1002.f}, {2, 3});
  std::vector<double> expected = softmax_reference(x, 1, false);
  Tensor y = softmax(x, 1);
  EXPECT_TRUE(all_close(y, expected, 1e-7, 1e-5));
  Tensor ly = log_softmax(x, 1);
  EXPECT_TRUE(all_close(ly, softmax_reference(x, 1, true), 1e-5, 1e-6));
}

TEST(Softmax, MaskedEntriesGetZeroProbability) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = from_vector({0.5f, -inf, 1.5f, -inf}, {4});
  Tensor y = softmax(x, 0);
  double e = std::exp(-1.0);
  EXPECT_TRUE(all_close(y, {e / (1 + e), 0.0, 1 / (1 + e), 0.0}, 1e-7, 1e-6));
  Tensor ly = log_softmax(x, 0);
  EXPECT_TRUE(all_close(ly, {std::log(e / (1 + e)), -std::numeric_limits<double>::infinity(),
                             std::log(1 / (1 + e)), -std::numeric_limits<double>::infinity()},
                        1e-6, 1e-6));
  // The masked entries get zero gradient and the rest stay finite.
  Tensor xl = leaf(from_vector({0.5f, -inf, 1.5f, -inf}, {4}));
  softmax(xl, 0).backward(from_vector({1, 2, 3, 4}, {4}));
  std::vector<double> g = values(xl.grad());
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[3], 0.0);
  EXPECT_TRUE(std::isfinite(g[0]) && std::isfinite(g[2]));
}

TEST(Softmax, LongRowsAndOneDim) {
  Tensor x = randn_tensor({2, 1000}, 73, 4.0);
  EXPECT_TRUE(all_close(softmax(x, 1), softmax_reference(x, 1, false), 1e-7, 1e-4));
  EXPECT_TRUE(all_close(log_softmax(x, 1), softmax_reference(x, 1, true), 1e-5, 1e-5));
  Tensor v = randn_tensor({6}, 74);
  EXPECT_TRUE(all_close(softmax(v, 0), softmax_reference(v, 0, false), 1e-7, 1e-5));
  EXPECT_TRUE(all_close(softmax(ones({3, 1}), 1), {1, 1, 1}, 0, 0));
}

TEST(Softmax, BackwardMatchesHeaderFormula) {
  // dx = y * (dy - sum(dy * y)) and dx = dy - exp(y) * sum(dy), written out.
  Tensor x = leaf(randn_tensor({5}, 75));
  Tensor dy = randn_tensor({5}, 76);
  std::vector<double> y = softmax_reference(x, 0, false), g = values(dy), expected(5), expected_log(5);
  double dot = 0, total = 0;
  for (int i = 0; i < 5; ++i) {
    dot += g[i] * y[i];
    total += g[i];
  }
  for (int i = 0; i < 5; ++i) {
    expected[i] = y[i] * (g[i] - dot);
    expected_log[i] = g[i] - y[i] * total;
  }
  softmax(x, 0).backward(dy);
  EXPECT_TRUE(all_close(x.grad(), expected, 1e-6, 1e-5));
  x.set_grad(Tensor());
  log_softmax(x, 0).backward(dy);
  EXPECT_TRUE(all_close(x.grad(), expected_log, 1e-6, 1e-5));
}

}  // namespace
}  // namespace attnkit::testing
