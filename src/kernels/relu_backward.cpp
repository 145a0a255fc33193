#include "kernels/relu_backward.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu_features.h"

namespace attnkit::kernels {

namespace {

__attribute__((target("avx2,fma"))) void relu_backward_avx2(const float* dy, const float* x, float* dx, int64_t n) {
  const __m256 zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    // Not (x <= 0), true for NaN too.
    const __m256 pass = _mm256_cmp_ps(_mm256_loadu_ps(x + i), zero, _CMP_NLE_UQ);
    _mm256_storeu_ps(dx + i, _mm256_and_ps(pass, _mm256_loadu_ps(dy + i)));
  }
  relu_backward_reference(dy + i, x + i, dx + i, n - i);
}

}  // namespace

void relu_backward_reference(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] <= 0.0f ? 0.0f : dy[i];
}

void relu_backward(const float* dy, const float* x, float* dx, int64_t n) {
  constexpr int64_t kChunk = 1 << 15;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const bool vector = active_isa() >= Isa::Avx2;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk, count = std::min(kChunk, n - begin);
    if (vector) {
      relu_backward_avx2(dy + begin, x + begin, dx + begin, count);
    } else {
      relu_backward_reference(dy + begin, x + begin, dx + begin, count);
    }
  }
}

}  // namespace attnkit::kernels
