#include "attnkit/ops/pooling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "attnkit/core/autograd.h"

namespace attnkit {

std::string IntPair::repr() const {
  if (single) return std::to_string(h);
  std::string out("(");
  out.append(std::to_string(h)).append(", ").append(std::to_string(w)).append(")");
  return out;
}

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

int64_t pooled_size(int64_t input, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode) {
  int64_t out = floor_div(input + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  // A last window that would start in the right padding (or past it) is dropped.
  if (ceil_mode && (out - 1) * stride >= input + pad) --out;
  return std::max<int64_t>(out, 0);
}

namespace {

// One pooling call, resolved: the input seen as (planes, H, W) contiguous,
// planes = N * C, and the window geometry per dim.
struct PoolGeometry {
  int64_t planes, in_h, in_w, out_h, out_w;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t in_plane() const { return in_h * in_w; }
  int64_t out_plane() const { return out_h * out_w; }
};

// What a call names in its errors: the op, and whether it is the 1-d form
// (whose arguments are the W halves of the pairs, printed as plain ints).
struct PoolCall {
  const char* op;
  bool one_d;
  std::string show(const IntPair& p) const { return one_d ? std::to_string(p.w) : IntPair(p.h, p.w).repr(); }
};

// Checks the arguments as torch does and resolves the geometry. `x` is the
// 4-d (N, C, H, W) view; `original` the shape the caller passed.
PoolGeometry resolve(const PoolCall& call, const Tensor& x, const Shape& original, IntPair kernel,
                     std::optional<IntPair> stride_arg, IntPair padding, IntPair dilation, bool ceil_mode) {
  const char* op = call.op;
  AK_CHECK(is_floating(x.dtype()), op, ": expected a floating point input, got ", dtype_name(x.dtype()));
  AK_CHECK(x.size(1) > 0 && x.size(2) > 0 && x.size(3) > 0, op,
           ": expected an input with non-zero channel and spatial sizes, got shape ", shape_str(original));
  const IntPair stride = stride_arg.value_or(kernel);
  AK_CHECK(kernel.h > 0 && kernel.w > 0, op, ": kernel_size must be positive, got ", call.show(kernel));
  AK_CHECK(stride.h > 0 && stride.w > 0, op, ": stride must be positive, got ", call.show(stride));
  AK_CHECK(dilation.h > 0 && dilation.w > 0, op, ": dilation must be positive, got ", call.show(dilation));
  AK_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ", call.show(padding));
  AK_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, op,
           ": padding must be at most half of kernel_size, got padding ", call.show(padding), " for kernel_size ",
           call.show(kernel));
  PoolGeometry g{};
  g.planes = x.size(0) * x.size(1);
  g.in_h = x.size(2);
  g.in_w = x.size(3);
  g.kh = kernel.h, g.kw = kernel.w, g.sh = stride.h, g.sw = stride.w;
  g.ph = padding.h, g.pw = padding.w, g.dh = dilation.h, g.dw = dilation.w;
  g.out_h = pooled_size(g.in_h, g.kh, g.sh, g.ph, g.dh, ceil_mode);
  g.out_w = pooled_size(g.in_w, g.kw, g.sw, g.pw, g.dw, ceil_mode);
  AK_CHECK(g.out_h >= 1 && g.out_w >= 1, op, ": kernel_size ", call.show(kernel), " with dilation ",
           call.show(dilation), " is larger than the padded input (input of shape ", shape_str(original),
           ", padding ", call.show(padding), "): the output would be empty");
  return g;
}

// body(plane) for every (n, c) plane, over the threads when there is enough work.
template <typename Body>
void for_each_plane(int64_t planes, int64_t work, Body body) {
#pragma omp parallel for schedule(static) if (planes > 1 && work > (1 << 14))
  for (int64_t p = 0; p < planes; ++p) body(p);
}

// ---- max pooling ----

// One plane. Window (oh, ow) covers rows oh*sh - ph + i*dh, i < kh, clipped to
// the input; the maximum starts at -inf at the window's first valid position,
// and a later element replaces it when greater, or when it is NaN (torch's
// rule, so NaN propagates and ties keep the first).
void max_pool_plane(float* out, int64_t* indices, const float* in, const PoolGeometry& g) {
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    int64_t h0 = oh * g.sh - g.ph;
    const int64_t h1 = std::min(h0 + (g.kh - 1) * g.dh + 1, g.in_h);
    while (h0 < 0) h0 += g.dh;
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      int64_t w0 = ow * g.sw - g.pw;
      const int64_t w1 = std::min(w0 + (g.kw - 1) * g.dw + 1, g.in_w);
      while (w0 < 0) w0 += g.dw;
      float best = -std::numeric_limits<float>::infinity();
      int64_t best_index = h0 * g.in_w + w0;
      for (int64_t h = h0; h < h1; h += g.dh) {
        for (int64_t w = w0; w < w1; w += g.dw) {
          const float v = in[h * g.in_w + w];
          if (v > best || std::isnan(v)) {
            best = v;
            best_index = h * g.in_w + w;
          }
        }
      }
      out[oh * g.out_w + ow] = best;
      indices[oh * g.out_w + ow] = best_index;
    }
  }
}

