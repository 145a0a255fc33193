#include "attnkit/ops/upsample.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/adaptive_pooling.h"

namespace attnkit {

namespace {

enum class Mode { Nearest, NearestExact, Linear, Area };

// Along one dim, for the linear modes: the two input neighbours of an output
// index and their weights.
struct LinearTap {
  int64_t i0, i1;
  float w0, w1;
};

// torch's compute_scales_value<float>: 1 / scale_factor when one was given
// (and is kept; 0 = none), else input / output, both rounded to float.
float index_scale(double scale, int64_t in, int64_t out) {
  if (scale > 0.0) return static_cast<float>(1.0 / scale);
  return static_cast<float>(in) / static_cast<float>(out);
}

// `shortcuts`: the same size copies and twice the size takes o / 2, whatever
// the scale factor (torch's 2-d nearest kernel; its 1-d one has none).
std::vector<int64_t> nearest_map(int64_t in, int64_t out, double scale, Mode mode, bool shortcuts) {
  std::vector<int64_t> src(static_cast<size_t>(out));
  const float s = index_scale(scale, in, out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t i;
    if (mode == Mode::NearestExact) {
      // (o + 0.5) * s is evaluated in double and rounded to float before the floor, as in torch.
      i = static_cast<int64_t>(std::floor(static_cast<float>((static_cast<double>(o) + 0.5) * s)));
    } else if (shortcuts && out == in) {
      i = o;
    } else if (shortcuts && out == 2 * in) {
      i = o >> 1;
    } else {
      i = static_cast<int64_t>(std::floor(static_cast<float>(o) * s));
    }
    src[static_cast<size_t>(o)] = std::min(i, in - 1);
  }
  return src;
}

std::vector<LinearTap> linear_map(int64_t in, int64_t out, double scale, bool align_corners) {
  std::vector<LinearTap> taps(static_cast<size_t>(out));
  float ratio;
  if (align_corners) {
    ratio = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
  } else {
    ratio = index_scale(scale, in, out);
  }
  for (int64_t o = 0; o < out; ++o) {
    LinearTap& t = taps[static_cast<size_t>(o)];
    if (out == in) {  // an unchanged size copies, whatever the scale factor
      t = {o, o, 1.0f, 0.0f};
      continue;
    }
    // torch's build contracts scale * (o + 0.5) - 0.5 into one fused multiply-add;
    // rounding once as it does keeps the neighbours and weights bit-identical.
    const float of = static_cast<float>(o);
    float real = align_corners ? ratio * of : std::fma(ratio, of + 0.5f, -0.5f);
    if (!align_corners && real < 0.0f) real = 0.0f;
    t.i0 = std::min(static_cast<int64_t>(std::floor(real)), in - 1);
    t.w1 = std::min(std::max(real - static_cast<float>(t.i0), 0.0f), 1.0f);
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    t.w0 = 1.0f - t.w1;
  }
  return taps;
}

// The resolved call on the (planes, H, W) view (H = 1 for 3-D inputs).
struct ResizeGeometry {
  int64_t planes, in_h, in_w, out_h, out_w;
  int64_t in_plane() const { return in_h * in_w; }
  int64_t out_plane() const { return out_h * out_w; }
};

template <typename Body>
void for_each_plane(int64_t planes, int64_t work, Body body) {
#pragma omp parallel for schedule(static) if (planes > 1 && work > (1 << 14))
  for (int64_t p = 0; p < planes; ++p) body(p);
}

// ---- nearest ----

struct NearestMaps {
  std::vector<int64_t> h, w;
};

void nearest_plane(float* out, const float* in, const ResizeGeometry& g, const NearestMaps& m) {
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const float* row = in + m.h[static_cast<size_t>(oh)] * g.in_w;
    float* o = out + oh * g.out_w;
    for (int64_t ow = 0; ow < g.out_w; ++ow) o[ow] = row[m.w[static_cast<size_t>(ow)]];
  }
}

void nearest_plane_backward(float* grad_in, const float* grad_out, const ResizeGeometry& g, const NearestMaps& m) {
  std::fill(grad_in, grad_in + g.in_plane(), 0.0f);
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    float* row = grad_in + m.h[static_cast<size_t>(oh)] * g.in_w;
    const float* go = grad_out + oh * g.out_w;
    for (int64_t ow = 0; ow < g.out_w; ++ow) row[m.w[static_cast<size_t>(ow)]] += go[ow];
  }
}

// ---- bilinear ----

struct LinearMaps {
  std::vector<LinearTap> h, w;
};

