#include "kernels/grid_sample_reference.h"

#include <cmath>
#include <cstring>

namespace attnkit::kernels {

namespace {

// One spatial axis of the input (x: width, y: height): grid value -> source
// coordinate in pixels, and the derivative of that map.
struct SourceAxis {
  int64_t size;
  GridSamplePadding padding;
  bool align_corners;

  // d(coordinate) / d(grid value) before padding: the unnormalisation scale.
  float scale() const {
    return align_corners ? static_cast<float>(size - 1) / 2 : static_cast<float>(size) / 2;
  }

  // -1 -> centre of pixel 0 (align_corners) or its outer edge, -0.5 (not).
  float unnormalize(float g) const {
    return align_corners ? (g + 1) * scale() : (g + 1) * scale() - 0.5f;
  }

  // Clamp to [0, size - 1]; NaN goes to 0. The borders themselves count as
  // outside for the derivative (it is 0 there), as in PyTorch.
  float clip(float v, float* d) const {
    const float max_val = static_cast<float>(size - 1);
    if (v > 0 && v < max_val) {
      *d = 1;
      return v;
    }
    *d = 0;
    return v >= max_val ? max_val : 0.0f;
  }

  // Mirror v at the edges: at pixel centres 0 and size - 1 (align_corners) or
  // at the outer edges -0.5 and size - 0.5. The period is twice the span.
  float reflect(float v, float* d) const {
    if (align_corners && size <= 1) {
      *d = 0;
      return 0;
    }
    const float low = align_corners ? 0.0f : -0.5f;
    const float twice_span = align_corners ? static_cast<float>(size - 1) * 2 : static_cast<float>(size) * 2;
    const float t = v - low;
    const bool negative = t < 0;
    const float a = std::fabs(t);
    const float extra = a - std::trunc(a / twice_span) * twice_span;
    const float reflected = twice_span - extra;
    const bool flip = extra > reflected;
    *d = flip != negative ? -1.0f : 1.0f;
    return (flip ? reflected : extra) + low;
  }

  // The source coordinate of grid value g, padding applied, and its
  // derivative d(coordinate)/dg.
  float source(float g, float* d) const {
    float v = unnormalize(g);
    if (padding == GridSamplePadding::Zeros) {
      *d = scale();
      return v;
    }
    float d_reflect = 1;
    if (padding == GridSamplePadding::Reflection) v = reflect(v, &d_reflect);
    float d_clip;
    v = clip(v, &d_clip);
    *d = d_clip != 0 ? d_reflect * scale() : 0.0f;
    return v;
  }

  // Bicubic applies the padding to each tap, not to the sampled location.
  float pad_tap(float v) const {
    float ignored;
    if (padding == GridSamplePadding::Zeros) return v;
    if (padding == GridSamplePadding::Reflection) v = reflect(v, &ignored);
    return clip(v, &ignored);
  }