// Gradient of one plane: each output's gradient added at its argmax. (A window
// lying wholly in the padding has an index outside the plane: it takes no
// input, so it passes no gradient.)
void max_pool_plane_backward(float* grad_in, const float* grad_out, const int64_t* indices, int64_t in_plane,
                             int64_t out_plane) {
  std::fill(grad_in, grad_in + in_plane, 0.0f);
  for (int64_t o = 0; o < out_plane; ++o) {
    const int64_t i = indices[o];
    if (i >= 0 && i < in_plane) grad_in[i] += grad_out[o];
  }
}

// (N, C, H, W) -> values and indices, with the backward recorded on `x4`.
ValuesIndices max_pool4d(const Tensor& x4, const PoolGeometry& g) {
  Tensor xc = x4.detach().to(kFloat32).contiguous();
  const Shape out_shape{x4.size(0), x4.size(1), g.out_h, g.out_w};
  Tensor out = empty(out_shape, kFloat32);
  Tensor indices = empty(out_shape, kInt64);
  const float* in = xc.data<float>();
  float* o = out.data<float>();
  int64_t* idx = indices.data<int64_t>();
  for_each_plane(g.planes, g.planes * g.out_plane() * g.kh * g.kw, [&](int64_t p) {
    max_pool_plane(o + p * g.out_plane(), idx + p * g.out_plane(), in + p * g.in_plane(), g);
  });
  if (autograd::needs_grad({&x4})) {
    const Shape in_shape = x4.shape();
    autograd::record("max_pool2d", out, {x4}, [indices, in_shape, g](const Tensor& grad, const std::vector<bool>&) {
      Tensor gc = grad.to(kFloat32).contiguous();
      Tensor dx = empty(in_shape, kFloat32);
      const float* go = gc.data<float>();
      const int64_t* id = indices.data<int64_t>();
      float* gi = dx.data<float>();
      for_each_plane(g.planes, g.planes * (g.in_plane() + g.out_plane()), [&](int64_t p) {
        max_pool_plane_backward(gi + p * g.in_plane(), go + p * g.out_plane(), id + p * g.out_plane(),
                                g.in_plane(), g.out_plane());
      });
      return std::vector<Tensor>{dx};
    });
  }
  return {out, indices};
}

// ---- average pooling ----

struct AvgOptions {
  bool count_include_pad;
  std::optional<int64_t> divisor_override;
};

// The rows [h0, h1) and columns [w0, w1) of window (oh, ow) inside the input,
// and what its sum is divided by (0 for a window with no input element).
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  double divisor;
};

