// attnkit::train: optimisers reach the minimum of a quadratic, schedules and
// gradient clipping follow their formulas, bad settings are clear errors.
// Step-by-step parity with torch.optim lives in tests/python/test_optim.py.
#include <cmath>

#include "test_support.h"

namespace attnkit::testing {
namespace {

// Minimises |x - target|² from x = 0.
template <typename Opt, typename Options>
double distance_after(int steps, const Options& options) {
  Tensor x = leaf(zeros({3}));
  Tensor target = from_vector({1.0f, -2.0f, 0.5f}, {3});
  Opt opt({x}, options);
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    Tensor diff = sub(x, target);
    sum(mul(diff, diff)).backward();
    opt.step();
  }
  return std::sqrt(sum(mul(sub(x, target), sub(x, target))).item());
}

TEST(Optimizers, ReachTheMinimumOfAQuadratic) {
  EXPECT_LT((distance_after<train::SGD>(300, train::SgdOptions{0.1, 0.9})), 1e-3);
  train::AdamOptions adam;
  adam.lr = 0.05;
  EXPECT_LT(distance_after<train::Adam>(500, adam), 1e-2);
  adam.decoupled_weight_decay = true;
  adam.weight_decay = 0.0;
  EXPECT_LT(distance_after<train::AdamW>(500, adam), 1e-2);
}

TEST(Optimizers, ClipAndScheduleAndErrors) {
  Tensor x = leaf(zeros({4}));
  x.set_grad(from_vector({3, 0, 4, 0}, {4}));
  EXPECT_NEAR(train::clip_grad_norm({x}, 1.0), 5.0, 1e-9);
  EXPECT_NEAR(x.grad().at({0}), 3.0 / (5.0 + 1e-6), 1e-6);
  train::SGD sgd({x}, train::SgdOptions{1.0});
  train::InverseSqrtWarmup noam(sgd, 16, 4);
  EXPECT_NEAR(sgd.lr(), 0.25 * 1.0 / 8.0, 1e-12);  // 16^-0.5 · 1 · 4^-1.5
  EXPECT_TRUE(throws_error_naming([&] { train::SGD({x}, train::SgdOptions{-1.0}); },
                                  "SGD: learning rate must be non-negative, got -1"));
  EXPECT_TRUE(throws_error_naming([&] { train::SGD({zeros({2})}, train::SgdOptions{0.1}); },
                                  "parameter 0 must be a contiguous float32 tensor that requires grad"));
  train::AdamOptions bad;
  bad.beta1 = 1.0;
  EXPECT_TRUE(throws_error_naming([&] { train::Adam({x}, bad); }, "Adam: betas must be in [0, 1)"));
}

}  // namespace
}  // namespace attnkit::testing
