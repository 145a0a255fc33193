#pragma once
// affine_grid: the sampling grid of a batch of 2-D affine transforms, as
// torch.nn.functional.affine_grid; with grid_sample it forms the affine
// Spatial Transformer (Jaderberg et al. 2015, §3.2).
//
//   theta (N, 2, 3), size {N, C, H, W} -> grid (N, H, W, 2)
//   grid[n, h, w] = theta[n] · (x_w, y_h, 1)
//
// x_w and y_h are the normalised coordinates of output pixel (h, w): with
// align_corners, W points evenly from -1 to 1 (pixel centres at the extremes);
// without it, the same points scaled by (W - 1) / W (pixel centres of a grid
// whose outer edges are -1 and 1). A side of length 1 gives the coordinate 0.
// Differentiable with respect to theta, which is how a Spatial Transformer's
// localisation network learns. C only has to be positive (the grid does not
// depend on it). Only 4-D sizes (2-D transforms).
#include <cstdint>
#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor affine_grid(const Tensor& theta, const std::vector<int64_t>& size, bool align_corners = false);

}  // namespace attnkit
