#include "kernels/layer_norm.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace attnkit::kernels {

void layer_norm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight,
                        const float* bias, int64_t rows, int64_t cols, float eps) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 14) && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * cols;
    float* y = out + r * cols;
    double mu = 0.0;
    for (int64_t i = 0; i < cols; ++i) mu += x[i];
    mu /= static_cast<double>(cols);
    double var = 0.0;  // biased variance, two-pass for stability
    for (int64_t i = 0; i < cols; ++i) var += (x[i] - mu) * (x[i] - mu);
    var /= static_cast<double>(cols);
    const float m = static_cast<float>(mu);
    const float s = static_cast<float>(1.0 / std::sqrt(var + eps));
    for (int64_t i = 0; i < cols; ++i) {
      float v = (x[i] - m) * s;
      if (weight) v *= weight[i];
      if (bias) v += bias[i];
      y[i] = v;
    }
    mean[r] = m;
    rstd[r] = s;
  }
}

void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* in,
                         const float* mean, const float* rstd, const float* weight, int64_t rows,
                         int64_t cols) {
  const bool want_params = dweight != nullptr || dbias != nullptr;
  const int threads = (rows * cols > (1 << 14) && rows > 1) ? omp_get_max_threads() : 1;
  // Per-thread partial sums of dweight and dbias, reduced at the end.
  std::vector<double> partial(want_params ? static_cast<size_t>(threads) * 2 * cols : 0, 0.0);
#pragma omp parallel num_threads(threads)
  {
    double* pw = want_params ? partial.data() + static_cast<size_t>(omp_get_thread_num()) * 2 * cols : nullptr;
    double* pb = want_params ? pw + cols : nullptr;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in + r * cols;
      const float* g = dy + r * cols;
      const float m = mean[r], s = rstd[r];
      double sum_g = 0.0, sum_gx = 0.0;
      for (int64_t i = 0; i < cols; ++i) {
        float xhat = (x[i] - m) * s;
        float gh = weight ? g[i] * weight[i] : g[i];
        sum_g += gh;
        sum_gx += static_cast<double>(gh) * xhat;
        if (want_params) {
          pw[i] += static_cast<double>(g[i]) * xhat;
          pb[i] += g[i];
        }
      }
      const float mean_g = static_cast<float>(sum_g / cols);
      const float mean_gx = static_cast<float>(sum_gx / cols);
      if (dx) {
        float* d = dx + r * cols;
        for (int64_t i = 0; i < cols; ++i) {
          float xhat = (x[i] - m) * s;
          float gh = weight ? g[i] * weight[i] : g[i];
          d[i] = s * (gh - mean_g - xhat * mean_gx);
        }
      }
    }
  }
  if (!want_params) return;
  for (int64_t i = 0; i < cols; ++i) {
    double w = 0.0, b = 0.0;
    for (int t = 0; t < threads; ++t) {
      w += partial[static_cast<size_t>(t) * 2 * cols + i];
      b += partial[static_cast<size_t>(t) * 2 * cols + cols + i];
    }
    if (dweight) dweight[i] = static_cast<float>(w);
    if (dbias) dbias[i] = static_cast<float>(b);
  }
}

}  // namespace attnkit::kernels
