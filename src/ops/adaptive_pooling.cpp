#include "attnkit/ops/adaptive_pooling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnkit/core/autograd.h"
#include "kernels/cpu_features.h"

namespace attnkit {

std::string AdaptiveSize::repr() const {
  auto one = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string("None"); };
  if (single) return one(h);
  std::string out("(");
  out.append(one(h)).append(", ").append(one(w)).append(")");
  return out;
}

namespace {

// The input seen as (planes, H, W) contiguous, planes = N * C.
struct AdaptiveGeometry {
  int64_t planes, in_h, in_w, out_h, out_w;
  int64_t in_plane() const { return in_h * in_w; }
  int64_t out_plane() const { return out_h * out_w; }
  bool global() const { return out_h == 1 && out_w == 1; }
};

// Bin i of O over an input dim of I: [floor(i I / O), ceil((i + 1) I / O)),
// in a form that cannot overflow for large I * O.
int64_t bin_start(int64_t i, int64_t out, int64_t in) { return (i / out) * in + ((i % out) * in) / out; }
int64_t bin_end(int64_t i, int64_t out, int64_t in) { return 1 + ((i + 1) * in - 1) / out; }

template <typename Body>
void for_each_plane(int64_t planes, int64_t work, Body body) {
#pragma omp parallel for schedule(static) if (planes > 1 && work > (1 << 14))
  for (int64_t p = 0; p < planes; ++p) body(p);
}

// ---- the (1, 1) fast path: one pass over each contiguous plane ----
//
// Written once as plain loops and compiled twice, baseline and inlined into
// AVX2 wrappers where the compiler vectorises them (kernels/layer_norm.cpp's
// pattern). 16 float lanes (two AVX2 registers) keep independent chains.
#define AK_PLANE_LOOP [[gnu::always_inline]] inline
constexpr int kLanes = 16;
// Float partial sums are flushed into double every kBlock elements, so each
// adds at most kBlock / kLanes = 32 terms.
constexpr int64_t kBlock = 512;

AK_PLANE_LOOP double plane_sum(const float* x, int64_t n) {
  double total = 0.0;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t len = std::min(kBlock, n - start);
    const float* p = x + start;
    float lanes[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= len; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) lanes[l] += p[i + l];
    }
    for (; i < len; ++i) total += p[i];
    for (int l = 0; l < kLanes; ++l) total += lanes[l];
  }
  return total;
}

// The maximum of x[0, n), and whether it can be trusted: `v > m ? v : m`
// never takes a NaN, so NaNs are detected on the side, as v - v (NaN for NaN
// and for ±inf; an infinity only sends the plane to the exact scalar path).
// Both are float lanes the compiler vectorises (an integer flag would not be).
AK_PLANE_LOOP float plane_max(const float* x, int64_t n, bool& suspect) {
  float best[kLanes], probe[kLanes] = {};
  for (int l = 0; l < kLanes; ++l) best[l] = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float v = x[i + l];
      best[l] = v > best[l] ? v : best[l];
      probe[l] += v - v;
    }
  }
  float m = -std::numeric_limits<float>::infinity(), p = 0.0f;
  for (; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    p += x[i] - x[i];
  }
  for (int l = 0; l < kLanes; ++l) {
    m = best[l] > m ? best[l] : m;
    p += probe[l];
  }
  suspect = p != p;
  return m;
}

double plane_sum_baseline(const float* x, int64_t n) { return plane_sum(x, n); }
__attribute__((target("avx2,fma"))) double plane_sum_avx2(const float* x, int64_t n) { return plane_sum(x, n); }
float plane_max_baseline(const float* x, int64_t n, bool& suspect) { return plane_max(x, n, suspect); }
__attribute__((target("avx2,fma"))) float plane_max_avx2(const float* x, int64_t n, bool& suspect) {
  return plane_max(x, n, suspect);
}

struct PlaneLoops {
  double (*sum)(const float*, int64_t);
  float (*max)(const float*, int64_t, bool&);
};

PlaneLoops plane_loops() {
  if (kernels::active_isa() >= kernels::Isa::Avx2) return {plane_sum_avx2, plane_max_avx2};
  return {plane_sum_baseline, plane_max_baseline};
}

// ---- the general bins ----

