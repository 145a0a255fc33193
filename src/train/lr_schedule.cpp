#include "attnkit/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"

namespace attnkit::train {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

InverseSqrtWarmup::InverseSqrtWarmup(Optimizer& optimizer, int64_t d, int64_t w, double f)
    : LRSchedule(optimizer), d_model(d), warmup(w), factor(f) {
  AK_CHECK(d > 0 && w > 0, "InverseSqrtWarmup: d_model and warmup must be positive, got ", d, " and ", w);
  start();
}

double InverseSqrtWarmup::rate(int64_t t) const {
  const double step = static_cast<double>(t + 1);
  return factor / std::sqrt(static_cast<double>(d_model)) *
         std::min(1.0 / std::sqrt(step), step * std::pow(static_cast<double>(warmup), -1.5));
}

WarmupCosine::WarmupCosine(Optimizer& optimizer, int64_t w, int64_t total, double min)
    : LRSchedule(optimizer), warmup(w), total_steps(total), min_lr(min) {
  AK_CHECK(w >= 0 && total > w, "WarmupCosine: need 0 <= warmup < total_steps, got ", w, " and ", total);
  start();
}

double WarmupCosine::rate(int64_t t) const {
  if (t < warmup) return base_lr_ * static_cast<double>(t + 1) / static_cast<double>(warmup);
  const double progress = std::min(1.0, static_cast<double>(t - warmup) / static_cast<double>(total_steps - warmup));
  return min_lr + (base_lr_ - min_lr) * 0.5 * (1.0 + std::cos(kPi * progress));
}

CosineAnnealing::CosineAnnealing(Optimizer& optimizer, int64_t t, double min)
    : LRSchedule(optimizer), t_max(t), min_lr(min) {
  AK_CHECK(t > 0, "CosineAnnealing: t_max must be positive, got ", t);
  start();
}

double CosineAnnealing::rate(int64_t t) const {
  return min_lr + (base_lr_ - min_lr) * 0.5 * (1.0 + std::cos(kPi * static_cast<double>(t) / static_cast<double>(t_max)));
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, bool error_if_nonfinite) {
  AK_CHECK(max_norm >= 0.0, "clip_grad_norm: max_norm must be non-negative, got ", max_norm);
  double total = 0.0;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor c = g.contiguous();
    const float* x = c.data<float>();
    for (int64_t i = 0; i < c.numel(); ++i) total += static_cast<double>(x[i]) * x[i];
  }
  const double norm = std::sqrt(total);
  AK_CHECK(!error_if_nonfinite || std::isfinite(norm), "clip_grad_norm: the total norm of the gradients is ", norm,
           " (non-finite)");
  const double coefficient = std::min(1.0, max_norm / (norm + 1e-6));
  if (coefficient < 1.0) {
    NoGradGuard no_grad;
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      const Tensor c = g.contiguous();
      float* x = const_cast<float*>(c.data<float>());
      for (int64_t i = 0; i < c.numel(); ++i) x[i] = static_cast<float>(x[i] * coefficient);
      if (!g.is_contiguous()) g.copy_(c);
    }
  }
  return norm;
}

}  // namespace attnkit::train
