// The GELU kernels (kernels/gelu.h): the AVX2 paths against the libm
// reference on random values, tails and special values, on every length
// (the scalar tail included).
#include <cmath>
#include <limits>

#include "isa_scope.h"
#include "kernels/gelu.h"
#include "random_floats.h"
#include "test_support.h"

namespace attnkit::testing {
namespace {

using Kernel = void (*)(const float*, float*, int64_t);

void expect_close_to_reference(Kernel kernel, Kernel reference, const char* name) {
  std::mt19937 rng(5);
  for (int64_t n : {0, 1, 7, 8, 9, 63, 4096 + 5, (1 << 15) + 3}) {
    std::vector<float> x = kernels::normal_floats(static_cast<size_t>(n), rng);
    for (size_t i = 0; i < x.size(); ++i) {
      if (i % 5 == 0) x[i] *= 6.0f;  // reach the tails
    }
    const float specials[] = {0.0f, -0.0f, 40.0f, -40.0f, 100.0f, -100.0f, 1e-20f, -9.5f};
    for (size_t i = 0; i < x.size() && i < 8; ++i) x[i] = specials[i];
    std::vector<float> want(x.size()), got(x.size());
    reference(x.data(), want.data(), n);
    for (kernels::Isa isa : kernels::kAllIsas) {
      if (!kernels::cpu_has(isa)) continue;
      kernels::IsaScope scope(isa);
      kernel(x.data(), got.data(), n);
      for (size_t i = 0; i < x.size(); ++i) {
        // Φ's approximation is within 1e-7 absolute: x Φ(x) within |x|·1e-7
        // of the reference, plus float rounding.
        const double tolerance = 2e-7 * std::abs(x[i]) + 4e-7 * std::abs(want[i]) + 1e-30;
        ASSERT_NEAR(got[i], want[i], tolerance) << name << " " << kernels::isa_name(isa) << " x = " << x[i];
      }
    }
  }
}

TEST(GeluKernel, ExactFormEqualsErfReference) {
  expect_close_to_reference(kernels::gelu_exact, kernels::gelu_exact_reference, "exact");
}

TEST(GeluKernel, TanhFormEqualsTanhReference) {
  expect_close_to_reference(kernels::gelu_tanh, kernels::gelu_tanh_reference, "tanh");
}

TEST(GeluKernel, NanPropagates) {
  const float x[8] = {std::numeric_limits<float>::quiet_NaN(), 1, 2, 3, 4, 5, 6, 7};
  float y[8];
  kernels::gelu_exact(x, y, 8);
  EXPECT_TRUE(std::isnan(y[0]));
  kernels::gelu_tanh(x, y, 8);
  EXPECT_TRUE(std::isnan(y[0]));
}

}  // namespace
}  // namespace attnkit::testing