  // Whether a whole-numbered coordinate (possibly huge or NaN) is a pixel.
  bool contains(float v) const { return v >= 0 && v <= static_cast<float>(size - 1); }
};

// One (n, c) plane of a contiguous (N, C, H, W) tensor.
struct Plane {
  float* data;
  int64_t height, width;
  float read(float x, float y) const {  // 0 outside
    if (!(x >= 0 && x <= width - 1 && y >= 0 && y <= height - 1)) return 0.0f;
    return data[static_cast<int64_t>(y) * width + static_cast<int64_t>(x)];
  }
  void add(float x, float y, float value) const {  // nothing outside
    if (!(x >= 0 && x <= width - 1 && y >= 0 && y <= height - 1)) return;
    data[static_cast<int64_t>(y) * width + static_cast<int64_t>(x)] += value;
  }
};

// Cubic convolution weights of the taps at offsets -1, 0, 1, 2 from floor(x),
// t = x - floor(x) (Keys 1981, A = -0.75 as PyTorch), and their derivatives
// with respect to x.
constexpr float kCubicA = -0.75f;
void cubic_weights(float w[4], float t) {
  const float A = kCubicA;
  float x = t + 1;
  w[0] = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  x = t;
  w[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
  x = 1 - t;
  w[2] = ((A + 2) * x - (A + 3)) * x * x + 1;
  x = 2 - t;
  w[3] = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}
void cubic_weight_slopes(float w[4], float t) {
  const float A = kCubicA;
  float x = -1 - t;
  w[0] = (-3 * A * x - 10 * A) * x - 8 * A;
  x = -t;
  w[1] = (-3 * (A + 2) * x - 2 * (A + 3)) * x;
  x = 1 - t;
  w[2] = (3 * (A + 2) * x - 2 * (A + 3)) * x;
  x = 2 - t;
  w[3] = (3 * A * x - 10 * A) * x + 8 * A;
}

struct Geometry {
  SourceAxis x, y;
  int64_t in_plane, out_plane;
};

Geometry geometry(const GridSampleArgs& a) {
  return {{a.in_width, a.padding, a.align_corners},
          {a.in_height, a.padding, a.align_corners},
          a.in_height * a.in_width,
          a.out_height * a.out_width};
}

}  // namespace

void grid_sample_forward_reference(float* output, const GridSampleArgs& a) {
  const Geometry g = geometry(a);
  for (int64_t n = 0; n < a.batch; ++n) {
    for (int64_t p = 0; p < g.out_plane; ++p) {
      const float gx = a.grid[(n * g.out_plane + p) * 2], gy = a.grid[(n * g.out_plane + p) * 2 + 1];
      for (int64_t c = 0; c < a.channels; ++c) {
        const Plane in{const_cast<float*>(a.input) + (n * a.channels + c) * g.in_plane, a.in_height, a.in_width};
        float& out = output[(n * a.channels + c) * g.out_plane + p];
        float unused;
        if (a.mode == GridSampleMode::Bilinear) {
          const float x = g.x.source(gx, &unused), y = g.y.source(gy, &unused);
          const float x_w = std::floor(x), y_n = std::floor(y);
          const float w = x - x_w, e = 1 - w, nn = y - y_n, s = 1 - nn;
          out = in.read(x_w, y_n) * (s * e) + in.read(x_w + 1, y_n) * (s * w) + in.read(x_w, y_n + 1) * (nn * e) +
                in.read(x_w + 1, y_n + 1) * (nn * w);
        } else if (a.mode == GridSampleMode::Nearest) {
          const float x = std::nearbyint(g.x.source(gx, &unused)), y = std::nearbyint(g.y.source(gy, &unused));
          out = in.read(x, y);
        } else {
          const float x = g.x.unnormalize(gx), y = g.y.unnormalize(gy);
          const float x0 = std::floor(x), y0 = std::floor(y);
          float wx[4], wy[4];
          cubic_weights(wx, x - x0);
          cubic_weights(wy, y - y0);
          float value = 0;
          for (int j = 0; j < 4; ++j) {
            const float ty = g.y.pad_tap(y0 - 1 + j);
            float row = 0;
            for (int i = 0; i < 4; ++i) row += wx[i] * in.read(g.x.pad_tap(x0 - 1 + i), ty);
            value += wy[j] * row;
          }
          out = value;
        }
      }
    }
  }
}

void grid_sample_backward_reference(float* grad_input, float* grad_grid, const float* grad_output,
                                    const GridSampleArgs& a) {
  const Geometry g = geometry(a);
  if (grad_input) std::memset(grad_input, 0, sizeof(float) * a.batch * a.channels * g.in_plane);
  for (int64_t n = 0; n < a.batch; ++n) {
    for (int64_t p = 0; p < g.out_plane; ++p) {
      const float gx = a.grid[(n * g.out_plane + p) * 2], gy = a.grid[(n * g.out_plane + p) * 2 + 1];
      float dx = 0, dy = 0;  // d loss / d (source x, source y), summed over channels
      float x_scale = 0, y_scale = 0;
      for (int64_t c = 0; c < a.channels; ++c) {
        const int64_t plane = n * a.channels + c;
        const Plane in{const_cast<float*>(a.input) + plane * g.in_plane, a.in_height, a.in_width};
        const Plane gin{grad_input ? grad_input + plane * g.in_plane : nullptr, a.in_height, a.in_width};
        const float up = grad_output[plane * g.out_plane + p];
        if (a.mode == GridSampleMode::Bilinear) {
          const float x = g.x.source(gx, &x_scale), y = g.y.source(gy, &y_scale);
          const float x_w = std::floor(x), y_n = std::floor(y);
          const float w = x - x_w, e = 1 - w, nn = y - y_n, s = 1 - nn;
          if (grad_input) {
            gin.add(x_w, y_n, s * e * up);
            gin.add(x_w + 1, y_n, s * w * up);
            gin.add(x_w, y_n + 1, nn * e * up);
            gin.add(x_w + 1, y_n + 1, nn * w * up);
          }
          const float nw = in.read(x_w, y_n), ne = in.read(x_w + 1, y_n);
          const float sw = in.read(x_w, y_n + 1), se = in.read(x_w + 1, y_n + 1);
          // out = nw s e + ne s w + sw n e + se n w, with w = x - x_w, n = y - y_n.
          dx += ((ne - nw) * s + (se - sw) * nn) * up;
          dy += ((sw - nw) * e + (se - ne) * w) * up;
        } else if (a.mode == GridSampleMode::Nearest) {
          float unused;
          const float x = std::nearbyint(g.x.source(gx, &unused)), y = std::nearbyint(g.y.source(gy, &unused));
          if (grad_input) gin.add(x, y, up);
        } else {
          // Bicubic: the taps' padding is not differentiated (PyTorch's rule),
          // only the unnormalisation.
          const float x = g.x.unnormalize(gx), y = g.y.unnormalize(gy);
          x_scale = g.x.scale();
          y_scale = g.y.scale();
          const float x0 = std::floor(x), y0 = std::floor(y);
          float wx[4], wy[4], sx[4], sy[4];
          cubic_weights(wx, x - x0);
          cubic_weights(wy, y - y0);
          cubic_weight_slopes(sx, x - x0);
          cubic_weight_slopes(sy, y - y0);
          for (int i = 0; i < 4; ++i) {
            const float tx = g.x.pad_tap(x0 - 1 + i);
            for (int j = 0; j < 4; ++j) {
              const float ty = g.y.pad_tap(y0 - 1 + j);
              if (grad_input) gin.add(tx, ty, up * wx[i] * wy[j]);
              const float v = in.read(tx, ty);
              dx -= v * up * sx[i] * wy[j];
              dy -= v * up * sy[j] * wx[i];
            }
          }
        }
      }
      if (grad_grid) {
        const bool nearest = a.mode == GridSampleMode::Nearest;
        grad_grid[(n * g.out_plane + p) * 2] = nearest ? 0.0f : dx * x_scale;
        grad_grid[(n * g.out_plane + p) * 2 + 1] = nearest ? 0.0f : dy * y_scale;
      }
    }
  }
}

}  // namespace attnkit::kernels
