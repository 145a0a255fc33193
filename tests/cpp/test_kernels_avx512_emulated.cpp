// The AVX-512 attention tiles (attention_tiles_avx512.inc) compiled against
// SIMDe's portable emulation of the AVX-512 intrinsics and compared with the
// scalar tiles, so their arithmetic and tails are tested on CPUs without
// AVX-512 too. (On a CPU with AVX-512 the native build of the same
// source also runs through every kernel test.)
//
// This file must not include <immintrin.h> itself: SIMDe's aliases stand in
// for the intrinsics.
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/attention_tiles.h"
#include "random_floats.h"

namespace attnkit::kernels {
namespace emulated {
#define AK_AVX512
#include "kernels/attention_tiles_avx512.inc"
#undef AK_AVX512
}  // namespace emulated

namespace {


TEST(Avx512TilesEmulated, TileMatchesScalarForEveryRowCount) {
  const AttentionTileKernels& plain = attention_tile_kernels(Isa::Scalar);
  std::mt19937 rng(3);
  const int64_t depth = 29, a_stride = 33;
  std::vector<float> a = normal_floats(static_cast<size_t>(kMaxTileRows * a_stride + depth * kMaxTileRows), rng);
  std::vector<float> panel = normal_floats(static_cast<size_t>(depth * kTileCols), rng);
  for (int rows = 1; rows <= emulated::kAvx512TileRows; ++rows) {
    for (bool transposed : {false, true}) {
      const int64_t rs = transposed ? 1 : a_stride, cs = transposed ? kMaxTileRows : 1;
      for (bool accumulate : {false, true}) {
        std::vector<float> c1 = normal_floats(static_cast<size_t>(kMaxTileRows * 18), rng), c2 = c1;
        emulated::tile_avx512(rows, depth, a.data(), rs, cs, panel.data(), c1.data(), 18, accumulate);
        plain.tile(rows, depth, a.data(), rs, cs, panel.data(), c2.data(), 18, accumulate);
        for (size_t i = 0; i < c1.size(); ++i) ASSERT_NEAR(c1[i], c2[i], 1e-4) << "rows " << rows << " at " << i;
      }
    }
  }
}

TEST(Avx512TilesEmulated, RowPassesMatchScalarWithTails) {
  const AttentionTileKernels& plain = attention_tile_kernels(Isa::Scalar);
  std::mt19937 rng(4);
  for (int64_t n : {1, 5, 16, 17, 31, 64, 100}) {
    std::vector<float> row = normal_floats(static_cast<size_t>(n), rng, 40.0f);
    row[0] = -std::numeric_limits<float>::infinity();
    EXPECT_EQ(emulated::row_max_avx512(row.data(), n), plain.row_max(row.data(), n)) << n;
    const float shift = std::max(0.0f, plain.row_max(row.data(), n));
    std::vector<float> e1 = row, e2 = row;
    const float s1 = emulated::exp2_shifted_sum_avx512(e1.data(), n, shift);
    const float s2 = plain.exp2_shifted_sum(e2.data(), n, shift);
    EXPECT_NEAR(s1, s2, 2e-6 * s2 + 1e-30) << n;
    for (int64_t j = 0; j < n; ++j) EXPECT_NEAR(e1[j], e2[j], 4e-7 * std::max(1e-30f, e2[j])) << n << " " << j;
    EXPECT_EQ(e1[0], 0.0f);  // -inf gives exactly 0
    std::vector<float> s = row, t = row;
    s[0] = t[0] = 1.0f;
    emulated::scale_avx512(s.data(), n, 0.25f);
    plain.scale(t.data(), n, 0.25f);
    for (int64_t j = 0; j < n; ++j) EXPECT_EQ(s[j], t[j]);
    std::vector<float> p = normal_floats(static_cast<size_t>(n), rng), d1 = normal_floats(static_cast<size_t>(n), rng), d2 = d1;
    emulated::softmax_grad_avx512(p.data(), d1.data(), n, 0.3f);
    plain.softmax_grad(p.data(), d2.data(), n, 0.3f);
    for (int64_t j = 0; j < n; ++j) EXPECT_FLOAT_EQ(d1[j], d2[j]);
  }
}

TEST(Avx512TilesEmulated, Exp2EdgeValues) {
  const float inf = std::numeric_limits<float>::infinity();
  alignas(64) float x[16] = {-inf, -200.0f, -150.0f, -126.5f, -1.0f, -0.5f, 0.0f, -1e-8f,
                             std::nanf(""), -30.25f, -64.0f, -0.75f, -2.0f, -3.0f, -100.0f, -127.0f};
  alignas(64) float y[16];
  _mm512_storeu_ps(y, emulated::exp2_nonpositive_avx512(_mm512_loadu_ps(x)));
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_TRUE(std::isnan(y[8]));
  for (int i : {3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15}) {
    EXPECT_NEAR(y[i], std::exp2(x[i]), 2e-7 * std::exp2(x[i])) << x[i];
  }
}

}  // namespace
}  // namespace attnkit::kernels
