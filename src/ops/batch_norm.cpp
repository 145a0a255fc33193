#include "attnkit/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attnkit/core/autograd.h"
#include "kernels/cpu_features.h"

namespace attnkit {

namespace {

// The input is walked as (N, C, S) contiguous, S the product of the trailing
// dims (H * W; 1 for an (N, C) input): channel c owns N runs of S contiguous
// floats. Every loop below handles one channel, so channels run on separate
// threads with no shared writes, and each inner loop is a contiguous run the
// compiler vectorises.
struct ChannelLayout {
  int64_t n, c, s;
  const float* run(const float* base, int64_t sample, int64_t channel) const {
    return base + (sample * c + channel) * s;
  }
  float* run(float* base, int64_t sample, int64_t channel) const { return base + (sample * c + channel) * s; }
};

// The channel loops are written once, as plain loops, and compiled twice: as
// they are (baseline SSE2) and inlined into AVX2 wrappers, where the compiler
// vectorises them eight floats wide (the pattern of kernels/layer_norm.cpp).
#define AK_CHANNEL_LOOP [[gnu::always_inline]] inline

// Sums run in 16 float lanes (two AVX2 registers: independent add chains) and
// are flushed into double every kBlock elements, so each float partial sum
// adds at most kBlock / kLanes = 32 terms: float speed, near-double accuracy.
constexpr int kLanes = 16;
constexpr int64_t kBlock = 512;

// sum += Σ (x_i - shift), squares += Σ (x_i - shift)² over x[0, n).
AK_CHANNEL_LOOP void add_shifted_moments(const float* x, int64_t n, float shift, double& sum, double& squares) {
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t len = std::min(kBlock, n - start);
    const float* p = x + start;
    float s[kLanes] = {}, q[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= len; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const float d = p[i + l] - shift;
        s[l] += d;
        q[l] += d * d;
      }
    }
    double block_sum = 0.0, block_squares = 0.0;
    for (; i < len; ++i) {
      const float d = p[i] - shift;
      block_sum += d;
      block_squares += static_cast<double>(d) * d;
    }
    for (int l = 0; l < kLanes; ++l) {
      block_sum += s[l];
      block_squares += q[l];
    }
    sum += block_sum;
    squares += block_squares;
  }
}

// sum_dy += Σ dy_i, sum_dy_xmu += Σ dy_i (x_i - mean) over [0, n).
AK_CHANNEL_LOOP void add_grad_sums(const float* dy, const float* x, int64_t n, float mean, double& sum_dy,
                                   double& sum_dy_xmu) {
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t len = std::min(kBlock, n - start);
    const float* g = dy + start;
    const float* p = x + start;
    float s[kLanes] = {}, q[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= len; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        s[l] += g[i + l];
        q[l] += g[i + l] * (p[i + l] - mean);
      }
    }
    double block_dy = 0.0, block_dy_xmu = 0.0;
    for (; i < len; ++i) {
      block_dy += g[i];
      block_dy_xmu += static_cast<double>(g[i]) * (p[i] - mean);
    }
    for (int l = 0; l < kLanes; ++l) {
      block_dy += s[l];
      block_dy_xmu += q[l];
    }
    sum_dy += block_dy;
    sum_dy_xmu += block_dy_xmu;
  }
}

// Channel c's mean and biased variance. The sums are taken around a sample of
// the channel (its first element), so E[(x - shift)²] - E[x - shift]² does
// not cancel catastrophically when |mean| >> std (one pass instead of two).
AK_CHANNEL_LOOP void channel_moments(const float* x, const ChannelLayout& L, int64_t c, double& mean,
                                     double& var) {
  const float shift = L.run(x, 0, c)[0];
  double sum = 0.0, squares = 0.0;
  for (int64_t n = 0; n < L.n; ++n) add_shifted_moments(L.run(x, n, c), L.s, shift, sum, squares);
  const double count = static_cast<double>(L.n * L.s);
  const double d = sum / count;
  mean = shift + d;
  var = std::max(squares / count - d * d, 0.0);
}

