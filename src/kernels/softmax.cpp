#include "kernels/softmax.h"

#include <cmath>
#include <limits>

#include "kernels/cpu_features.h"
#include "kernels/vec_avx2.h"

namespace attnkit::kernels {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// A row of -inf (everything masked) has no maximum to subtract: use 0, so the
// result is NaN like PyTorch's rather than an arbitrary number.
inline float usable_max(float max) { return max == kNegInf ? 0.0f : max; }

__attribute__((target("avx2,fma"))) void softmax_row_avx2(float* y, const float* x, int64_t cols,
                                                           bool log) {
  int64_t i = 0;
  __m256 vmax = _mm256_set1_ps(kNegInf);
  for (; i + 8 <= cols; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float max = avx2::horizontal_max(vmax);
  for (; i < cols; ++i) max = std::fmax(max, x[i]);
  // NaN anywhere makes the row NaN, as in the reference.
  for (int64_t j = 0; j < cols; ++j) {
    if (x[j] != x[j]) { max = x[j]; break; }
  }
  max = usable_max(max);
  const __m256 vm = _mm256_set1_ps(max);
  __m256 vsum = _mm256_setzero_ps();
  i = 0;
  for (; i + 8 <= cols; i += 8) {
    __m256 e = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    if (!log) _mm256_storeu_ps(y + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float total = avx2::horizontal_sum(vsum);
  for (; i < cols; ++i) {
    float e = std::exp(x[i] - max);
    if (!log) y[i] = e;
    total += e;
  }
  i = 0;
  if (log) {
    const float log_total = std::log(total);
    const __m256 vl = _mm256_set1_ps(log_total);
    for (; i + 8 <= cols; i += 8)
      _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vl));
    for (; i < cols; ++i) y[i] = (x[i] - max) - log_total;
  } else {
    const __m256 vinv = _mm256_set1_ps(1.0f / total);
    for (; i + 8 <= cols; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), vinv));
    for (; i < cols; ++i) y[i] *= 1.0f / total;
  }
}

}  // namespace

void softmax_row_reference(float* y, const float* x, int64_t cols, bool log) {
  float max = kNegInf;
  for (int64_t i = 0; i < cols; ++i) max = (x[i] != x[i] || x[i] > max) ? x[i] : max;
  max = usable_max(max);
  double total = 0.0;
  for (int64_t i = 0; i < cols; ++i) total += std::exp(static_cast<double>(x[i] - max));
  // (x - max) - log Σ: subtracting max first keeps the precision that
  // x - (max + log Σ) would lose when |max| is large.
  const double log_total = std::log(total);
  for (int64_t i = 0; i < cols; ++i) {
    double shifted = static_cast<double>(x[i] - max);
    y[i] = static_cast<float>(log ? shifted - log_total : std::exp(shifted) / total);
  }
}

void softmax_forward(float* out, const float* in, int64_t rows, int64_t cols, bool log) {
  auto row_kernel = active_isa() >= Isa::Avx2 ? softmax_row_avx2 : softmax_row_reference;
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 15) && rows > 1)
  for (int64_t r = 0; r < rows; ++r) row_kernel(out + r * cols, in + r * cols, cols, log);
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols, bool log) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 15) && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = dy + r * cols;
    const float* p = y + r * cols;
    float* d = dx + r * cols;
    double dot = 0.0;
    if (log) {
      for (int64_t i = 0; i < cols; ++i) dot += g[i];
      const float s = static_cast<float>(dot);
      for (int64_t i = 0; i < cols; ++i) d[i] = g[i] - std::exp(p[i]) * s;
    } else {
      for (int64_t i = 0; i < cols; ++i) dot += static_cast<double>(g[i]) * p[i];
      const float s = static_cast<float>(dot);
      for (int64_t i = 0; i < cols; ++i) d[i] = p[i] * (g[i] - s);
    }
  }
}

}  // namespace attnkit::kernels