// Window of one bin and the max over it, torch's rule: start at -inf with the
// bin's first position, replace when greater or NaN.
void max_over(const float* in, int64_t in_w, int64_t h0, int64_t h1, int64_t w0, int64_t w1, float& value,
              int64_t& index) {
  float best = -std::numeric_limits<float>::infinity();
  int64_t best_index = h0 * in_w + w0;
  for (int64_t h = h0; h < h1; ++h) {
    for (int64_t w = w0; w < w1; ++w) {
      const float v = in[h * in_w + w];
      if (v > best || std::isnan(v)) {
        best = v;
        best_index = h * in_w + w;
      }
    }
  }
  value = best;
  index = best_index;
}

void avg_plane(float* out, const float* in, const AdaptiveGeometry& g, const PlaneLoops& loops) {
  if (g.global()) {
    out[0] = static_cast<float>(loops.sum(in, g.in_plane()) / static_cast<double>(g.in_plane()));
    return;
  }
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const int64_t h0 = bin_start(oh, g.out_h, g.in_h), h1 = bin_end(oh, g.out_h, g.in_h);
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const int64_t w0 = bin_start(ow, g.out_w, g.in_w), w1 = bin_end(ow, g.out_w, g.in_w);
      double sum = 0.0;
      for (int64_t h = h0; h < h1; ++h) {
        for (int64_t w = w0; w < w1; ++w) sum += in[h * g.in_w + w];
      }
      out[oh * g.out_w + ow] = static_cast<float>(sum / static_cast<double>((h1 - h0) * (w1 - w0)));
    }
  }
}

void avg_plane_backward(float* grad_in, const float* grad_out, const AdaptiveGeometry& g) {
  if (g.global()) {
    std::fill(grad_in, grad_in + g.in_plane(), static_cast<float>(grad_out[0] / static_cast<double>(g.in_plane())));
    return;
  }
  std::fill(grad_in, grad_in + g.in_plane(), 0.0f);
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const int64_t h0 = bin_start(oh, g.out_h, g.in_h), h1 = bin_end(oh, g.out_h, g.in_h);
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const int64_t w0 = bin_start(ow, g.out_w, g.in_w), w1 = bin_end(ow, g.out_w, g.in_w);
      const float share =
          static_cast<float>(grad_out[oh * g.out_w + ow] / static_cast<double>((h1 - h0) * (w1 - w0)));
      for (int64_t h = h0; h < h1; ++h) {
        for (int64_t w = w0; w < w1; ++w) grad_in[h * g.in_w + w] += share;
      }
    }
  }
}

void max_plane(float* out, int64_t* indices, const float* in, const AdaptiveGeometry& g, const PlaneLoops& loops) {
  if (g.global()) {
    bool suspect = false;
    const float m = loops.max(in, g.in_plane(), suspect);
    if (!suspect) {
      // The first position holding the maximum (the vector pass only knows its value).
      int64_t i = 0;
      while (in[i] != m) ++i;
      out[0] = m;
      indices[0] = i;
      return;
    }
  }
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const int64_t h0 = bin_start(oh, g.out_h, g.in_h), h1 = bin_end(oh, g.out_h, g.in_h);
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const int64_t w0 = bin_start(ow, g.out_w, g.in_w), w1 = bin_end(ow, g.out_w, g.in_w);
      max_over(in, g.in_w, h0, h1, w0, w1, out[oh * g.out_w + ow], indices[oh * g.out_w + ow]);
    }
  }
}

void max_plane_backward(float* grad_in, const float* grad_out, const int64_t* indices, const AdaptiveGeometry& g) {
  std::fill(grad_in, grad_in + g.in_plane(), 0.0f);
  for (int64_t o = 0; o < g.out_plane(); ++o) grad_in[indices[o]] += grad_out[o];
}

// Checks the input and output size; `x4` is the (N, C, H, W) view.
AdaptiveGeometry resolve(const char* op, const Tensor& x4, const Tensor& input, const AdaptiveSize& size) {
  AK_CHECK(is_floating(x4.dtype()), op, ": expected a floating point input, got ", dtype_name(x4.dtype()));
  AK_CHECK(x4.size(1) > 0 && x4.size(2) > 0 && x4.size(3) > 0, op,
           ": expected an input with non-zero channel and spatial sizes, got shape ", shape_str(input.shape()));
  AdaptiveGeometry g{};
  g.planes = x4.size(0) * x4.size(1);
  g.in_h = x4.size(2);
  g.in_w = x4.size(3);
  g.out_h = size.h.value_or(g.in_h);
  g.out_w = size.w.value_or(g.in_w);
  AK_CHECK(g.out_h >= 0 && g.out_w >= 0, op, ": output_size must be non-negative, got ", size.repr());
  return g;
}