// out = (x[h0, w0] w0 + x[h0, w1] w1) h0 + (x[h1, w0] w0 + x[h1, w1] w1) h1 — the
// order of torch's separable kernel, so the roundings agree.
void linear_plane(float* out, const float* in, const ResizeGeometry& g, const LinearMaps& m) {
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const LinearTap th = m.h[static_cast<size_t>(oh)];
    const float* r0 = in + th.i0 * g.in_w;
    const float* r1 = in + th.i1 * g.in_w;
    float* o = out + oh * g.out_w;
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const LinearTap tw = m.w[static_cast<size_t>(ow)];
      const float t0 = r0[tw.i0] * tw.w0 + r0[tw.i1] * tw.w1;
      const float t1 = r1[tw.i0] * tw.w0 + r1[tw.i1] * tw.w1;
      o[ow] = t0 * th.w0 + t1 * th.w1;
    }
  }
}

void linear_plane_backward(float* grad_in, const float* grad_out, const ResizeGeometry& g, const LinearMaps& m) {
  std::fill(grad_in, grad_in + g.in_plane(), 0.0f);
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const LinearTap th = m.h[static_cast<size_t>(oh)];
    float* r0 = grad_in + th.i0 * g.in_w;
    float* r1 = grad_in + th.i1 * g.in_w;
    const float* go = grad_out + oh * g.out_w;
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const LinearTap tw = m.w[static_cast<size_t>(ow)];
      const float g0 = go[ow] * th.w0, g1 = go[ow] * th.w1;
      r0[tw.i0] += g0 * tw.w0;
      r0[tw.i1] += g0 * tw.w1;
      r1[tw.i0] += g1 * tw.w0;
      r1[tw.i1] += g1 * tw.w1;
    }
  }
}