// y = (x - mean) * scale + bias over channel c, scale = weight * rstd. (Not
// x * scale + (bias - mean * scale): subtracting first keeps the precision
// when |mean| >> std, and gives exactly bias where x == mean.)
AK_CHANNEL_LOOP void scale_channel(float* y, const float* x, const ChannelLayout& L, int64_t c, float mean,
                                   float scale, float bias) {
  for (int64_t n = 0; n < L.n; ++n) {
    const float* in = L.run(x, n, c);
    float* out = L.run(y, n, c);
    for (int64_t i = 0; i < L.s; ++i) out[i] = (in[i] - mean) * scale + bias;
  }
}

AK_CHANNEL_LOOP void channel_grad_sums(const float* dy, const float* x, const ChannelLayout& L, int64_t c,
                                       float mean, double& sum_dy, double& sum_dy_xmu) {
  sum_dy = sum_dy_xmu = 0.0;
  for (int64_t n = 0; n < L.n; ++n) add_grad_sums(L.run(dy, n, c), L.run(x, n, c), L.s, mean, sum_dy, sum_dy_xmu);
}

// dx = a * dy + b * (x - mean) + shift over channel c (see batch_norm_backward).
AK_CHANNEL_LOOP void channel_input_grad(float* dx, const float* dy, const float* x, const ChannelLayout& L,
                                        int64_t c, float a, float b, float mean, float shift) {
  for (int64_t n = 0; n < L.n; ++n) {
    const float* g = L.run(dy, n, c);
    const float* p = L.run(x, n, c);
    float* d = L.run(dx, n, c);
    for (int64_t i = 0; i < L.s; ++i) d[i] = a * g[i] + (b * (p[i] - mean) + shift);
  }
}

// The two compilations of each loop, chosen once per call by the active ISA.
struct ChannelLoops {
  void (*moments)(const float*, const ChannelLayout&, int64_t, double&, double&);
  void (*scale)(float*, const float*, const ChannelLayout&, int64_t, float, float, float);
  void (*grad_sums)(const float*, const float*, const ChannelLayout&, int64_t, float, double&, double&);
  void (*input_grad)(float*, const float*, const float*, const ChannelLayout&, int64_t, float, float, float, float);
};

#define AK_COMPILE_CHANNEL_LOOPS(suffix, attributes)                                                          \
  attributes void moments_##suffix(const float* x, const ChannelLayout& L, int64_t c, double& m, double& v) { \
    channel_moments(x, L, c, m, v);                                                                           \
  }                                                                                                           \
  attributes void scale_##suffix(float* y, const float* x, const ChannelLayout& L, int64_t c, float m,        \
                                 float s, float b) {                                                          \
    scale_channel(y, x, L, c, m, s, b);                                                                       \
  }                                                                                                           \
  attributes void grad_sums_##suffix(const float* dy, const float* x, const ChannelLayout& L, int64_t c,      \
                                     float m, double& s, double& q) {                                         \
    channel_grad_sums(dy, x, L, c, m, s, q);                                                                  \
  }                                                                                                           \
  attributes void input_grad_##suffix(float* dx, const float* dy, const float* x, const ChannelLayout& L,     \
                                      int64_t c, float a, float b, float m, float s) {                        \
    channel_input_grad(dx, dy, x, L, c, a, b, m, s);                                                          \
  }

AK_COMPILE_CHANNEL_LOOPS(baseline, )
AK_COMPILE_CHANNEL_LOOPS(avx2, __attribute__((target("avx2,fma"))))
#undef AK_COMPILE_CHANNEL_LOOPS

const ChannelLoops& channel_loops() {
  static const ChannelLoops baseline{moments_baseline, scale_baseline, grad_sums_baseline, input_grad_baseline};
  static const ChannelLoops avx2{moments_avx2, scale_avx2, grad_sums_avx2, input_grad_avx2};
  return kernels::active_isa() >= kernels::Isa::Avx2 ? avx2 : baseline;
}

