#include "attnkit/ops/affine_grid.h"

#include <sstream>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/ops/matmul.h"

namespace attnkit {

namespace {

std::string sizes_str(const std::vector<int64_t>& sizes) {
  std::ostringstream out;  // as a Python list, the way the caller wrote it
  out << "[";
  for (size_t i = 0; i < sizes.size(); ++i) out << (i ? ", " : "") << sizes[i];
  out << "]";
  return out.str();
}

// The normalised coordinates of `steps` pixel centres, as PyTorch computes
// them: linspace(-1, 1) in float32 (first half counted up from -1, second
// half down from 1), scaled by (steps - 1) / steps without align_corners.
std::vector<float> pixel_centres(int64_t steps, bool align_corners) {
  std::vector<float> v(static_cast<size_t>(steps), 0.0f);
  if (steps <= 1) return v;
  const float step = 2.0f / static_cast<float>(steps - 1);
  for (int64_t i = 0; i < steps; ++i) {
    v[i] = i < steps / 2 ? -1.0f + step * static_cast<float>(i) : 1.0f - step * static_cast<float>(steps - 1 - i);
    if (!align_corners) v[i] = v[i] * static_cast<float>(steps - 1) / static_cast<float>(steps);
  }
  return v;
}

}  // namespace

Tensor affine_grid(const Tensor& theta, const std::vector<int64_t>& size, bool align_corners) {
  AK_CHECK(size.size() == 4, "affine_grid: only 4-D sizes [N, C, H, W] (2-D transforms) are supported, got size ",
           sizes_str(size));
  AK_CHECK(size[0] > 0 && size[1] > 0 && size[2] > 0 && size[3] > 0,
           "affine_grid: expected a positive output size, got ", sizes_str(size));
  AK_CHECK(theta.defined() && theta.dim() == 3 && theta.size(1) == 2 && theta.size(2) == 3,
           "affine_grid: expected a batch of 2-D affine matrices of shape (N, 2, 3) for size ", sizes_str(size),
           ", got theta of shape ", theta.defined() ? shape_str(theta.shape()) : std::string("nothing"));
  AK_CHECK(theta.size(0) == size[0], "affine_grid: theta holds ", theta.size(0), " matrices but size asks for N = ",
           size[0], " (size ", sizes_str(size), ")");
  AK_CHECK(is_floating(theta.dtype()), "affine_grid: expected a floating point theta, got ",
           dtype_name(theta.dtype()));
  const int64_t n = size[0], h = size[2], w = size[3];

  // base (1, H·W, 3): rows (x_w, y_h, 1) in row-major pixel order.
  const std::vector<float> xs = pixel_centres(w, align_corners), ys = pixel_centres(h, align_corners);
  std::vector<float> base(static_cast<size_t>(h * w * 3));
  for (int64_t i = 0; i < h; ++i) {
    for (int64_t j = 0; j < w; ++j) {
      float* row = base.data() + (i * w + j) * 3;
      row[0] = xs[j];
      row[1] = ys[i];
      row[2] = 1.0f;
    }
  }
  // (1, H·W, 3) @ (N, 3, 2) -> (N, H·W, 2); matmul broadcasts the base over
  // the batch and carries the gradient to theta.
  const Tensor t = theta.dtype() == kFloat32 ? theta : theta.to(kFloat32);
  return matmul(from_vector(base, {1, h * w, 3}), t.transpose(1, 2)).reshape({n, h, w, 2});
}

}  // namespace attnkit