// Runs `plane` over every plane of x4 (N, C, H, W) and records
// `plane_backward` as the backward (it keeps its own copy of the index maps).
template <typename Forward, typename Backward>
Tensor resize4d(const char* name, const Tensor& x4, const ResizeGeometry& g, Forward plane, Backward plane_backward) {
  Tensor xc = x4.detach().to(kFloat32).contiguous();
  Tensor out = empty({x4.size(0), x4.size(1), g.out_h, g.out_w}, kFloat32);
  const float* in = xc.data<float>();
  float* po = out.data<float>();
  for_each_plane(g.planes, g.planes * (g.out_plane() + g.in_plane()), [&](int64_t p) {
    plane(po + p * g.out_plane(), in + p * g.in_plane());
  });
  if (autograd::needs_grad({&x4})) {
    const Shape in_shape = x4.shape();
    autograd::record(name, out, {x4}, [in_shape, g, plane_backward](const Tensor& grad, const std::vector<bool>&) {
      Tensor gc = grad.to(kFloat32).contiguous();
      Tensor dx = empty(in_shape, kFloat32);
      const float* go = gc.data<float>();
      float* gi = dx.data<float>();
      for_each_plane(g.planes, g.planes * (g.out_plane() + g.in_plane()), [&](int64_t p) {
        plane_backward(gi + p * g.in_plane(), go + p * g.out_plane());
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

// ---- argument checks ----

std::optional<Mode> parse_mode(const std::string& mode, int64_t spatial) {
  if (mode == "nearest") return Mode::Nearest;
  if (mode == "nearest-exact") return Mode::NearestExact;
  if (mode == "area") return Mode::Area;
  if ((mode == "bilinear" && spatial == 2) || (mode == "linear" && spatial == 1)) return Mode::Linear;
  return std::nullopt;
}

template <typename T>
std::string list_str(const std::vector<T>& values) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  out << (values.size() == 1 ? ",)" : ")");
  return out.str();
}

}  // namespace

Tensor interpolate(const Tensor& input, const InterpolateOptions& o) {
  AK_CHECK(input.defined(), "interpolate: input is undefined");
  AK_CHECK(input.dim() == 3 || input.dim() == 4,
           "interpolate: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape ", shape_str(input.shape()));
  AK_CHECK(is_floating(input.dtype()), "interpolate: expected a floating point input, got ",
           dtype_name(input.dtype()));
  const int64_t spatial = input.dim() - 2;
  const std::optional<Mode> mode = parse_mode(o.mode, spatial);
  if (!mode) {
    AK_CHECK(o.mode != "bilinear", "interpolate: mode 'bilinear' needs a 4-D input (N, C, H, W), got shape ",
             shape_str(input.shape()));
    AK_CHECK(o.mode != "linear", "interpolate: mode 'linear' needs a 3-D input (N, C, L), got shape ",
             shape_str(input.shape()));
    AK_CHECK(false, "interpolate: mode must be 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' (4-D) or ",
             "'area', got '", o.mode, "'");
  }
  AK_CHECK(!o.align_corners || *mode == Mode::Linear,
           "interpolate: align_corners can only be set with the interpolating modes 'linear' and 'bilinear', "
           "got mode '", o.mode, "'");
  const bool has_size = !o.size.empty(), has_scale = !o.scale_factor.empty();
  AK_CHECK(!(has_size && has_scale), "interpolate: only one of size and scale_factor may be given");
  AK_CHECK(has_size || has_scale, "interpolate: either size or scale_factor must be given");
  AK_CHECK(!(has_size && o.recompute_scale_factor.value_or(false)),
           "interpolate: recompute_scale_factor is not meaningful with an explicit size");
  const size_t given = has_size ? o.size.size() : o.scale_factor.size();
  AK_CHECK(given == 1 || given == static_cast<size_t>(spatial), "interpolate: ", has_size ? "size" : "scale_factor",
           " must hold one value or one per spatial dim (", spatial, ") of the input of shape ",
           shape_str(input.shape()), ", got ", has_size ? list_str(o.size) : list_str(o.scale_factor));
  for (int64_t d = 1; d < input.dim(); ++d) {
    AK_CHECK(input.size(d) > 0, "interpolate: expected an input with non-zero channel and spatial sizes, got shape ",
             shape_str(input.shape()));
  }

  // Output sizes, and the scale factors the index maps use (kept only when
  // given and not recomputed; "area" always recomputes; 0 = none).
  std::vector<int64_t> out_size(static_cast<size_t>(spatial));
  std::vector<double> scales(static_cast<size_t>(spatial), 0.0);
  const bool keep_scales = has_scale && !o.recompute_scale_factor.value_or(false) && *mode != Mode::Area;
  for (int64_t d = 0; d < spatial; ++d) {
    const size_t k = given == 1 ? 0 : static_cast<size_t>(d);
    const int64_t in = input.size(2 + d);
    if (has_size) {
      out_size[static_cast<size_t>(d)] = o.size[k];
    } else {
      const double s = o.scale_factor[k];
      AK_CHECK(std::isfinite(s), "interpolate: scale_factor must be finite, got ", s);
      out_size[static_cast<size_t>(d)] = static_cast<int64_t>(std::floor(static_cast<double>(in) * s));
      if (keep_scales) scales[static_cast<size_t>(d)] = s;
    }
  }
  for (int64_t v : out_size) {
    // "area" is adaptive pooling, which gives an empty result for size 0 (as torch).
    AK_CHECK(v > 0 || (v == 0 && *mode == Mode::Area), "interpolate: the output size must be positive",
             *mode == Mode::Area ? " or zero (mode 'area')" : "", ", got ", list_str(out_size), " for input of shape ",
             shape_str(input.shape()));
  }

  // The (N, C, H, W) view; a 3-D input gains H = 1 (output 1, scale none).
  Tensor x4 = spatial == 1 ? input.unsqueeze(2) : input;
  const int64_t out_h = spatial == 1 ? 1 : out_size[0];
  const int64_t out_w = out_size.back();
  const double scale_h = spatial == 1 ? 0.0 : scales[0];
  const double scale_w = scales.back();
  const ResizeGeometry g{x4.size(0) * x4.size(1), x4.size(2), x4.size(3), out_h, out_w};

  Tensor out;
  switch (*mode) {
    case Mode::Area:
      out = adaptive_avg_pool2d(x4, AdaptiveSize(out_h, out_w));
      break;
    case Mode::Nearest:
    case Mode::NearestExact: {
      const bool shortcuts = spatial == 2;
      const NearestMaps maps{nearest_map(g.in_h, g.out_h, scale_h, *mode, shortcuts),
                             nearest_map(g.in_w, g.out_w, scale_w, *mode, shortcuts)};
      const char* name = *mode == Mode::Nearest ? "upsample_nearest" : "upsample_nearest_exact";
      out = resize4d(
          name, x4, g, [&g, &maps](float* po, const float* pi) { nearest_plane(po, pi, g, maps); },
          [g, maps](float* gi, const float* go) { nearest_plane_backward(gi, go, g, maps); });
      break;
    }
    case Mode::Linear: {
      const bool align = o.align_corners.value_or(false);
      const LinearMaps maps{linear_map(g.in_h, g.out_h, scale_h, align), linear_map(g.in_w, g.out_w, scale_w, align)};
      out = resize4d(
          "upsample_linear", x4, g, [&g, &maps](float* po, const float* pi) { linear_plane(po, pi, g, maps); },
          [g, maps](float* gi, const float* go) { linear_plane_backward(gi, go, g, maps); });
      break;
    }
  }
  return spatial == 1 ? out.squeeze(2) : out;
}

}  // namespace attnkit