Tensor as_4d(const char* op, const Tensor& input) {
  AK_CHECK(input.defined(), op, ": input is undefined");
  AK_CHECK(input.dim() == 3 || input.dim() == 4, op, ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape ",
           shape_str(input.shape()));
  return input.dim() == 3 ? input.unsqueeze(0) : input;
}

Tensor from_4d(const Tensor& t, const Tensor& input) { return input.dim() == 3 ? t.squeeze(0) : t; }

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveSize& output_size) {
  const char* op = "adaptive_avg_pool2d";
  Tensor x4 = as_4d(op, input);
  const AdaptiveGeometry g = resolve(op, x4, input, output_size);
  Tensor xc = x4.detach().to(kFloat32).contiguous();
  Tensor out = empty({x4.size(0), x4.size(1), g.out_h, g.out_w}, kFloat32);
  const PlaneLoops loops = plane_loops();
  const float* in = xc.data<float>();
  float* po = out.data<float>();
  for_each_plane(g.planes, g.planes * g.in_plane(), [&](int64_t p) {
    avg_plane(po + p * g.out_plane(), in + p * g.in_plane(), g, loops);
  });
  if (autograd::needs_grad({&x4})) {
    const Shape in_shape = x4.shape();
    autograd::record(op, out, {x4}, [in_shape, g](const Tensor& grad, const std::vector<bool>&) {
      Tensor gc = grad.to(kFloat32).contiguous();
      Tensor dx = empty(in_shape, kFloat32);
      const float* go = gc.data<float>();
      float* gi = dx.data<float>();
      for_each_plane(g.planes, g.planes * g.in_plane(), [&](int64_t p) {
        avg_plane_backward(gi + p * g.in_plane(), go + p * g.out_plane(), g);
      });
      return std::vector<Tensor>{dx};
    });
  }
  return from_4d(out, input);
}

ValuesIndices adaptive_max_pool2d_with_indices(const Tensor& input, const AdaptiveSize& output_size) {
  const char* op = "adaptive_max_pool2d";
  Tensor x4 = as_4d(op, input);
  const AdaptiveGeometry g = resolve(op, x4, input, output_size);
  Tensor xc = x4.detach().to(kFloat32).contiguous();
  const Shape out_shape{x4.size(0), x4.size(1), g.out_h, g.out_w};
  Tensor out = empty(out_shape, kFloat32);
  Tensor indices = empty(out_shape, kInt64);
  const PlaneLoops loops = plane_loops();
  const float* in = xc.data<float>();
  float* po = out.data<float>();
  int64_t* pi = indices.data<int64_t>();
  for_each_plane(g.planes, g.planes * g.in_plane(), [&](int64_t p) {
    max_plane(po + p * g.out_plane(), pi + p * g.out_plane(), in + p * g.in_plane(), g, loops);
  });
  if (autograd::needs_grad({&x4})) {
    const Shape in_shape = x4.shape();
    autograd::record(op, out, {x4}, [in_shape, g, indices](const Tensor& grad, const std::vector<bool>&) {
      Tensor gc = grad.to(kFloat32).contiguous();
      Tensor dx = empty(in_shape, kFloat32);
      const float* go = gc.data<float>();
      const int64_t* id = indices.data<int64_t>();
      float* gi = dx.data<float>();
      for_each_plane(g.planes, g.planes * g.in_plane(), [&](int64_t p) {
        max_plane_backward(gi + p * g.in_plane(), go + p * g.out_plane(), id + p * g.out_plane(), g);
      });
      return std::vector<Tensor>{dx};
    });
  }
  return {from_4d(out, input), from_4d(indices, input)};
}

Tensor adaptive_max_pool2d(const Tensor& input, const AdaptiveSize& output_size) {
  return adaptive_max_pool2d_with_indices(input, output_size).values;
}

}  // namespace attnkit
