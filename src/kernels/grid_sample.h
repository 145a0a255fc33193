#pragma once
// Grid sampling (the sampler of Spatial Transformer Networks, Jaderberg et
// al. 2015, §3.3), as torch.nn.functional.grid_sample on 4-D inputs.
//
// For every output pixel (n, h, w) the grid holds a location (x, y) in the
// input, normalised so that -1 and +1 are the input's extreme edges (the
// outer edges of the corner pixels, or their centres with align_corners).
// The location is unnormalised to pixel coordinates, moved inside the input
// by the padding rule (border: clamp; reflection: mirror at the edges, then
// clamp), and the input is interpolated there, channel by channel:
//   bilinear  the 4 neighbours weighted by the opposite areas;
//   nearest   the nearest pixel, ties to even (nearbyint);
//   bicubic   the 4x4 neighbours with the cubic convolution kernel (A = -0.75),
//             the padding rule applied to each tap.
// With padding zeros, neighbours outside the input read as 0.
//
// Non-finite grid values behave as in PyTorch's CPU kernel (the rules are
// listed in attnkit/ops/grid_sample.h); where PyTorch's bilinear backward
// reads out of bounds (a NaN coordinate with border / reflection padding),
// the coordinate, clamped to 0, passes no gradient to the grid.
//
// The fast path (AVX2 + FMA) covers bilinear and nearest; bicubic, and every
// mode on CPUs without AVX2 (or with ATTNKIT_ISA=scalar), run the reference
// loops of grid_sample_reference.h, parallel over the batch.
#include <cstdint>

namespace attnkit::kernels {

enum class GridSampleMode { Bilinear, Nearest, Bicubic };
enum class GridSamplePadding { Zeros, Border, Reflection };

// Contiguous float32 tensors only; the op layer makes them so.
struct GridSampleArgs {
  const float* input = nullptr;  // (N, C, H_in, W_in)
  const float* grid = nullptr;   // (N, H_out, W_out, 2): (x, y) per output pixel
  int64_t batch = 0, channels = 0;
  int64_t in_height = 0, in_width = 0;
  int64_t out_height = 0, out_width = 0;
  GridSampleMode mode = GridSampleMode::Bilinear;
  GridSamplePadding padding = GridSamplePadding::Zeros;
  bool align_corners = false;
};

// output: (N, C, H_out, W_out)
void grid_sample_forward(float* output, const GridSampleArgs& args);

// Gradients of grid_sample_forward for the upstream gradient grad_output
// (N, C, H_out, W_out): grad_input (N, C, H_in, W_in) and grad_grid
// (N, H_out, W_out, 2). Either may be null (not wanted); both are
// overwritten, not added to. The grid gradient of nearest mode is zero.
void grid_sample_backward(float* grad_input, float* grad_grid, const float* grad_output,
                          const GridSampleArgs& args);

}  // namespace attnkit::kernels