// torch's rule: the window clipped to the padded input gives the size that
// counts padding; clipped to the input, the elements summed.
AvgWindow avg_window(const PoolGeometry& g, const AvgOptions& o, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, g.in_h + g.ph), w1 = std::min(w0 + g.kw, g.in_w + g.pw);
  const int64_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.in_h), w1 = std::min(w1, g.in_w);
  if (h0 >= h1 || w0 >= w1) return {h0, h0, w0, w0, 0.0};
  const int64_t divisor = o.divisor_override ? *o.divisor_override
                                             : (o.count_include_pad ? padded_size : (h1 - h0) * (w1 - w0));
  return {h0, h1, w0, w1, static_cast<double>(divisor)};
}

void avg_pool_plane(float* out, const float* in, const PoolGeometry& g, const AvgOptions& o) {
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const AvgWindow win = avg_window(g, o, oh, ow);
      double sum = 0.0;
      for (int64_t h = win.h0; h < win.h1; ++h) {
        for (int64_t w = win.w0; w < win.w1; ++w) sum += in[h * g.in_w + w];
      }
      out[oh * g.out_w + ow] = win.divisor == 0.0 ? 0.0f : static_cast<float>(sum / win.divisor);
    }
  }
}

void avg_pool_plane_backward(float* grad_in, const float* grad_out, const PoolGeometry& g, const AvgOptions& o) {
  std::fill(grad_in, grad_in + g.in_plane(), 0.0f);
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const AvgWindow win = avg_window(g, o, oh, ow);
      if (win.divisor == 0.0) continue;
      const float share = static_cast<float>(grad_out[oh * g.out_w + ow] / win.divisor);
      for (int64_t h = win.h0; h < win.h1; ++h) {
        for (int64_t w = win.w0; w < win.w1; ++w) grad_in[h * g.in_w + w] += share;
      }
    }
  }
}

