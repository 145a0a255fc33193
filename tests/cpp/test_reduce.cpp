// Reductions (ops/reduce.h): sum, mean, var, max, min, amax, argmax, argmin,
// sum_to_shape — forward against loops in double, gradients by finite
// differences (amax's tie rule against hand-worked gradients).
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <set>

#include "gradcheck.h"
#include "reference.h"

namespace attnkit::testing {
namespace {

struct DimsCase {
  const char* name;
  Dims dims;
  bool keepdim;
};

const std::vector<DimsCase>& dims_cases() {
  static const std::vector<DimsCase> cases = {
      {"dim0", {0}, false},         {"dim1_keep", {1}, true},       {"last", {-1}, false},
      {"last_keep", {-1}, true},    {"first_last", {0, 2}, false},  {"first_last_keep", {0, -1}, true},
      {"all_three", {0, 1, 2}, false}, {"middle_neg", {-2}, false},  {"leading_two_keep", {1, 0}, true},
  };
  return cases;
}

using ReduceParam = std::tuple<size_t, Layout>;

class ReduceDims : public ::testing::TestWithParam<ReduceParam> {
 protected:
  const DimsCase& dims_case() const { return dims_cases()[std::get<0>(GetParam())]; }
  Tensor input() const { return relayout(randn_tensor({3, 4, 5}, 21), std::get<1>(GetParam())); }
};

TEST_P(ReduceDims, SumMeanVarForward) {
  const DimsCase& c = dims_case();
  Tensor x = input();
  Shape shape;
  std::vector<double> expected = reduce_reference(x, c.dims, c.keepdim, fold_sum, &shape);
  Tensor s = sum(x, c.dims, c.keepdim);
  EXPECT_EQ(s.shape(), shape);
  EXPECT_TRUE(all_close(s, expected, 1e-5, 1e-5));

  expected = reduce_reference(x, c.dims, c.keepdim, fold_mean, &shape);
  Tensor m = mean(x, c.dims, c.keepdim);
  EXPECT_EQ(m.shape(), shape);
  EXPECT_TRUE(all_close(m, expected, 1e-6, 1e-5));

  for (int64_t correction : {0, 1}) {
    expected = reduce_reference(x, c.dims, c.keepdim, fold_var(correction), &shape);
    Tensor v = var(x, c.dims, correction, c.keepdim);
    EXPECT_EQ(v.shape(), shape);
    EXPECT_TRUE(all_close(v, expected, 1e-6, 1e-5)) << "correction " << correction;
  }
}

TEST_P(ReduceDims, SumGradcheck) {
  const DimsCase c = dims_case();
  EXPECT_TRUE(gradcheck([&](const auto& in) { return sum(in[0], c.dims, c.keepdim); },
                        {leaf(input())}));
}

TEST_P(ReduceDims, MeanGradcheck) {
  const DimsCase c = dims_case();
  EXPECT_TRUE(gradcheck([&](const auto& in) { return mean(in[0], c.dims, c.keepdim); },
                        {leaf(input())}));
}

TEST_P(ReduceDims, VarGradcheck) {
  const DimsCase c = dims_case();
  for (int64_t correction : {0, 1}) {
    EXPECT_TRUE(gradcheck([&](const auto& in) { return var(in[0], c.dims, correction, c.keepdim); },
                          {leaf(input())}))
        << "correction " << correction;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Reduce, ReduceDims,
    ::testing::Combine(::testing::Range<size_t>(0, dims_cases().size()),
                       ::testing::Values(Layout::Contiguous, Layout::Transposed)),
    [](const ::testing::TestParamInfo<ReduceParam>& info) {
      return std::string(dims_cases()[std::get<0>(info.param)].name) + "_" +
             layout_name(std::get<1>(info.param));
    });

TEST(Reduce, OverAllElements) {
  Tensor x = relayout(randn_tensor({3, 4, 5}, 22), Layout::Strided);
  std::vector<double> v = values(x);
  Tensor s = sum(x), m = mean(x), v1 = var(x), v0 = var(x, 0);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(m.dim(), 0);
  EXPECT_EQ(v1.dim(), 0);
  EXPECT_NEAR(s.item(), fold_sum(v), 1e-4);
  EXPECT_NEAR(m.item(), fold_mean(v), 1e-6);
  EXPECT_NEAR(v1.item(), fold_var(1)(v), 1e-5);
  EXPECT_NEAR(v0.item(), fold_var(0)(v), 1e-5);
  EXPECT_EQ(max(x).dim(), 0);
  EXPECT_EQ(max(x).item(), fold_max(v));
  EXPECT_EQ(min(x).item(), fold_min(v));
  EXPECT_EQ(argmax(x).dtype(), kInt64);
  EXPECT_EQ(argmax(x).item(), fold_argmax(v));
}

TEST(Reduce, SumAccumulatesInDouble) {
  // In float32, 1e8 + 1 rounds back to 1e8; a double accumulator keeps the 1.
  Tensor x = from_vector({1e8f, 1.f, -1e8f}, {3});
  EXPECT_EQ(sum(x).item(), 1.0);
  EXPECT_EQ(sum(x.reshape({1, 3}), {1}).item(), 1.0);
  // A long sum of 0.1s: float accumulation drifts by ~1e-2 here.
  Tensor tenths = full({1 << 20}, 0.1);
  EXPECT_NEAR(sum(tenths).item(), 0.1f * static_cast<double>(1 << 20), 1e-3);
  EXPECT_NEAR(mean(tenths).item(), 0.1f, 1e-9);
}

TEST(Reduce, SumOverLeadingDimsOfALargeMatrix) {
  // The column-sum path (a bias gradient): threads, blocks of 64 columns and
  // a ragged last block.
  Tensor x = randn_tensor({70, 40, 150}, 5);
  std::vector<double> v = values(x), want(150, 0.0);
  for (size_t i = 0; i < v.size(); ++i) want[i % 150] += v[i];
  EXPECT_TRUE(all_close(sum(x, {0, 1}), want, 1e-4, 1e-6));
  EXPECT_EQ(sum(x, {0, 1}, true).shape(), (Shape{1, 1, 150}));
  Tensor g = leaf(randn_tensor({70, 40, 150}, 6));
  sum(g, {0, 1}).backward(randn_tensor({150}, 7));
  std::vector<double> upstream = values(randn_tensor({150}, 7)), got = values(g.grad());
  for (size_t i = 0; i < got.size(); i += 997) EXPECT_DOUBLE_EQ(got[i], upstream[i % 150]) << i;
}

TEST(Reduce, SumAndMeanOverMiddleDimsInPlace) {
  // The column-sum path over (outer, rows, columns) slices: CBAM's mean over
  // channels. Threads, blocks of 64 columns and a ragged last block.
  Tensor x = randn_tensor({3, 40, 7, 50}, 8);
  Shape shape;
  for (const Dims& dims : {Dims{1}, Dims{1, 2}, Dims{-3}}) {
    for (bool keepdim : {false, true}) {
      std::vector<double> expected = reduce_reference(x, dims, keepdim, fold_sum, &shape);
      Tensor s = sum(x, dims, keepdim);
      EXPECT_EQ(s.shape(), shape);
      EXPECT_TRUE(all_close(s, expected, 1e-4, 1e-5));
      expected = reduce_reference(x, dims, keepdim, fold_mean, &shape);
      EXPECT_TRUE(all_close(mean(x, dims, keepdim), expected, 1e-6, 1e-5));
    }
  }
  Tensor g = leaf(randn_tensor({2, 5, 3, 4}, 9));
  Tensor upstream = randn_tensor({2, 1, 3, 4}, 10);
  mean(g, {1}, true).backward(upstream);
  std::vector<double> got = values(g.grad()), up = values(upstream);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], up[(i / 60) * 12 + i % 12] / 5) << i;
}

TEST(Reduce, EmptyInputs) {
  // Sums over nothing are 0, as in torch.
  EXPECT_EQ(sum(zeros({0})).item(), 0.0);
  Tensor s = sum(zeros({0, 3}), {0});
  EXPECT_EQ(s.shape(), (Shape{3}));
  EXPECT_TRUE(all_close(s, {0, 0, 0}, 0, 0));
  EXPECT_EQ(sum(zeros({2, 0}), {1}, true).shape(), (Shape{2, 1}));
}

TEST(Reduce, IntegerSums) {
  Tensor i = from_vector_i64({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(sum(i).item(), 21.0);
  EXPECT_TRUE(all_close(sum(i, {0}), {5, 7, 9}, 0, 0));
}

TEST(Reduce, OverAllGradcheck) {
  Tensor x = leaf(relayout(randn_tensor({3, 4}, 23), Layout::Transposed));
  EXPECT_TRUE(gradcheck([](const auto& in) { return sum(in[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return mean(in[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return var(in[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return var(in[0], 0); }, {x}));
}

// ---------------------------------------------------------------- max / min

class MaxMinDim : public ::testing::TestWithParam<std::tuple<int64_t, bool, Layout>> {};

TEST_P(MaxMinDim, ForwardValuesAndIndices) {
  auto [dim, keepdim, layout] = GetParam();
  Tensor x = relayout(distinct_tensor({3, 4, 5}, 31), layout);
  Shape shape;
  for (bool is_max : {true, false}) {
    ValuesIndices r = is_max ? max(x, dim, keepdim) : min(x, dim, keepdim);
    std::vector<double> expected =
        reduce_reference(x, {dim}, keepdim, is_max ? fold_max : fold_min, &shape);
    EXPECT_EQ(r.values.shape(), shape);
    EXPECT_EQ(r.indices.shape(), shape);
    EXPECT_EQ(r.indices.dtype(), kInt64);
    EXPECT_TRUE(all_close(r.values, expected, 0, 0));
    expected = reduce_reference(x, {dim}, keepdim, is_max ? fold_argmax : fold_argmin, &shape);
    EXPECT_TRUE(all_close(r.indices, expected, 0, 0));
    Tensor arg = is_max ? argmax(x, dim, keepdim) : argmin(x, dim, keepdim);
    EXPECT_EQ(arg.shape(), shape);
    EXPECT_TRUE(all_close(arg, expected, 0, 0));
  }
}

TEST_P(MaxMinDim, Gradcheck) {
  auto [dim, keepdim, layout] = GetParam();
  Tensor x = leaf(relayout(distinct_tensor({3, 4, 5}, 32), layout));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return max(in[0], dim, keepdim).values; }, {x}));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return min(in[0], dim, keepdim).values; }, {x}));
}

INSTANTIATE_TEST_SUITE_P(Reduce, MaxMinDim,
                         ::testing::Combine(::testing::Values(0, 1, -1), ::testing::Bool(),
                                            ::testing::Values(Layout::Contiguous,
                                                              Layout::Transposed)),
                         [](const auto& info) {
                           int64_t dim = std::get<0>(info.param);
                           return std::string("dim") + (dim < 0 ? "_neg" : "") +
                                  std::to_string(std::abs(dim)) +
                                  (std::get<1>(info.param) ? "_keep_" : "_") +
                                  layout_name(std::get<2>(info.param));
                         });

TEST(Reduce, MaxMinOverAllGradcheck) {
  Tensor x = leaf(relayout(distinct_tensor({4, 5}, 33), Layout::Strided));
  EXPECT_TRUE(gradcheck([](const auto& in) { return max(in[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return min(in[0]); }, {x}));
}

TEST(Reduce, TiesGoToTheFirstElement) {
  Tensor x = leaf(from_vector({1, 3, 3, 2}, {4}));
  max(x).backward();
  EXPECT_TRUE(all_close(x.grad(), {0, 1, 0, 0}, 0, 0));
  EXPECT_EQ(argmax(x).item(), 1.0);

  Tensor y = leaf(from_vector({5, 0, 0, 5, 9, 9}, {2, 3}));
  ValuesIndices r = min(y, 1);
  EXPECT_TRUE(all_close(r.indices, {1, 0}, 0, 0));
  r.values.backward(ones({2}));
  EXPECT_TRUE(all_close(y.grad(), {0, 1, 0, 1, 0, 0}, 0, 0));
  EXPECT_TRUE(all_close(argmin(y, 1), {1, 0}, 0, 0));
  EXPECT_TRUE(all_close(argmax(y, 1), {0, 1}, 0, 0));
}

TEST(Reduce, NanPropagates) {
  // As torch and NumPy: a NaN anywhere makes max/min NaN, and argmax points at it.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = from_vector({1.f, nan, 3.f, 2.f, 5.f, 4.f}, {2, 3});
  EXPECT_TRUE(std::isnan(max(x).item()));
  EXPECT_TRUE(std::isnan(min(x).item()));
  ValuesIndices r = max(x, 1);
  EXPECT_TRUE(std::isnan(r.values.at({0})));
  EXPECT_EQ(r.indices.at({0}), 1.0);
  EXPECT_EQ(r.values.at({1}), 5.0);
  EXPECT_TRUE(std::isnan(min(x, 1).values.at({0})));
  EXPECT_EQ(argmax(x).item(), 1.0);
  EXPECT_TRUE(std::isnan(sum(x).item()));
}

TEST(Reduce, MaxOfIntegersAndInfinities) {
  Tensor i = from_vector_i64({3, -7, 11, 2}, {2, 2});
  EXPECT_EQ(max(i).item(), 11.0);
  EXPECT_EQ(min(i).item(), -7.0);
  EXPECT_TRUE(all_close(max(i, 0).values, {11, 2}, 0, 0));
  const float inf = std::numeric_limits<float>::infinity();
  Tensor f = from_vector({-inf, -inf, -inf, 1.f}, {2, 2});
  EXPECT_TRUE(all_close(max(f, 1).values, {-std::numeric_limits<double>::infinity(), 1.0}, 0, 0));
  EXPECT_TRUE(all_close(max(f, 1).indices, {0, 1}, 0, 0));
}

// ---------------------------------------------------------------- amax

// Dim sets covering both layouts of the kernel: adjacent reduced dims (no
// copy; inner = 1 or a middle dim with inner > 1) and scattered ones (permuted).
struct AmaxCase {
  const char* name;
  Dims dims;
  bool keepdim;
};

const std::vector<AmaxCase>& amax_cases() {
  static const std::vector<AmaxCase> cases = {
      {"all", {}, false},           {"all_keep", {}, true},      {"first", {0}, false},
      {"middle_keep", {1}, true},   {"last_two", {2, 3}, false}, {"last_two_keep", {-1, -2}, true},
      {"scattered", {0, 2}, false}, {"scattered_keep", {1, 3}, true},
  };
  return cases;
}

class AmaxDims : public ::testing::TestWithParam<std::tuple<size_t, Layout>> {
 protected:
  const AmaxCase& amax_case() const { return amax_cases()[std::get<0>(GetParam())]; }
  Layout layout() const { return std::get<1>(GetParam()); }
};

TEST_P(AmaxDims, ForwardAgainstReference) {
  const AmaxCase& c = amax_case();
  Tensor x = relayout(randn_tensor({2, 3, 4, 5}, 51), layout());
  Shape shape;
  const Dims every = c.dims.empty() ? Dims{0, 1, 2, 3} : c.dims;  // amax's {} is reduce_reference's 0..3
  std::vector<double> expected = reduce_reference(x, every, c.keepdim, fold_max, &shape);
  Tensor m = amax(x, c.dims, c.keepdim);
  EXPECT_EQ(m.shape(), shape);
  EXPECT_EQ(m.dtype(), kFloat32);
  EXPECT_TRUE(all_close(m, expected, 0, 0));
}

TEST_P(AmaxDims, Gradcheck) {
  const AmaxCase c = amax_case();
  Tensor x = leaf(relayout(distinct_tensor({2, 3, 4, 5}, 52), layout()));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return amax(in[0], c.dims, c.keepdim); }, {x}));
}

INSTANTIATE_TEST_SUITE_P(Reduce, AmaxDims,
                         ::testing::Combine(::testing::Range<size_t>(0, amax_cases().size()),
                                            ::testing::Values(Layout::Contiguous, Layout::Transposed)),
                         [](const auto& info) {
                           return std::string(amax_cases()[std::get<0>(info.param)].name) + "_" +
                                  layout_name(std::get<1>(info.param));
                         });

TEST(Reduce, AmaxSplitsTheGradientAmongTies) {
  // torch's rule: every maximal element gets grad / count (max(x) gives it all to one).
  Tensor x = leaf(from_vector({1, 3, 3, 2}, {4}));
  amax(x).backward(from_vector({6}, {}));
  EXPECT_TRUE(all_close(x.grad(), {0, 3, 3, 0}, 0, 0));

  // Over a middle dim (the kernel's inner > 1 path): columns with 3, 2 and 1 maxima.
  Tensor y = leaf(from_vector({0, 5, 7,  //
                               0, 5, 1,  //
                               0, 2, 1},
                              {1, 3, 3}));
  Tensor m = amax(y, {1}, true);
  EXPECT_TRUE(all_close(m, {0, 5, 7}, 0, 0));
  m.backward(from_vector({3, 4, 5}, {1, 1, 3}));
  EXPECT_TRUE(all_close(y.grad(), {1, 2, 5, 1, 2, 0, 1, 0, 0}, 0, 0));

  // Over scattered dims (the permuted path): a 2×2 plane per middle index.
  // amax over {0, 2}: dim-1 index 0 holds {4, 1, 4, 4} (three maxima), index 1 {2, 9, 9, 2} (two).
  Tensor z = leaf(from_vector({4, 1, 2, 9,  //
                               4, 4, 9, 2},
                              {2, 2, 2}));
  Tensor mz = amax(z, {0, 2});
  EXPECT_TRUE(all_close(mz, {4, 9}, 0, 0));
  mz.backward(from_vector({3, 2}, {2}));
  EXPECT_TRUE(all_close(z.grad(), {1, 0, 0, 1, 1, 1, 1, 0}, 0, 0));
}

TEST(Reduce, AmaxNanPropagates) {
  // As torch: the maximum is NaN, and the NaN slice's gradient is NaN throughout.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = leaf(from_vector({1.f, nan, 3.f, 2.f, 5.f, 5.f}, {2, 3}));
  Tensor m = amax(x, {1});
  EXPECT_TRUE(std::isnan(m.at({0})));
  EXPECT_EQ(m.at({1}), 5.0);
  m.backward(from_vector({1, 1}, {2}));
  std::vector<double> g = values(x.grad());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(g[i])) << i;
  EXPECT_EQ(g[3], 0.0);
  EXPECT_EQ(g[4], 0.5);
  EXPECT_EQ(g[5], 0.5);
  // NaN in a middle-dim reduction, and in a long row (the vectorised lanes).
  Tensor y = from_vector({1.f, 2.f, nan, 0.f}, {1, 2, 2});
  EXPECT_TRUE(std::isnan(amax(y, {1}).at({0, 0})));
  EXPECT_EQ(amax(y, {1}).at({0, 1}), 2.0);
  std::vector<float> row(100, 1.f);
  row[70] = nan;
  EXPECT_TRUE(std::isnan(amax(from_vector(row, {100})).item()));
}

TEST(Reduce, AmaxLargeBlocksAgainstReference) {
  // Long rows (the lanes loop, ragged tail) and wide middle-dim blocks (two
  // column blocks and a ragged one), over the parallel threshold; relu makes
  // ties at 0, whose gradient shares must add up to the upstream value.
  Tensor x = leaf(relu(randn_tensor({3, 40, 1100}, 53)).detach());
  Shape shape;
  for (const Dims& dims : {Dims{1}, Dims{2}}) {
    std::vector<double> expected = reduce_reference(x, dims, false, fold_max, &shape);
    Tensor m = amax(x, dims);
    EXPECT_EQ(m.shape(), shape);
    EXPECT_TRUE(all_close(m, expected, 0, 0));
  }
  Tensor g = randn_tensor({3, 1100}, 54);
  amax(x, {1}).backward(g);
  Tensor total = sum(x.grad(), {1});  // each column's shares add up to its upstream value
  EXPECT_TRUE(all_close(total, values(g), 1e-5, 1e-5));
}

TEST(Reduce, AmaxOfIntegersAndErrors) {
  Tensor i = from_vector_i64({3, -7, 11, 2}, {2, 2});
  EXPECT_EQ(amax(i).dtype(), kInt64);
  EXPECT_TRUE(all_close(amax(i, {0}), {11, 2}, 0, 0));
  EXPECT_EQ(amax(from_vector({4}, {})).item(), 4.0);  // 0-d: nothing to reduce
  EXPECT_TRUE(throws_error_naming([] { amax(zeros({2, 0}), {1}); }, "empty dimension"));
  EXPECT_TRUE(throws_error_naming([] { amax(zeros({2, 3}), {1, -1}); }, "more than once"));
  EXPECT_TRUE(throws_error_naming([] { amax(zeros({2, 3}), {2}); }, "out of range"));
  EXPECT_TRUE(throws_error_naming([] { amax(zeros({2}).to(kBool)); }, "bool"));
}

// ---------------------------------------------------------------- sum_to_shape

TEST(SumToShape, ReversesABroadcast) {
  Tensor x = randn_tensor({2, 3, 4}, 41);
  Shape shape;
  std::vector<double> expected = reduce_reference(x, {0, 2}, true, fold_sum, &shape);
  Tensor s = sum_to_shape(x, {3, 1});
  EXPECT_EQ(s.shape(), (Shape{3, 1}));
  EXPECT_TRUE(all_close(s, expected, 1e-5, 1e-5));
  Tensor row = sum_to_shape(x, {4});
  EXPECT_EQ(row.shape(), (Shape{4}));
  EXPECT_TRUE(all_close(row, reduce_reference(x, {0, 1}, false, fold_sum, &shape), 1e-5, 1e-5));
  EXPECT_EQ(sum_to_shape(x, {}).dim(), 0);
  EXPECT_NEAR(sum_to_shape(x, {}).item(), fold_sum(values(x)), 1e-4);
  EXPECT_TRUE(all_close(sum_to_shape(x, {2, 3, 4}), x, 0, 0));
}

TEST(SumToShape, Gradcheck) {
  Tensor x = leaf(randn_tensor({2, 3, 4}, 42));
  EXPECT_TRUE(gradcheck([](const auto& in) { return sum_to_shape(in[0], {3, 1}); }, {x}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return sum_to_shape(in[0], {1, 4}); }, {x}));
}

}  // namespace
}  // namespace attnkit::testing
