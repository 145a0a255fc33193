// The ReLU gradient kernel (kernels/relu_backward.h): the AVX2 path equals
// the reference on every length and on the special values, and the relu op's
// gradient follows torch's threshold_backward (0 where x <= 0, even for a
// NaN upstream gradient; dy where x is NaN).
#include <cmath>
#include <cstring>
#include <limits>

#include "isa_scope.h"
#include "kernels/relu_backward.h"
#include "random_floats.h"
#include "test_support.h"

namespace attnkit::testing {
namespace {

TEST(ReluBackwardKernel, VectorPathEqualsTheReference) {
  std::mt19937 rng(3);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {0, 1, 7, 8, 9, 31, 1000, (1 << 15) + 3, (1 << 17) + 5}) {
    std::vector<float> dy = kernels::normal_floats(static_cast<size_t>(n), rng);
    std::vector<float> x = kernels::normal_floats(static_cast<size_t>(n), rng);
    const float specials[] = {0.0f, -0.0f, nan, inf, -inf, 1e-30f, -1e-30f};
    for (size_t i = 0; i < x.size() && i < 7; ++i) x[i] = specials[i];
    if (n > 9) dy[9] = nan;
    std::vector<float> want(x.size()), got(x.size());
    kernels::relu_backward_reference(dy.data(), x.data(), want.data(), n);
    for (kernels::Isa isa : kernels::kAllIsas) {
      if (!kernels::cpu_has(isa)) continue;
      kernels::IsaScope scope(isa);
      std::fill(got.begin(), got.end(), 7.0f);
      kernels::relu_backward(dy.data(), x.data(), got.data(), n);
      EXPECT_TRUE(got.empty() || std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0)
          << kernels::isa_name(isa) << " n " << n;
    }
  }
}

TEST(ReluBackwardKernel, FollowsThresholdBackward) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = leaf(from_vector({-1.0f, 0.0f, 2.0f, nan, -3.0f}, {5}));
  relu(x).backward(from_vector({5.0f, 5.0f, 5.0f, 5.0f, nan}, {5}));
  std::vector<double> g = values(x.grad());
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[2], 5.0);
  EXPECT_EQ(g[3], 5.0);  // NaN x: not <= 0
  EXPECT_EQ(g[4], 0.0);  // NaN upstream where x < 0 stays out
}

}  // namespace
}  // namespace attnkit::testing
