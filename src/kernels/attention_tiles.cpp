// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as the unused
// merge operand and then warn that it may be uninitialized (GCC bug 105593):
// a false positive in its own headers, silenced for this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "kernels/attention_tiles.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu_features.h"
#include "kernels/vec_avx2.h"

namespace attnkit::kernels {

namespace {

// ---- scalar: the reference ----

void tile_scalar(int rows, int64_t depth, const float* a, int64_t a_row_stride, int64_t a_col_stride,
                 const float* panel, float* c, int64_t ldc, bool accumulate) {
  float sum[kMaxTileRows][kTileCols] = {};
  for (int64_t p = 0; p < depth; ++p) {
    for (int r = 0; r < rows; ++r) {
      const float x = a[r * a_row_stride + p * a_col_stride];
      for (int j = 0; j < kTileCols; ++j) sum[r][j] += x * panel[p * kTileCols + j];
    }
  }
  for (int r = 0; r < rows; ++r) {
    for (int j = 0; j < kTileCols; ++j) c[r * ldc + j] = (accumulate ? c[r * ldc + j] : 0.0f) + sum[r][j];
  }
}

float row_max_scalar(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) m = std::max(m, x[j]);
  return m;
}

float exp2_shifted_sum_scalar(float* x, int64_t n, float shift) {
  float total = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = std::exp2(x[j] - shift);
    total += x[j];
  }
  return total;
}

void scale_scalar(float* x, int64_t n, float factor) {
  for (int64_t j = 0; j < n; ++j) x[j] *= factor;
}

void softmax_grad_scalar(const float* p, float* ds, int64_t n, float dot) {
  for (int64_t j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - dot);
}

// ---- AVX2 + FMA ----

#define AK_AVX2 __attribute__((target("avx2,fma")))

template <int R>
AK_AVX2 void tile_avx2_rows(int64_t depth, const float* a, int64_t a_row_stride, int64_t a_col_stride,
                            const float* panel, float* c, int64_t ldc, bool accumulate) {
  __m256 lo[R], hi[R];
  const float* row[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    lo[r] = _mm256_setzero_ps();
    hi[r] = _mm256_setzero_ps();
    row[r] = a + r * a_row_stride;
  }
#pragma GCC unroll 4
  for (int64_t p = 0; p < depth; ++p) {
    const __m256 b0 = _mm256_loadu_ps(panel + p * kTileCols);
    const __m256 b1 = _mm256_loadu_ps(panel + p * kTileCols + 8);
    const int64_t at = p * a_col_stride;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(row[r] + at);
      lo[r] = _mm256_fmadd_ps(x, b0, lo[r]);
      hi[r] = _mm256_fmadd_ps(x, b1, hi[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* out = c + r * ldc;
    if (accumulate) {
      lo[r] = _mm256_add_ps(lo[r], _mm256_loadu_ps(out));
      hi[r] = _mm256_add_ps(hi[r], _mm256_loadu_ps(out + 8));
    }
    _mm256_storeu_ps(out, lo[r]);
    _mm256_storeu_ps(out + 8, hi[r]);
  }
}

void tile_avx2(int rows, int64_t depth, const float* a, int64_t a_row_stride, int64_t a_col_stride,
               const float* panel, float* c, int64_t ldc, bool accumulate) {
  switch (rows) {
    case 6: return tile_avx2_rows<6>(depth, a, a_row_stride, a_col_stride, panel, c, ldc, accumulate);
    case 5: return tile_avx2_rows<5>(depth, a, a_row_stride, a_col_stride, panel, c, ldc, accumulate);
    case 4: return tile_avx2_rows<4>(depth, a, a_row_stride, a_col_stride, panel, c, ldc, accumulate);
    case 3: return tile_avx2_rows<3>(depth, a, a_row_stride, a_col_stride, panel, c, ldc, accumulate);
    case 2: return tile_avx2_rows<2>(depth, a, a_row_stride, a_col_stride, panel, c, ldc, accumulate);
    default: return tile_avx2_rows<1>(depth, a, a_row_stride, a_col_stride, panel, c, ldc, accumulate);
  }
}

AK_AVX2 float row_max_avx2(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + j));
  float result = avx2::horizontal_max(m);
  for (; j < n; ++j) result = std::max(result, x[j]);
  return result;
}