Tensor avg_pool4d(const Tensor& x4, const PoolGeometry& g, const AvgOptions& o) {
  Tensor xc = x4.detach().to(kFloat32).contiguous();
  Tensor out = empty({x4.size(0), x4.size(1), g.out_h, g.out_w}, kFloat32);
  const float* in = xc.data<float>();
  float* po = out.data<float>();
  for_each_plane(g.planes, g.planes * g.out_plane() * g.kh * g.kw, [&](int64_t p) {
    avg_pool_plane(po + p * g.out_plane(), in + p * g.in_plane(), g, o);
  });
  if (autograd::needs_grad({&x4})) {
    const Shape in_shape = x4.shape();
    autograd::record("avg_pool2d", out, {x4}, [in_shape, g, o](const Tensor& grad, const std::vector<bool>&) {
      Tensor gc = grad.to(kFloat32).contiguous();
      Tensor dx = empty(in_shape, kFloat32);
      const float* go = gc.data<float>();
      float* gi = dx.data<float>();
      for_each_plane(g.planes, g.planes * g.out_plane() * g.kh * g.kw, [&](int64_t p) {
        avg_pool_plane_backward(gi + p * g.in_plane(), go + p * g.out_plane(), g, o);
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

// ---- ranks: batched or not, 2-d or 1-d ----

// The (N, C, H, W) view of a 2-d pooling input: (C, H, W) gains N = 1.
Tensor as_4d(const PoolCall& call, const Tensor& input) {
  AK_CHECK(input.defined(), call.op, ": input is undefined");
  AK_CHECK(input.dim() == 3 || input.dim() == 4, call.op,
           ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape ", shape_str(input.shape()));
  return input.dim() == 3 ? input.unsqueeze(0) : input;
}

// The (N, C, 1, L) view of a 1-d pooling input: (C, L) gains N = 1.
Tensor as_4d_1d(const PoolCall& call, const Tensor& input) {
  AK_CHECK(input.defined(), call.op, ": input is undefined");
  AK_CHECK(input.dim() == 2 || input.dim() == 3, call.op,
           ": expected a 2-D (C, L) or 3-D (N, C, L) input, got shape ", shape_str(input.shape()));
  Tensor x3 = input.dim() == 2 ? input.unsqueeze(0) : input;
  return x3.unsqueeze(2);
}

// Back to the caller's rank from the 4-d result.
Tensor from_4d(const Tensor& t, const Tensor& input, bool one_d) {
  Tensor r = one_d ? t.squeeze(2) : t;
  const int64_t batched_rank = one_d ? 3 : 4;
  return input.dim() < batched_rank ? r.squeeze(0) : r;
}

ValuesIndices max_pool(const PoolCall& call, const Tensor& input, IntPair kernel, std::optional<IntPair> stride,
                       IntPair padding, IntPair dilation, bool ceil_mode) {
  Tensor x4 = call.one_d ? as_4d_1d(call, input) : as_4d(call, input);
  const PoolGeometry g = resolve(call, x4, input.shape(), kernel, stride, padding, dilation, ceil_mode);
  ValuesIndices r = max_pool4d(x4, g);
  return {from_4d(r.values, input, call.one_d), from_4d(r.indices, input, call.one_d)};
}

Tensor avg_pool(const PoolCall& call, const Tensor& input, IntPair kernel, std::optional<IntPair> stride,
                IntPair padding, bool ceil_mode, const AvgOptions& options) {
  Tensor x4 = call.one_d ? as_4d_1d(call, input) : as_4d(call, input);
  const PoolGeometry g = resolve(call, x4, input.shape(), kernel, stride, padding, 1, ceil_mode);
  AK_CHECK(!options.divisor_override || *options.divisor_override != 0, call.op,
           ": divisor_override must not be zero");
  return from_4d(avg_pool4d(x4, g, options), input, call.one_d);
}

// The 1-d arguments as the W halves of 2-d pairs (H: kernel 1, stride 1, no padding).
IntPair along_w(int64_t v, int64_t h_value) { return IntPair(h_value, v); }

}  // namespace

ValuesIndices max_pool2d_with_indices(const Tensor& input, IntPair kernel_size, std::optional<IntPair> stride,
                                      IntPair padding, IntPair dilation, bool ceil_mode) {
  return max_pool({"max_pool2d", false}, input, kernel_size, stride, padding, dilation, ceil_mode);
}

Tensor max_pool2d(const Tensor& input, IntPair kernel_size, std::optional<IntPair> stride, IntPair padding,
                  IntPair dilation, bool ceil_mode) {
  return max_pool({"max_pool2d", false}, input, kernel_size, stride, padding, dilation, ceil_mode).values;
}

Tensor avg_pool2d(const Tensor& input, IntPair kernel_size, std::optional<IntPair> stride, IntPair padding,
                  bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
  return avg_pool({"avg_pool2d", false}, input, kernel_size, stride, padding, ceil_mode,
                  {count_include_pad, divisor_override});
}

ValuesIndices max_pool1d_with_indices(const Tensor& input, int64_t kernel_size, std::optional<int64_t> stride,
                                      int64_t padding, int64_t dilation, bool ceil_mode) {
  std::optional<IntPair> stride2;
  if (stride) stride2 = along_w(*stride, 1);
  return max_pool({"max_pool1d", true}, input, along_w(kernel_size, 1), stride2, along_w(padding, 0),
                  along_w(dilation, 1), ceil_mode);
}

Tensor max_pool1d(const Tensor& input, int64_t kernel_size, std::optional<int64_t> stride, int64_t padding,
                  int64_t dilation, bool ceil_mode) {
  return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode).values;
}

Tensor avg_pool1d(const Tensor& input, int64_t kernel_size, std::optional<int64_t> stride, int64_t padding,
                  bool ceil_mode, bool count_include_pad) {
  std::optional<IntPair> stride2;
  if (stride) stride2 = along_w(*stride, 1);
  return avg_pool({"avg_pool1d", true}, input, along_w(kernel_size, 1), stride2, along_w(padding, 0), ceil_mode,
                  {count_include_pad, std::nullopt});
}

}  // namespace attnkit
