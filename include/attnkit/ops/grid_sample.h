#pragma once
// grid_sample: the differentiable image sampler of Spatial Transformer
// Networks (Jaderberg et al. 2015, §3.3), as torch.nn.functional.grid_sample.
//
//   input (N, C, H_in, W_in), grid (N, H_out, W_out, 2) -> (N, C, H_out, W_out)
//
// grid[n, h, w] = (x, y) is where output pixel (h, w) reads input image n, in
// normalised coordinates: x = -1 is the left edge of the input and +1 the
// right one, y likewise top to bottom. With align_corners the extremes are
// the centres of the corner pixels, without it their outer edges (so the
// sampling does not depend on the resolution).
//   mode          "bilinear" | "nearest" (ties to even) | "bicubic" (A = -0.75)
//   padding_mode  what locations outside the input read: "zeros" (0),
//                 "border" (the nearest edge pixel), "reflection" (the input
//                 mirrored at its edges).
// Gradients flow to the input and to the grid (bilinear and bicubic; the grid
// gradient of nearest is zero). Where border or reflection clamps a location
// onto an edge, the grid gradient of that coordinate is zero, as in PyTorch.
// float32 compute (bfloat16 inputs are widened).
//
// NaN and infinite grid values give PyTorch's results (tested against it):
//   bilinear, zeros padding: the output is NaN at that pixel; its grid
//     gradient is 0 for the non-finite coordinate and NaN for the other; the
//     input gets no gradient from it;
//   bilinear and nearest, border / reflection padding: a NaN coordinate (and,
//     with reflection, an infinite one) clamps to 0, i.e. reads the first
//     column (x) or row (y);
//   nearest, zeros padding: the output is 0 there;
//   bicubic: the output is NaN there (the taps clamp as the padding says, the
//     weights are NaN); so is its grid gradient, and the input gradient at
//     any of its taps that lands inside the input.
// For bilinear with border / reflection PyTorch's backward reads out of
// bounds on such a coordinate (it crashes or returns garbage); here the
// clamped coordinate passes no gradient to the grid, exactly as a grid value
// of -1 would, and the input receives the gradient of the pixels read.
//
// Only 4-D inputs: a 5-D (volumetric) input is an error.
#include <string_view>

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor grid_sample(const Tensor& input, const Tensor& grid, std::string_view mode = "bilinear",
                   std::string_view padding_mode = "zeros", bool align_corners = false);

}  // namespace attnkit
