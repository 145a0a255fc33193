#include "kernels/conv_reference.h"

#include <algorithm>
#include <vector>

namespace attnkit::kernels {

namespace {

// Calls f(n, o, c, oy, ox, iy, ix, ky, kx) for every (output, kernel tap)
// pair whose input position lies inside the (unpadded) input; c runs over the
// input channels of o's group, and `c_local` is c's index inside that group.
// Forward and both backwards are this one loop with a different body.
template <typename F>
void for_each_tap(const ConvParams& p, F&& f) {
  const int64_t in_g = p.in_per_group(), out_g = p.out_per_group();
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t o = 0; o < p.out_channels; ++o) {
      const int64_t group = o / out_g;
      for (int64_t oy = 0; oy < p.output[0]; ++oy) {
        for (int64_t ox = 0; ox < p.output[1]; ++ox) {
          for (int64_t c_local = 0; c_local < in_g; ++c_local) {
            const int64_t c = group * in_g + c_local;
            for (int64_t ky = 0; ky < p.kernel[0]; ++ky) {
              const int64_t iy = oy * p.stride[0] + ky * p.dilation[0] - p.pad_begin[0];
              if (iy < 0 || iy >= p.input[0]) continue;
              for (int64_t kx = 0; kx < p.kernel[1]; ++kx) {
                const int64_t ix = ox * p.stride[1] + kx * p.dilation[1] - p.pad_begin[1];
                if (ix < 0 || ix >= p.input[1]) continue;
                f(n, o, c, c_local, oy, ox, iy, ix, ky, kx);
              }
            }
          }
        }
      }
    }
  }
}

struct Offsets {
  const ConvParams& p;
  int64_t in(int64_t n, int64_t c, int64_t y, int64_t x) const {
    return ((n * p.in_channels + c) * p.input[0] + y) * p.input[1] + x;
  }
  int64_t out(int64_t n, int64_t o, int64_t y, int64_t x) const {
    return ((n * p.out_channels + o) * p.output[0] + y) * p.output[1] + x;
  }
  int64_t weight(int64_t o, int64_t c_local, int64_t ky, int64_t kx) const {
    return ((o * p.in_per_group() + c_local) * p.kernel[0] + ky) * p.kernel[1] + kx;
  }
};

int64_t numel_in(const ConvParams& p) { return p.batch * p.in_channels * p.input[0] * p.input[1]; }
int64_t numel_out(const ConvParams& p) { return p.batch * p.out_channels * p.output[0] * p.output[1]; }
int64_t numel_weight(const ConvParams& p) { return p.out_channels * p.in_per_group() * p.kernel_numel(); }

}  // namespace

void conv_forward_reference(float* out, const float* in, const float* weight, const float* bias,
                            const ConvParams& p) {
  const Offsets at{p};
  std::vector<double> acc(static_cast<size_t>(numel_out(p)), 0.0);
  for_each_tap(p, [&](int64_t n, int64_t o, int64_t c, int64_t c_local, int64_t oy, int64_t ox, int64_t iy,
                      int64_t ix, int64_t ky, int64_t kx) {
    acc[at.out(n, o, oy, ox)] += double(in[at.in(n, c, iy, ix)]) * weight[at.weight(o, c_local, ky, kx)];
  });
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t o = 0; o < p.out_channels; ++o) {
      for (int64_t y = 0; y < p.output[0]; ++y) {
        for (int64_t x = 0; x < p.output[1]; ++x) {
          const int64_t i = at.out(n, o, y, x);
          out[i] = static_cast<float>(acc[i] + (bias ? bias[o] : 0.0));
        }
      }
    }
  }
}

void conv_backward_data_reference(float* d_in, const float* d_out, const float* weight, const ConvParams& p) {
  const Offsets at{p};
  std::vector<double> acc(static_cast<size_t>(numel_in(p)), 0.0);
  for_each_tap(p, [&](int64_t n, int64_t o, int64_t c, int64_t c_local, int64_t oy, int64_t ox, int64_t iy,
                      int64_t ix, int64_t ky, int64_t kx) {
    acc[at.in(n, c, iy, ix)] += double(d_out[at.out(n, o, oy, ox)]) * weight[at.weight(o, c_local, ky, kx)];
  });
  std::transform(acc.begin(), acc.end(), d_in, [](double v) { return static_cast<float>(v); });
}

void conv_backward_weights_reference(float* d_weight, float* d_bias, const float* d_out, const float* in,
                                     const ConvParams& p) {
  const Offsets at{p};
  if (d_weight) {
    std::vector<double> acc(static_cast<size_t>(numel_weight(p)), 0.0);
    for_each_tap(p, [&](int64_t n, int64_t o, int64_t c, int64_t c_local, int64_t oy, int64_t ox, int64_t iy,
                        int64_t ix, int64_t ky, int64_t kx) {
      acc[at.weight(o, c_local, ky, kx)] += double(d_out[at.out(n, o, oy, ox)]) * in[at.in(n, c, iy, ix)];
    });
    std::transform(acc.begin(), acc.end(), d_weight, [](double v) { return static_cast<float>(v); });
  }
  if (d_bias) {
    for (int64_t o = 0; o < p.out_channels; ++o) {
      double sum = 0.0;
      for (int64_t n = 0; n < p.batch; ++n) {
        for (int64_t y = 0; y < p.output[0]; ++y) {
          for (int64_t x = 0; x < p.output[1]; ++x) sum += d_out[at.out(n, o, y, x)];
        }
      }
      d_bias[o] = static_cast<float>(sum);
    }
  }
}

}  // namespace attnkit::kernels
