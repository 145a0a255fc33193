// Edge cases that once crashed, leaked or answered wrongly: each test names
// the failure it guards against.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "attnkit/attnkit.h"

namespace attnkit {
namespace {

TEST(EdgeCases, ForwardWithoutBackwardFreesTheGraph) {
  // A node's closure must not own the op's own output (softmax did: a cycle).
  Tensor x = randn({3, 5}).set_requires_grad(true);
  std::weak_ptr<TensorImpl> watched;
  for (auto op : {+[](const Tensor& t) { return softmax(t, -1); },
                  +[](const Tensor& t) { return log_softmax(t, 0); },
                  +[](const Tensor& t) { return exp(t); },
                  +[](const Tensor& t) { return layer_norm(t, {5}); },
                  +[](const Tensor& t) { return matmul(t, t.t()); }}) {
    {
      Tensor out = op(x);
      watched = out.impl_ptr();
    }
    EXPECT_TRUE(watched.expired());
  }
}

TEST(EdgeCases, HugeShapesAreRefusedNotWrapped) {
  EXPECT_THROW(zeros({int64_t{1} << 32, int64_t{1} << 32}), Error);
  EXPECT_THROW(zeros({int64_t{1} << 61}, kInt64), Error);
  EXPECT_THROW(ones({4}).reshape({int64_t{1} << 40, int64_t{1} << 40, -1}), Error);
  EXPECT_THROW(arange(1e19), Error);
}

TEST(EdgeCases, ZeroDimTensorsHaveNoDims) {
  Tensor s = scalar_tensor(1.0);
  EXPECT_THROW(s.size(0), Error);
  EXPECT_THROW(s.stride(0), Error);
  EXPECT_THROW(s.narrow(0, 0, 1), Error);
  EXPECT_THROW(s.slice(0, 0, 1), Error);
  EXPECT_THROW(s.select(0, 0), Error);
}

TEST(EdgeCases, CopyFromAnOverlappingViewReadsBeforeWriting) {
  Tensor t = arange(0, 6, 1, kFloat32);
  t.slice(0, 1, 6).copy_(t.slice(0, 0, 5));  // shift right by one
  const float expected[] = {0, 0, 1, 2, 3, 4};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.at({i}), expected[i]);
}

TEST(EdgeCases, WritesIntoExpandedViewsAreRefused) {
  Tensor base = zeros({1, 4});
  Tensor wide = base.expand({3, 4});
  EXPECT_THROW(wide.fill_(1.0), Error);
  EXPECT_THROW(wide.copy_(ones({3, 4})), Error);
}

TEST(EdgeCases, NegativeExpandSizesAreRefused) {
  EXPECT_THROW(zeros({1}).expand({-5}), Error);
}

TEST(EdgeCases, PowGradientAtZeroToTheZeroIsZero) {
  // d/da a^b = b a^(b-1): 0 * inf at a = b = 0 must give 0, as PyTorch.
  Tensor a = zeros({2}).set_requires_grad(true);
  Tensor b = zeros({2});
  sum(pow(a, b)).backward();
  EXPECT_EQ(a.grad().at({0}), 0.0);
  EXPECT_EQ(a.grad().at({1}), 0.0);
}

TEST(EdgeCases, FloatToIntOutOfRangeIsDefined) {
  Tensor f = from_vector({std::nanf(""), 1e30f, -1e30f, 7.9f}, {4});
  Tensor i = f.to(kInt32);
  EXPECT_EQ(i.at({0}), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(i.at({1}), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(i.at({2}), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(i.at({3}), 7);
}

TEST(EdgeCases, GradAccumulatesIntoTheSameTensor) {
  Tensor x = ones({3}).set_requires_grad(true);
  sum(mul(x, 2.0)).backward();
  Tensor held = x.grad();
  sum(mul(x, 3.0)).backward();
  EXPECT_EQ(held.at({0}), 5.0);  // the reference taken earlier sees the sum
}

TEST(EdgeCases, KeepdimOverEveryDimKeepsThem) {
  Tensor x = randn({2, 3});
  EXPECT_EQ(sum(x, {}, true).shape(), (Shape{1, 1}));
  EXPECT_EQ(mean(x, {0, 1}, true).shape(), (Shape{1, 1}));
  EXPECT_EQ(var(x, {}, 1, true).shape(), (Shape{1, 1}));
}

TEST(EdgeCases, ThreadCountIsBounded) {
  EXPECT_THROW(set_num_threads(1 << 30), Error);
  EXPECT_THROW(set_num_threads(0), Error);
}

}  // namespace
}  // namespace attnkit
