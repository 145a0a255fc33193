// The few-rows GEMM (kernels/gemv.h): both layouts of B, every row count it
// takes, ragged column and depth counts, with and without bias, on one and
// two threads, against the double-precision reference; gemm() routes such
// shapes to it only when the CPU has AVX2.
#include <omp.h>

#include "isa_scope.h"
#include "kernels/gemv.h"
#include "random_floats.h"
#include "test_support.h"

namespace attnkit::testing {
namespace {

TEST(GemvKernel, EqualsTheReferenceOnBothLayouts) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(11);
  for (bool b_in_rows : {true, false}) {
    for (int64_t m : {1, 2, 3, 4}) {
      for (auto [n, k] : {std::pair<int64_t, int64_t>{1, 1}, {7, 5}, {33, 17}, {100, 64}, {257, 300}, {2304, 768}}) {
        for (bool with_bias : {false, true}) {
          const int64_t ldb = (b_in_rows ? n : k) + 3;  // a padded leading dimension
          std::vector<float> a = kernels::normal_floats(static_cast<size_t>(m * (k + 2)), rng);
          std::vector<float> b = kernels::normal_floats(static_cast<size_t>((b_in_rows ? k : n) * ldb), rng);
          std::vector<float> bias = kernels::normal_floats(static_cast<size_t>(n), rng);
          kernels::GemmArgs g;
          g.m = m;
          g.n = n;
          g.k = k;
          g.a = a.data();
          g.a_row_stride = k + 2;
          g.a_col_stride = 1;
          g.b = b.data();
          g.b_row_stride = b_in_rows ? ldb : 1;
          g.b_col_stride = b_in_rows ? 1 : ldb;
          g.bias = with_bias ? bias.data() : nullptr;
          g.ldc = n;
          std::vector<float> want(static_cast<size_t>(m * n)), got(want.size(), 99.0f);
          g.c = want.data();
          kernels::gemm_reference(g);
          ASSERT_TRUE(kernels::gemv_applies(g));
          for (int threads : {1, 2}) {
            omp_set_num_threads(threads);
            g.c = got.data();
            kernels::gemm(g);  // routed to gemv
            for (size_t i = 0; i < want.size(); ++i) {
              ASSERT_NEAR(got[i], want[i], 1e-5 * std::sqrt(static_cast<double>(k)) * 4)
                  << "rows " << b_in_rows << " m " << m << " n " << n << " k " << k << " at " << i;
            }
          }
          omp_set_num_threads(2);
        }
      }
    }
  }
}

TEST(GemvKernel, OnlyFewRowsWithAUnitStrideOnAvx2) {
  kernels::GemmArgs g;
  g.m = 5;
  g.n = g.k = 8;
  g.b_row_stride = 8;
  g.b_col_stride = 1;
  EXPECT_FALSE(kernels::gemv_applies(g));  // 5 rows: blocked GEMM
  g.m = 2;
  g.b_row_stride = 16;
  g.b_col_stride = 2;
  EXPECT_FALSE(kernels::gemv_applies(g));  // no unit stride
  g.b_col_stride = 1;
  {
    kernels::IsaScope scalar(kernels::Isa::Scalar);
    EXPECT_FALSE(kernels::gemv_applies(g));
  }
  EXPECT_EQ(kernels::gemv_applies(g), kernels::cpu_has_avx2());
}

}  // namespace
}  // namespace attnkit::testing
