#include "kernels/layer_norm.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace attnkit::kernels {

namespace {

// Σ_{i<n} f(i) in double, over 8 independent lanes: the compiler can keep
// them in vector registers, instead of one chain of dependent scalar adds
// (each waiting ~4 cycles for the last) that the strict FP order forces.
template <typename F>
double lane_sum(int64_t n, F f) {
  double lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) lanes[l] += f(i + l);
  }
  for (int l = 0; i < n; ++i, ++l) lanes[l] += f(i);
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
}

}  // namespace

void layer_norm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight,
                        const float* bias, int64_t rows, int64_t cols, float eps) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 14) && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * cols;
    float* y = out + r * cols;
    const double mu = lane_sum(cols, [&](int64_t i) { return static_cast<double>(x[i]); }) / cols;
    // Biased variance, two-pass for stability.
    const double var = lane_sum(cols, [&](int64_t i) { return (x[i] - mu) * (x[i] - mu); }) / cols;
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
      auto gh = [&](int64_t i) { return weight ? g[i] * weight[i] : g[i]; };
      const double sum_g = lane_sum(cols, [&](int64_t i) { return static_cast<double>(gh(i)); });
      const double sum_gx =
          lane_sum(cols, [&](int64_t i) { return static_cast<double>(gh(i)) * ((x[i] - m) * s); });
      if (want_params) {
        for (int64_t i = 0; i < cols; ++i) {
          pw[i] += static_cast<double>(g[i]) * ((x[i] - m) * s);
          pb[i] += g[i];
        }
      }
      const float mean_g = static_cast<float>(sum_g / cols);
      const float mean_gx = static_cast<float>(sum_gx / cols);
      if (dx) {
        float* d = dx + r * cols;
        for (int64_t i = 0; i < cols; ++i) {
          const float xhat = (x[i] - m) * s;
          d[i] = s * (gh(i) - mean_g - xhat * mean_gx);
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