AK_AVX2 float exp2_shifted_sum_avx2(float* x, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {  // two independent chains hide the exp latency
    const __m256 e0 = avx2::exp2_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + j), s));
    const __m256 e1 = avx2::exp2_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), s));
    _mm256_storeu_ps(x + j, e0);
    _mm256_storeu_ps(x + j + 8, e1);
    sum0 = _mm256_add_ps(sum0, e0);
    sum1 = _mm256_add_ps(sum1, e1);
  }
  for (; j + 8 <= n; j += 8) {
    const __m256 e = avx2::exp2_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + j), s));
    _mm256_storeu_ps(x + j, e);
    sum0 = _mm256_add_ps(sum0, e);
  }
  float total = avx2::horizontal_sum(_mm256_add_ps(sum0, sum1));
  for (; j < n; ++j) {
    x[j] = std::exp2(x[j] - shift);
    total += x[j];
  }
  return total;
}

AK_AVX2 void scale_avx2(float* x, int64_t n, float factor) {
  const __m256 f = _mm256_set1_ps(factor);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), f));
  for (; j < n; ++j) x[j] *= factor;
}

AK_AVX2 void softmax_grad_avx2(const float* p, float* ds, int64_t n, float dot) {
  const __m256 d = _mm256_set1_ps(dot);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    _mm256_storeu_ps(ds + j, _mm256_mul_ps(_mm256_loadu_ps(p + j), _mm256_sub_ps(_mm256_loadu_ps(ds + j), d)));
  }
  for (; j < n; ++j) ds[j] = p[j] * (ds[j] - dot);
}

#undef AK_AVX2

// ---- AVX-512 ----

#define AK_AVX512 __attribute__((target("avx512f")))
#include "kernels/attention_tiles_avx512.inc"
#undef AK_AVX512

const AttentionTileKernels kScalar{6, tile_scalar, row_max_scalar, exp2_shifted_sum_scalar, scale_scalar,
                                   softmax_grad_scalar};
const AttentionTileKernels kAvx2{6, tile_avx2, row_max_avx2, exp2_shifted_sum_avx2, scale_avx2, softmax_grad_avx2};
const AttentionTileKernels kAvx512{kAvx512TileRows, tile_avx512, row_max_avx512, exp2_shifted_sum_avx512,
                                   scale_avx512, softmax_grad_avx512};

}  // namespace

int64_t panel_count(int64_t n) { return (n + kTileCols - 1) / kTileCols; }

void pack_transposed_panels(const float* m, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  for (int64_t jp = 0; jp < panel_count(rows); ++jp, dst += cols * kTileCols) {
    const int64_t width = std::min<int64_t>(kTileCols, rows - jp * kTileCols);
    for (int64_t c = 0; c < width; ++c) {
      const float* row = m + (jp * kTileCols + c) * ld;
      for (int64_t e = 0; e < cols; ++e) dst[e * kTileCols + c] = row[e];
    }
    for (int64_t c = width; c < kTileCols; ++c) {
      for (int64_t e = 0; e < cols; ++e) dst[e * kTileCols + c] = 0.0f;
    }
  }
}

void pack_column_panels(const float* m, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  for (int64_t dp = 0; dp < panel_count(cols); ++dp, dst += rows * kTileCols) {
    const int64_t width = std::min<int64_t>(kTileCols, cols - dp * kTileCols);
    for (int64_t j = 0; j < rows; ++j) {
      const float* row = m + j * ld + dp * kTileCols;
      int64_t c = 0;
      for (; c < width; ++c) dst[j * kTileCols + c] = row[c];
      for (; c < kTileCols; ++c) dst[j * kTileCols + c] = 0.0f;
    }
  }
}

const AttentionTileKernels& attention_tile_kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return kAvx512;
    case Isa::Avx2: return kAvx2;
    default: return kScalar;
  }
}

const AttentionTileKernels& attention_tile_kernels() { return attention_tile_kernels(active_isa()); }

}  // namespace attnkit::kernels
