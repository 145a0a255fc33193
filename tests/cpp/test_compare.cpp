// Comparisons, where and masked_fill (ops/compare.h).
#include <cmath>
#include <functional>
#include <limits>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

TEST(Compare, TensorTensorWithBroadcast) {
  Tensor a = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector({2, 2, 7}, {3});
  struct Case {
    Tensor (*op)(const Tensor&, const Tensor&);
    std::function<bool(double, double)> reference;
  };
  const Case cases[] = {
      {eq, std::equal_to<double>()}, {ne, std::not_equal_to<double>()},
      {lt, std::less<double>()},     {le, std::less_equal<double>()},
      {gt, std::greater<double>()},  {ge, std::greater_equal<double>()},
  };
  for (const Case& c : cases) {
    Tensor out = c.op(a, b);
    EXPECT_EQ(out.dtype(), kBool);
    EXPECT_EQ(out.shape(), (Shape{2, 3}));
    EXPECT_TRUE(all_close(out, broadcast_reference(a, b, c.reference), 0, 0));
    // Transposed operands read through their strides.
    Tensor at = relayout(a, Layout::Transposed);
    EXPECT_TRUE(all_close(c.op(at, b), broadcast_reference(a, b, c.reference), 0, 0));
  }
}

TEST(Compare, TensorScalar) {
  Tensor a = from_vector({1, 2, 3}, {3});
  EXPECT_TRUE(all_close(eq(a, 2.0), {0, 1, 0}, 0, 0));
  EXPECT_TRUE(all_close(ne(a, 2.0), {1, 0, 1}, 0, 0));
  EXPECT_TRUE(all_close(lt(a, 2.0), {1, 0, 0}, 0, 0));
  EXPECT_TRUE(all_close(le(a, 2.0), {1, 1, 0}, 0, 0));
  EXPECT_TRUE(all_close(gt(a, 2.0), {0, 0, 1}, 0, 0));
  EXPECT_TRUE(all_close(ge(a, 2.0), {0, 1, 1}, 0, 0));
  EXPECT_EQ(gt(a, 2.0).dtype(), kBool);
  // Integer tensors compare by value; a fractional scalar is not truncated.
  Tensor i = from_vector_i64({1, 2, 3}, {3});
  EXPECT_TRUE(all_close(gt(i, 1.5), {0, 1, 1}, 0, 0));
  EXPECT_TRUE(all_close(eq(i, 2.0), {0, 1, 0}, 0, 0));
}

TEST(Compare, NanComparesUnequal) {
  Tensor a = from_vector({std::numeric_limits<float>::quiet_NaN(), 1.f}, {2});
  EXPECT_TRUE(all_close(eq(a, a), {0, 1}, 0, 0));
  EXPECT_TRUE(all_close(ne(a, a), {1, 0}, 0, 0));
}

TEST(Compare, BoolAndBFloat16Operands) {
  Tensor m = gt(from_vector({1, -1, 1}, {3}), 0.0);
  Tensor n = gt(from_vector({1, 1, -1}, {3}), 0.0);
  EXPECT_TRUE(all_close(eq(m, n), {1, 0, 0}, 0, 0));
  EXPECT_TRUE(all_close(ne(m, n), {0, 1, 1}, 0, 0));
  EXPECT_TRUE(all_close(eq(m, 1.0), {1, 0, 1}, 0, 0));
  Tensor h = from_vector({0.5f, 2.0f, -1.0f}, {3}).to(kBFloat16);
  EXPECT_TRUE(all_close(gt(h, 0.0), {1, 1, 0}, 0, 0));
  EXPECT_TRUE(all_close(lt(h, h), {0, 0, 0}, 0, 0));
  EXPECT_TRUE(all_close(ge(h, from_vector({0.5f, 3.0f, -2.0f}, {3})), {1, 0, 1}, 0, 0));
}

TEST(Compare, LogicalNot) {
  Tensor m = gt(from_vector({1, -1, 0}, {3}), 0.0);
  Tensor n = logical_not(m);
  EXPECT_EQ(n.dtype(), kBool);
  EXPECT_TRUE(all_close(n, {0, 1, 1}, 0, 0));
}

TEST(Compare, ComparisonsAreNotRecorded) {
  Tensor x = leaf(randn_tensor({3}, 1));
  EXPECT_FALSE(gt(x, 0.0).requires_grad());
  EXPECT_FALSE(eq(x, x).requires_grad());
}

TEST(Where, ForwardBroadcastsAllThree) {
  Tensor cond = gt(from_vector({1, -1, 1}, {3, 1}), 0.0);   // (3, 1)
  Tensor a = from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 4});
  Tensor b = from_vector({-1, -2, -3, -4}, {4});
  Tensor out = where(cond, a, b);
  EXPECT_EQ(out.shape(), (Shape{3, 4}));
  EXPECT_TRUE(all_close(out, {1, 2, 3, 4, -1, -2, -3, -4, 9, 10, 11, 12}, 0, 0));
}

TEST(Where, Gradcheck) {
  Tensor cond = gt(randn_tensor({2, 3, 4}, 7), 0.0);
  Tensor a = leaf(randn_tensor({3, 4}, 8));
  Tensor b = leaf(relayout(randn_tensor({2, 1, 4}, 9), Layout::Strided));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return where(cond, in[0], in[1]); }, {a, b}));
}

TEST(Where, GradientGoesToTheChosenSide) {
  Tensor cond = gt(from_vector({1, -1, 1, -1}, {4}), 0.0);
  Tensor a = leaf(zeros({4}));
  Tensor b = leaf(zeros({4}));
  where(cond, a, b).backward(from_vector({1, 2, 3, 4}, {4}));
  EXPECT_TRUE(all_close(a.grad(), {1, 0, 3, 0}, 0, 0));
  EXPECT_TRUE(all_close(b.grad(), {0, 2, 0, 4}, 0, 0));
}

TEST(MaskedFill, ForwardWithBroadcastMask) {
  // The attention pattern: a causal mask (T, T) over scores (B, T, T).
  const int64_t T = 3;
  Tensor scores = randn_tensor({2, T, T}, 3);
  Tensor future = gt(arange(T).unsqueeze(0), arange(T).unsqueeze(1));  // j > i
  Tensor out = masked_fill(scores, future, -std::numeric_limits<double>::infinity());
  std::vector<double> s = values(scores), expected;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j)
        expected.push_back(j > i ? -std::numeric_limits<double>::infinity() : s[(b * T + i) * T + j]);
  EXPECT_TRUE(all_close(out, expected, 0, 0));
  // The input is unchanged (masked_fill is not in place).
  EXPECT_TRUE(all_close(scores, s, 0, 0));
}

TEST(MaskedFill, Gradcheck) {
  Tensor mask = gt(randn_tensor({3, 1}, 4), 0.0);
  Tensor x = leaf(relayout(randn_tensor({2, 3, 4}, 5), Layout::Transposed));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return masked_fill(in[0], mask, 7.5); }, {x}));
}

TEST(MaskedFill, MaskedPositionsGetZeroGradient) {
  Tensor mask = gt(from_vector({1, -1, 1}, {3}), 0.0);
  Tensor x = leaf(ones({2, 3}));
  masked_fill(x, mask, 0.0).backward(full({2, 3}, 5.0));
  EXPECT_TRUE(all_close(x.grad(), {0, 5, 0, 0, 5, 0}, 0, 0));
}

}  // namespace
}  // namespace attnkit::testing
