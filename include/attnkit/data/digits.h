#pragma once
// The handwritten digits of the vision demo: scikit-learn's copy of the UCI
// optdigits test set (1,797 images of 8×8 pixels, 17 grey levels, labels
// 0–9; it ships inside the scikit-learn package, so nothing is downloaded),
// enlarged onto a larger canvas and randomly rotated, scaled and shifted —
// the distortions a spatial transformer learns to undo.
//
//   Digits digits = digits_from_csv(text);           // from digits.csv (gunzipped)
//   Generator gen(0);
//   DistortedDigits d = distort_digits(digits.images, {.size = 32}, gen);
//   d.images      (N, 1, 32, 32)  what the model sees
//   d.canonical   (N, 1, 32, 32)  the same digits upright and centred, for measuring rectification
#include <cstdint>
#include <string_view>
#include <vector>

#include "attnkit/core/rng.h"
#include "attnkit/core/tensor.h"

namespace attnkit::data {

struct Digits {
  Tensor images;  // (N, 1, 8, 8) float32 in [0, 1] (grey level / 16)
  Tensor labels;  // (N) int64 in 0..9
};

// The file as read, before it becomes tensors (parsed apart so the fuzz
// target needs nothing but the parser).
struct DigitsCsv {
  std::vector<float> pixels;     // N · 64 grey levels / 16, row-major per image
  std::vector<int64_t> labels;   // N
};

// scikit-learn's datasets/data/digits.csv: one image a line, 64 grey levels
// 0..16 (row-major) then the label 0..9, comma-separated ("7.0" is read as
// 7). Any other line is an error naming the line and what was wrong; an
// empty text has no images.
DigitsCsv parse_digits_csv(std::string_view text);
Digits digits_from_csv(std::string_view text);

struct DistortionOptions {
  int64_t size = 32;                   // the canvas side, pixels
  double digit_extent = 0.6;           // the upright digit's side as a fraction of the canvas
  double max_rotation_degrees = 40.0;  // uniform in [-max, max]
  double min_scale = 0.8, max_scale = 1.2;  // uniform, times the extent
  double max_shift = 0.25;             // uniform per axis, as a fraction of the canvas side
};

struct DistortedDigits {
  Tensor images;     // (N, 1, size, size): rotated, scaled, shifted
  Tensor canonical;  // (N, 1, size, size): upright, centred, at digit_extent
  Tensor theta;      // (N, 2, 3): the affine_grid transform (canvas -> digit) of each image
};

// Draws one distortion per image from `generator` and renders both versions
// with bilinear sampling (zeros outside the digit).
DistortedDigits distort_digits(const Tensor& images, const DistortionOptions& options, Generator& generator);

}  // namespace attnkit::data
