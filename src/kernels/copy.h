#pragma once
#include "attnkit/core/tensor.h"

namespace attnkit::kernels {

// dst[i] = convert(src[i]) elementwise; src must already have dst's shape
// (use expand to broadcast). Any strides, any pair of dtypes.
void copy_into(const Tensor& dst, const Tensor& src);

// Fills every element of dst (any strides) with `value` converted to its dtype.
void fill(const Tensor& dst, double value);

}  // namespace attnkit::kernels
