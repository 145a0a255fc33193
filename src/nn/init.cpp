#include "attnkit/nn/init.h"

#include <cmath>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"

namespace attnkit::nn::init {

namespace {
thread_local int skip_random_init = 0;
}

SkipRandomInitGuard::SkipRandomInitGuard() { ++skip_random_init; }
SkipRandomInitGuard::~SkipRandomInitGuard() { --skip_random_init; }

void uniform_(Tensor& t, double low, double high, Generator* generator) {
  if (skip_random_init) return;
  NoGradGuard no_grad;
  t.copy_(uniform(t.shape(), low, high, generator));
}

void normal_(Tensor& t, double mean, double std, Generator* generator) {
  if (skip_random_init) return;
  NoGradGuard no_grad;
  Tensor draw = randn(t.shape(), generator);
  float* x = draw.data<float>();
  for (int64_t i = 0; i < draw.numel(); ++i) x[i] = static_cast<float>(mean + std * x[i]);
  t.copy_(draw);
}

void zeros_(Tensor& t) {
  NoGradGuard no_grad;
  t.fill_(0.0);
}

void ones_(Tensor& t) {
  NoGradGuard no_grad;
  t.fill_(1.0);
}

Fans fans(const Tensor& t) {
  AK_CHECK(t.dim() >= 2, "init: fan in and fan out need a tensor of at least 2 dims, got shape ",
           shape_str(t.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

void xavier_uniform_(Tensor& t, double gain, Generator* generator) {
  const Fans f = fans(t);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(f.in + f.out));
  uniform_(t, -bound, bound, generator);
}

void xavier_normal_(Tensor& t, double gain, Generator* generator) {
  const Fans f = fans(t);
  normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.in + f.out)), generator);
}

void kaiming_uniform_(Tensor& t, double a, Generator* generator) {
  const Fans f = fans(t);
  AK_CHECK(f.in > 0, "kaiming_uniform_: fan_in is 0 for shape ", shape_str(t.shape()));
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(f.in));
  uniform_(t, -bound, bound, generator);
}

}  // namespace attnkit::nn::init
