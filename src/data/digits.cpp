#include "attnkit/data/digits.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/ops/affine_grid.h"
#include "attnkit/ops/grid_sample.h"

namespace attnkit::data {

Digits digits_from_csv(std::string_view text) {
  const DigitsCsv parsed = parse_digits_csv(text);
  const int64_t n = static_cast<int64_t>(parsed.labels.size());
  Digits digits{empty({n, 1, 8, 8}), empty({n}, kInt64)};
  std::copy(parsed.pixels.begin(), parsed.pixels.end(), digits.images.data<float>());
  std::copy(parsed.labels.begin(), parsed.labels.end(), digits.labels.data<int64_t>());
  return digits;
}

DistortedDigits distort_digits(const Tensor& images, const DistortionOptions& o, Generator& generator) {
  AK_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 1,
           "distort_digits: images must be (N, 1, h, w), got ",
           images.defined() ? shape_str(images.shape()) : std::string("nothing"));
  AK_CHECK(o.size > 0 && o.digit_extent > 0 && o.min_scale > 0 && o.min_scale <= o.max_scale &&
               o.max_rotation_degrees >= 0 && o.max_shift >= 0,
           "distort_digits: size, digit_extent and the scales must be positive (min_scale <= max_scale), rotation "
           "and shift non-negative");
  NoGradGuard no_grad;
  const int64_t n = images.size(0);
  const Tensor u = rand({n, 4}, &generator).contiguous();  // rotation, scale, shift x, shift y
  Tensor theta = empty({n, 2, 3}), canonical_theta = zeros({n, 2, 3});
  const float* r = u.data<float>();
  float* t = theta.data<float>();
  float* c = canonical_theta.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const double angle = (2 * r[4 * i] - 1) * o.max_rotation_degrees * std::numbers::pi / 180.0;
    const double scale = o.digit_extent * (o.min_scale + r[4 * i + 1] * (o.max_scale - o.min_scale));
    // Normalised coordinates span 2 per canvas side.
    const double shift_x = (2 * r[4 * i + 2] - 1) * o.max_shift * 2, shift_y = (2 * r[4 * i + 3] - 1) * o.max_shift * 2;
    // The digit's point d lands on the canvas at p = scale · R(angle) d + shift;
    // affine_grid wants the inverse, canvas -> digit: d = R(-angle) (p - shift) / scale.
    const double cs = std::cos(angle) / scale, sn = std::sin(angle) / scale;
    const double a[2][2] = {{cs, sn}, {-sn, cs}};  // R(-angle) / scale
    for (int row = 0; row < 2; ++row) {
      t[6 * i + 3 * row] = static_cast<float>(a[row][0]);
      t[6 * i + 3 * row + 1] = static_cast<float>(a[row][1]);
      t[6 * i + 3 * row + 2] = static_cast<float>(-(a[row][0] * shift_x + a[row][1] * shift_y));
    }
    c[6 * i] = c[6 * i + 4] = static_cast<float>(1.0 / o.digit_extent);
  }
  const std::vector<int64_t> size{n, 1, o.size, o.size};
  auto render = [&](const Tensor& th) {
    return grid_sample(images, affine_grid(th, size, false), "bilinear", "zeros", false);
  };
  return {render(theta), render(canonical_theta), theta};
}

}  // namespace attnkit::data