// body(c) for every channel, channels spread over the threads when the tensor
// is large enough to pay for waking them.
template <typename Body>
void for_each_channel(const ChannelLayout& L, Body body) {
#pragma omp parallel for schedule(static) if (L.c > 1 && L.n * L.c * L.s > (1 << 15))
  for (int64_t c = 0; c < L.c; ++c) body(c);
}

std::vector<float> float_values(const Tensor& t) {
  Tensor c = t.detach().to(kFloat32).contiguous();
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

void check_channel_vector(const Tensor& t, const char* what, int64_t channels, const Tensor& input) {
  if (!t.defined()) return;
  AK_CHECK(t.dim() == 1 && t.size(0) == channels, "batch_norm: expected ", what, " of shape (", channels,
           ") for input of shape ", shape_str(input.shape()), " (C = ", channels, "), got shape ",
           shape_str(t.shape()));
  AK_CHECK(is_floating(t.dtype()), "batch_norm: expected a floating point ", what, ", got ", dtype_name(t.dtype()));
}

// running = (1 - momentum) * running + momentum * batch, written in place.
void update_running(const Tensor& running, const std::vector<double>& batch, double momentum) {
  std::vector<float> next = float_values(running);
  for (size_t c = 0; c < next.size(); ++c) {
    next[c] = static_cast<float>((1.0 - momentum) * next[c] + momentum * batch[c]);
  }
  NoGradGuard no_grad;
  Tensor target = running;
  target.copy_(from_vector(next, {static_cast<int64_t>(next.size())}));
}

// Gradients of y = (x - mean) * rstd * w + b, with x̂ = (x - mean) * rstd and
// M = N * S values per channel:
//   dweight = Σ dy x̂ = rstd Σ dy (x - mean),   dbias = Σ dy
//   training (mean, rstd depend on x):
//     dx = w rstd (dy - Σdy / M - x̂ Σ(dy x̂) / M)
//        = a dy + b (x - mean) + shift,  a = w rstd, b = -a rstd² Σ dy (x - mean) / M, shift = -a Σdy / M
//   eval (mean, rstd are constants): dx = w rstd dy
std::vector<Tensor> batch_norm_backward(const Tensor& grad, const std::vector<bool>& need, const Tensor& xc,
                                        const Tensor& w, const Tensor& mean, const Tensor& rstd,
                                        const ChannelLayout& L, bool training) {
  Tensor g = grad.to(kFloat32).contiguous();
  Tensor dx = need[0] ? empty(xc.shape(), kFloat32) : Tensor();
  Tensor dw = need[1] ? empty({L.c}, kFloat32) : Tensor();
  Tensor db = need[2] ? empty({L.c}, kFloat32) : Tensor();
  const bool sums = need[1] || need[2] || (need[0] && training);
  const ChannelLoops& loops = channel_loops();
  const float* gp = g.data<float>();
  const float* xp = xc.data<float>();
  const float* mp = mean.data<float>();
  const float* rp = rstd.data<float>();
  const float* wp = w.defined() ? w.data<float>() : nullptr;
  const double count = static_cast<double>(L.n * L.s);
  for_each_channel(L, [&](int64_t c) {
    double sum_dy = 0.0, sum_dy_xmu = 0.0;
    if (sums && count > 0) loops.grad_sums(gp, xp, L, c, mp[c], sum_dy, sum_dy_xmu);
    if (dw.defined()) dw.data<float>()[c] = static_cast<float>(sum_dy_xmu * rp[c]);
    if (db.defined()) db.data<float>()[c] = static_cast<float>(sum_dy);
    if (!dx.defined()) return;
    const double r = rp[c];
    const double a = (wp ? wp[c] : 1.0) * r;
    const double b = training ? -a * r * r * sum_dy_xmu / count : 0.0;
    const double shift = training ? -a * sum_dy / count : 0.0;
    loops.input_grad(dx.data<float>(), gp, xp, L, c, static_cast<float>(a), static_cast<float>(b), mp[c],
                     static_cast<float>(shift));
  });
  return {dx, dw, db};
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  AK_CHECK(input.defined(), "batch_norm: input is undefined");
  AK_CHECK(input.dim() >= 2, "batch_norm: expected an input of shape (N, C, ...) with at least 2 dims, got shape ",
           shape_str(input.shape()));
  AK_CHECK(is_floating(input.dtype()), "batch_norm: expected a floating point input, got ",
           dtype_name(input.dtype()));
  int64_t spatial = 1;
  for (int64_t d = 2; d < input.dim(); ++d) spatial *= input.size(d);
  const ChannelLayout L{input.size(0), input.size(1), spatial};
  check_channel_vector(running_mean, "running_mean", L.c, input);
  check_channel_vector(running_var, "running_var", L.c, input);
  check_channel_vector(weight, "weight", L.c, input);
  check_channel_vector(bias, "bias", L.c, input);
  AK_CHECK(training || (running_mean.defined() && running_var.defined()),
           "batch_norm: running_mean and running_var must be given in evaluation mode (training=false)");
  AK_CHECK(!training || L.n * L.s != 1,
           "batch_norm: expected more than 1 value per channel when training, got input of shape ",
           shape_str(input.shape()));
  AK_CHECK(eps >= 0, "batch_norm: eps must be non-negative, got ", eps);

  Tensor xc = input.detach().to(kFloat32).contiguous();
  Tensor w = weight.defined() ? weight.detach().to(kFloat32).contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.detach().to(kFloat32).contiguous() : Tensor();
  // The statistics the output is normalised with, saved for the backward.
  Tensor mean = empty({L.c}, kFloat32), rstd = empty({L.c}, kFloat32);  // (C)
  float* mp = mean.data<float>();
  float* rp = rstd.data<float>();
  Tensor out = empty(input.shape(), kFloat32);
  const int64_t count = L.n * L.s;
  const ChannelLoops& loops = channel_loops();
  const float* xp = xc.data<float>();
  float* yp = out.data<float>();
  const float* wp = w.defined() ? w.data<float>() : nullptr;
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  auto normalise = [&](int64_t c) {
    const float scale = static_cast<float>((wp ? wp[c] : 1.0) * rp[c]);
    loops.scale(yp, xp, L, c, mp[c], scale, bp ? bp[c] : 0.0f);
  };

  if (training) {
    std::vector<double> batch_mean(L.c, 0.0), batch_var(L.c, 0.0);
    for_each_channel(L, [&](int64_t c) {
      if (count > 0) loops.moments(xp, L, c, batch_mean[c], batch_var[c]);
      mp[c] = static_cast<float>(batch_mean[c]);
      rp[c] = static_cast<float>(1.0 / std::sqrt(batch_var[c] + eps));
      normalise(c);  // the channel is still in cache
    });
    if (count > 0) {
      if (running_mean.defined()) update_running(running_mean, batch_mean, momentum);
      if (running_var.defined()) {
        const double unbiased = static_cast<double>(count) / static_cast<double>(count - 1);
        for (double& v : batch_var) v *= unbiased;
        update_running(running_var, batch_var, momentum);
      }
    }
  } else {
    std::vector<float> rm = float_values(running_mean), rv = float_values(running_var);
    for (int64_t c = 0; c < L.c; ++c) {
      mp[c] = rm[c];
      rp[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(rv[c]) + eps));
    }
    for_each_channel(L, normalise);
  }

  if (autograd::needs_grad({&input, &weight, &bias})) {
    autograd::record("batch_norm", out, {input, weight, bias},
                     [xc, w, mean, rstd, L, training](const Tensor& g, const std::vector<bool>& need) {
                       return batch_norm_backward(g, need, xc, w, mean, rstd, L, training);
                     });
  }
  return out;
}

}  // namespace attnkit
