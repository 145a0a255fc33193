#include "kernels/softmax.h"

#include <cmath>
#include <limits>

namespace attnkit::kernels {

void softmax_forward(float* out, const float* in, int64_t rows, int64_t cols, bool log) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 14) && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * cols;
    float* y = out + r * cols;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < cols; ++i) max = std::fmax(max, x[i]);
    // A row of -inf (everything masked) has no maximum to subtract: keep 0 so
    // the result is NaN like PyTorch's rather than an arbitrary number.
    if (max == -std::numeric_limits<float>::infinity()) max = 0.0f;
    double total = 0.0;
    for (int64_t i = 0; i < cols; ++i) {
      float e = std::exp(x[i] - max);
      if (!log) y[i] = e;
      total += e;
    }
    if (log) {
      const float log_total = static_cast<float>(std::log(total)) + max;
      for (int64_t i = 0; i < cols; ++i) y[i] = x[i] - log_total;
    } else {
      const float inv = static_cast<float>(1.0 / total);
      for (int64_t i = 0; i < cols; ++i) y[i] *= inv;
    }
  }
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols, bool log) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 14) && rows > 1)
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
