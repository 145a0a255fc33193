#include "kernels/layer_norm.h"

#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/cpu_features.h"

namespace attnkit::kernels {

namespace {

// The row kernels are written once, as plain loops, and compiled twice: as
// they are (baseline SSE2) and inlined into AVX2 wrappers, where the compiler
// vectorises them eight floats / four doubles wide (and may contract a
// multiply-add into an FMA, so the two can differ in the last bit; the tests
// hold both to the double-precision reference).
#define AK_ROW_KERNEL [[gnu::always_inline]] inline

// Σ_{i<n} v(i) in double over 8 independent lanes (vectorisable, and no
// single chain of dependent adds); `v` is an expression in i.
#define AK_LANE_SUM(result, n, v)                                                   \
  do {                                                                              \
    double lanes_[8] = {};                                                          \
    const int64_t whole_ = (n) / 8 * 8;                                             \
    for (int64_t base_ = 0; base_ < whole_; base_ += 8) {                           \
      for (int l_ = 0; l_ < 8; ++l_) {                                              \
        const int64_t i = base_ + l_;                                               \
        lanes_[l_] += (v);                                                          \
      }                                                                             \
    }                                                                               \
    for (int l_ = 0; whole_ + l_ < (n); ++l_) {                                     \
      const int64_t i = whole_ + l_;                                                \
      lanes_[l_] += (v);                                                            \
    }                                                                               \
    (result) = ((lanes_[0] + lanes_[4]) + (lanes_[1] + lanes_[5])) +                \
               ((lanes_[2] + lanes_[6]) + (lanes_[3] + lanes_[7]));                 \
  } while (0)

AK_ROW_KERNEL void forward_row(float* y, float* mean, float* rstd, const float* x, const float* weight,
                               const float* bias, int64_t cols, float eps) {
  double sum = 0.0, squares = 0.0;
  AK_LANE_SUM(sum, cols, static_cast<double>(x[i]));
  const double mu = sum / cols;
  // Biased variance, two-pass for stability.
  AK_LANE_SUM(squares, cols, (x[i] - mu) * (x[i] - mu));
  const float m = static_cast<float>(mu);
  const float s = static_cast<float>(1.0 / std::sqrt(squares / cols + eps));
  for (int64_t i = 0; i < cols; ++i) {
    float v = (x[i] - m) * s;
    if (weight) v *= weight[i];
    if (bias) v += bias[i];
    y[i] = v;
  }
  *mean = m;
  *rstd = s;
}

// dx of one row, and its terms of dweight (pw) and dbias (pb) when wanted.
AK_ROW_KERNEL void backward_row(float* d, double* pw, double* pb, const float* g, const float* x, float m, float s,
                                const float* weight, int64_t cols) {
  double sum_g = 0.0, sum_gx = 0.0;
  if (weight) {
    AK_LANE_SUM(sum_g, cols, static_cast<double>(g[i] * weight[i]));
    AK_LANE_SUM(sum_gx, cols, static_cast<double>(g[i] * weight[i]) * ((x[i] - m) * s));
  } else {
    AK_LANE_SUM(sum_g, cols, static_cast<double>(g[i]));
    AK_LANE_SUM(sum_gx, cols, static_cast<double>(g[i]) * ((x[i] - m) * s));
  }
  if (pw) {
    for (int64_t i = 0; i < cols; ++i) {
      pw[i] += static_cast<double>(g[i]) * ((x[i] - m) * s);
      pb[i] += g[i];
    }
  }
  const float mean_g = static_cast<float>(sum_g / cols);
  const float mean_gx = static_cast<float>(sum_gx / cols);
  if (!d) return;
  for (int64_t i = 0; i < cols; ++i) {
    const float xhat = (x[i] - m) * s;
    const float gh = weight ? g[i] * weight[i] : g[i];
    d[i] = s * (gh - mean_g - xhat * mean_gx);
  }
}

using ForwardRow = void (*)(float*, float*, float*, const float*, const float*, const float*, int64_t, float);
using BackwardRow = void (*)(float*, double*, double*, const float*, const float*, float, float, const float*,
                             int64_t);

void forward_row_baseline(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                          int64_t cols, float eps) {
  forward_row(y, mean, rstd, x, w, b, cols, eps);
}
__attribute__((target("avx2,fma"))) void forward_row_avx2(float* y, float* mean, float* rstd, const float* x,
                                                          const float* w, const float* b, int64_t cols, float eps) {
  forward_row(y, mean, rstd, x, w, b, cols, eps);
}
void backward_row_baseline(float* d, double* pw, double* pb, const float* g, const float* x, float m, float s,
                           const float* w, int64_t cols) {
  backward_row(d, pw, pb, g, x, m, s, w, cols);
}
__attribute__((target("avx2,fma"))) void backward_row_avx2(float* d, double* pw, double* pb, const float* g,
                                                           const float* x, float m, float s, const float* w,
                                                           int64_t cols) {
  backward_row(d, pw, pb, g, x, m, s, w, cols);
}

}  // namespace

void layer_norm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight,
                        const float* bias, int64_t rows, int64_t cols, float eps) {
  const ForwardRow row = active_isa() >= Isa::Avx2 ? forward_row_avx2 : forward_row_baseline;
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 14) && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    row(out + r * cols, mean + r, rstd + r, in + r * cols, weight, bias, cols, eps);
  }
}

void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* in,
                         const float* mean, const float* rstd, const float* weight, int64_t rows,
                         int64_t cols) {
  const BackwardRow row = active_isa() >= Isa::Avx2 ? backward_row_avx2 : backward_row_baseline;
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
      row(dx ? dx + r * cols : nullptr, pw, pb, dy + r * cols, in + r * cols, mean[r], rstd[r], weight, cols);
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
