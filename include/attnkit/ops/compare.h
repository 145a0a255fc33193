#pragma once
// Comparisons (bool results, broadcasting, not differentiable) and selection
// by mask (differentiable in the selected values).

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);
Tensor logical_not(const Tensor& x);

// condition ? a : b, elementwise; all three broadcast together.
// condition must be bool.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
// x with `value` where mask is true; mask (bool) broadcasts to x's shape.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

}  // namespace attnkit
