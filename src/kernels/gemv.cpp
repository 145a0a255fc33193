#include "kernels/gemv.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu_features.h"

namespace attnkit::kernels {

namespace {

constexpr int64_t kColumnsBlock = 4;   // columns of C per block, B in columns: 4 dot products at a time
constexpr int64_t kMinParallelFloats = 64 * 1024;  // below this much of B one thread streams it

__attribute__((target("avx2,fma"))) inline float lane_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// C[:, j0:j1] for B in rows: C[i] += Σ_p A[i][p] · B[p][j0:j1], four rows of
// B at a time. Each row's slice is read front to back, so the prefetchers see
// four sequential streams; walking down a column block instead (one or two
// cache lines per row, a row apart) defeats them, and the kernel waits on
// every line. C's slice (at most 4 x n floats) stays in L1/L2.
template <int M>
__attribute__((target("avx2,fma"))) void rows_block(const float* a, int64_t lda, int64_t k, const float* b,
                                                    int64_t ldb, int64_t j0, int64_t j1, const float* bias,
                                                    float* c, int64_t ldc) {
  for (int i = 0; i < M; ++i) {
    for (int64_t j = j0; j < j1; ++j) c[i * ldc + j] = bias ? bias[j] : 0.0f;
  }
  const int64_t width = j1 - j0, vectors_end = j0 + width / 8 * 8;
  int64_t p = 0;
  for (; p + 4 <= k; p += 4) {
    const float* b0 = b + p * ldb;
    const float* b1 = b0 + ldb;
    const float* b2 = b1 + ldb;
    const float* b3 = b2 + ldb;
    __m256 a0[M], a1[M], a2[M], a3[M];
    for (int i = 0; i < M; ++i) {
      a0[i] = _mm256_broadcast_ss(a + i * lda + p);
      a1[i] = _mm256_broadcast_ss(a + i * lda + p + 1);
      a2[i] = _mm256_broadcast_ss(a + i * lda + p + 2);
      a3[i] = _mm256_broadcast_ss(a + i * lda + p + 3);
    }
    int64_t j = j0;
    for (; j < vectors_end; j += 8) {
      const __m256 v0 = _mm256_loadu_ps(b0 + j), v1 = _mm256_loadu_ps(b1 + j);
      const __m256 v2 = _mm256_loadu_ps(b2 + j), v3 = _mm256_loadu_ps(b3 + j);
      for (int i = 0; i < M; ++i) {
        __m256 acc = _mm256_loadu_ps(c + i * ldc + j);
        acc = _mm256_fmadd_ps(a0[i], v0, acc);
        acc = _mm256_fmadd_ps(a1[i], v1, acc);
        acc = _mm256_fmadd_ps(a2[i], v2, acc);
        acc = _mm256_fmadd_ps(a3[i], v3, acc);
        _mm256_storeu_ps(c + i * ldc + j, acc);
      }
    }
    for (; j < j1; ++j) {  // the ragged end of the slice
      for (int i = 0; i < M; ++i) {
        const float* ai = a + i * lda + p;
        c[i * ldc + j] += ai[0] * b0[j] + ai[1] * b1[j] + ai[2] * b2[j] + ai[3] * b3[j];
      }
    }
  }
  for (; p < k; ++p) {  // the last k % 4 rows of B
    for (int i = 0; i < M; ++i) {
      const float ai = a[i * lda + p];
      for (int64_t j = j0; j < j1; ++j) c[i * ldc + j] += ai * b[p * ldb + j];
    }
  }
}

// C[:, j0:j1] for B in columns: C[i][j] = A[i] · W[j], W[j] = b + j · ldb.
template <int M>
__attribute__((target("avx2,fma"))) void columns_block(const float* a, int64_t k, const float* b, int64_t ldb,
                                                       int64_t j0, int64_t j1, const float* bias, float* c,
                                                       int64_t ldc) {
  int64_t j = j0;
  const int64_t k8 = k / 8 * 8;
  for (; j + kColumnsBlock <= j1; j += kColumnsBlock) {
    __m256 acc[M][kColumnsBlock];
    for (int i = 0; i < M; ++i) {
      for (int q = 0; q < kColumnsBlock; ++q) acc[i][q] = _mm256_setzero_ps();
    }
    const float* w = b + j * ldb;
    for (int64_t p = 0; p < k8; p += 8) {
      __m256 wq[kColumnsBlock];
      for (int q = 0; q < kColumnsBlock; ++q) wq[q] = _mm256_loadu_ps(w + q * ldb + p);
      for (int i = 0; i < M; ++i) {
        const __m256 ai = _mm256_loadu_ps(a + i * k + p);
        for (int q = 0; q < kColumnsBlock; ++q) acc[i][q] = _mm256_fmadd_ps(ai, wq[q], acc[i][q]);
      }
    }
    for (int i = 0; i < M; ++i) {
      for (int q = 0; q < kColumnsBlock; ++q) {
        float total = lane_sum(acc[i][q]);
        for (int64_t p = k8; p < k; ++p) total += a[i * k + p] * w[q * ldb + p];
        c[i * ldc + j + q] = total + (bias ? bias[j + q] : 0.0f);
      }
    }
  }
  for (; j < j1; ++j) {
    for (int i = 0; i < M; ++i) {
      float total = bias ? bias[j] : 0.0f;
      for (int64_t p = 0; p < k; ++p) total += a[i * k + p] * b[j * ldb + p];
      c[i * ldc + j] = total;
    }
  }
}

// B in rows: the threads split B's rows, so each streams one contiguous
// block of memory (splitting the columns instead makes every row a short run
// the prefetchers keep restarting on); their partial sums of C are added at
// the end, a few KiB.
template <int M>
void run_rows(const GemmArgs& g, const float* a, int threads) {
  const int64_t ldb = g.b_row_stride;
  if (threads <= 1) {
    rows_block<M>(a, g.k, g.k, g.b, ldb, 0, g.n, g.bias, g.c, g.ldc);
    return;
  }
  std::vector<float> partial(static_cast<size_t>(threads - 1) * M * g.n);
#pragma omp parallel num_threads(threads)
  {
    const int id = omp_get_thread_num(), parts = omp_get_num_threads();
    const int64_t p0 = g.k * id / parts, p1 = g.k * (id + 1) / parts;
    float* out = id == 0 ? g.c : partial.data() + static_cast<size_t>(id - 1) * M * g.n;
    const int64_t ldo = id == 0 ? g.ldc : g.n;
    rows_block<M>(a + p0, g.k, p1 - p0, g.b + p0 * ldb, ldb, 0, g.n, id == 0 ? g.bias : nullptr, out, ldo);
  }
  for (int t = 1; t < threads; ++t) {
    const float* part = partial.data() + static_cast<size_t>(t - 1) * M * g.n;
    for (int i = 0; i < M; ++i) {
      for (int64_t j = 0; j < g.n; ++j) g.c[i * g.ldc + j] += part[i * g.n + j];
    }
  }
}

// B in columns: the threads split C's columns, i.e. B's rows (W's rows are
// contiguous), so each thread streams a contiguous block already.
template <int M>
void run_columns(const GemmArgs& g, const float* a, int threads) {
  const int64_t units = (g.n + kColumnsBlock - 1) / kColumnsBlock;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int id = omp_get_thread_num(), parts = omp_get_num_threads();
    const int64_t j0 = std::min(g.n, units * id / parts * kColumnsBlock);
    const int64_t j1 = std::min(g.n, units * (id + 1) / parts * kColumnsBlock);
    if (j0 < j1) columns_block<M>(a, g.k, g.b, g.b_col_stride, j0, j1, g.bias, g.c, g.ldc);
  }
}

template <int M>
void run(const GemmArgs& g, const float* a, bool b_in_rows) {
  const bool parallel = !omp_in_parallel() && g.n * g.k >= kMinParallelFloats;
  const int64_t splittable = b_in_rows ? g.k / 64 : (g.n + kColumnsBlock - 1) / kColumnsBlock;
  const int threads = parallel ? static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(),
                                                                                          splittable)))
                               : 1;
  if (b_in_rows) {
    run_rows<M>(g, a, threads);
  } else {
    run_columns<M>(g, a, threads);
  }
}

}  // namespace

bool gemv_applies(const GemmArgs& g) {
  return g.m >= 1 && g.m <= kGemvMaxRows && g.n > 0 && g.k > 0 && active_isa() >= Isa::Avx2 &&
         (g.b_col_stride == 1 || g.b_row_stride == 1);
}

void gemv(const GemmArgs& g) {
  // A (m, k) contiguous: at most 4 rows, so this copy is a few KiB.
  std::vector<float> a(static_cast<size_t>(g.m * g.k));
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t p = 0; p < g.k; ++p) a[i * g.k + p] = g.a[i * g.a_row_stride + p * g.a_col_stride];
  }
  const bool b_in_rows = g.b_col_stride == 1;
  switch (g.m) {
    case 1: run<1>(g, a.data(), b_in_rows); break;
    case 2: run<2>(g, a.data(), b_in_rows); break;
    case 3: run<3>(g, a.data(), b_in_rows); break;
    default: run<4>(g, a.data(), b_in_rows); break;
  }
}

}  // namespace attnkit::kernels
