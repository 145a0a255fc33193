// The vector softmax kernel and its vector exp against the plain reference
// kernels kept beside them (kernels/softmax.h), on every ISA path this CPU has.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/softmax.h"
#include "kernels/vec_avx2.h"
#include "isa_scope.h"

namespace attnkit::kernels {
namespace {

__attribute__((target("avx2,fma"))) std::vector<float> vector_exp(const std::vector<float>& x) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i + 8 <= x.size(); i += 8) {
    _mm256_storeu_ps(out.data() + i, avx2::exp(_mm256_loadu_ps(x.data() + i)));
  }
  return out;
}

TEST(VectorExp, WithinFourUlpOfLibmOverTheFloatRange) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: the scalar path is the only one";
  std::vector<float> x;
  for (float v = -87.0f; v <= 88.0f; v += 0.0137f) x.push_back(v);
  while (x.size() % 8) x.push_back(0.0f);
  std::vector<float> y = vector_exp(x);
  for (size_t i = 0; i < x.size(); ++i) {
    float expected = std::exp(x[i]);
    float ulp = std::nextafter(expected, std::numeric_limits<float>::infinity()) - expected;
    ASSERT_LE(std::fabs(y[i] - expected), 4 * ulp) << "exp(" << x[i] << ")";
  }
}

TEST(VectorExp, EdgeValues) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: the scalar path is the only one";
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x{-inf, -1000.0f, -88.5f, 0.0f, 89.0f, inf, std::nanf(""), 1.0f};
  std::vector<float> y = vector_exp(x);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_LT(y[2], 1e-37f);
  EXPECT_EQ(y[3], 1.0f);
  EXPECT_EQ(y[4], inf);
  EXPECT_EQ(y[5], inf);
  EXPECT_TRUE(std::isnan(y[6]));
  EXPECT_NEAR(y[7], std::exp(1.0f), 1e-6f);
}

// Rows of every length around the 8-lane width, with offsets, -inf and NaN.
TEST(SoftmaxKernel, VectorPathMatchesReference) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (Isa isa : {Isa::Scalar, Isa::Avx2}) {
    if (isa == Isa::Avx2 && !cpu_has_avx2()) continue;
    IsaScope scope(isa);
    for (bool log : {false, true}) {
      for (int64_t cols : {1, 3, 7, 8, 9, 15, 16, 17, 64, 100, 1000}) {
        for (float offset : {0.0f, 50.0f, -1000.0f}) {
          const int64_t rows = 3;
          std::vector<float> x(rows * cols), y(rows * cols), expected(cols);
          for (float& v : x) v = normal(gen) + offset;
          if (cols > 1) x[cols / 2] = -std::numeric_limits<float>::infinity();  // masked, in row 0
          softmax_forward(y.data(), x.data(), rows, cols, log);
          for (int64_t r = 0; r < rows; ++r) {
            softmax_row_reference(expected.data(), x.data() + r * cols, cols, log);
            for (int64_t i = 0; i < cols; ++i) {
              float e = expected[i], got = y[r * cols + i];
              if (std::isinf(e)) {
                ASSERT_EQ(got, e);
                continue;
              }
              ASSERT_NEAR(got, e, 2e-6f * (1.0f + std::fabs(e)))
                  << isa_name(isa) << " log=" << log << " cols=" << cols << " offset=" << offset
                  << " row " << r << " col " << i;
            }
          }
        }
      }
    }
  }
}

TEST(SoftmaxKernel, NanAndFullyMaskedRowsGiveNan) {
  const float inf = std::numeric_limits<float>::infinity();
  for (Isa isa : {Isa::Scalar, Isa::Avx2}) {
    if (isa == Isa::Avx2 && !cpu_has_avx2()) continue;
    IsaScope scope(isa);
    std::vector<float> x(2 * 12, -inf), y(2 * 12);
    for (int i = 12; i < 24; ++i) x[i] = static_cast<float>(i);
    x[17] = std::nanf("");
    softmax_forward(y.data(), x.data(), 2, 12, false);
    for (float v : y) EXPECT_TRUE(std::isnan(v)) << isa_name(isa);
  }
}

}  // namespace
}  // namespace attnkit::kernels
