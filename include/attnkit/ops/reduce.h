#pragma once
// Reductions over all elements or along dims (negative dims count from the
// end), with keepdim as in PyTorch. An empty `dims` means every dim (keepdim
// then keeps them all as size 1). Sums accumulate in double.

#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit {

using Dims = std::vector<int64_t>;

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim = false);
// Variance with Bessel's correction by default (correction = 1), as torch.var.
Tensor var(const Tensor& x, int64_t correction = 1);
Tensor var(const Tensor& x, const Dims& dims, int64_t correction = 1, bool keepdim = false);

struct ValuesIndices {
  Tensor values;
  Tensor indices;  // int64
};

// Over all elements: the max value (0-d). The gradient goes to the first
// maximal element (PyTorch splits it among ties; with ties broken the same).
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
// Over `dims` (empty: every dim), as torch.amax: the largest value, NaN if
// any element is NaN. Unlike max(x, dim), the gradient is split evenly among
// every element equal to the maximum (torch's rule for amax), so tied maxima
// (zeros after a ReLU) share it; a NaN maximum gives its whole slice a NaN
// gradient, as torch. Float32 out for floating input (bfloat16 widened), the
// input's dtype for integers.
Tensor amax(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// Index of the first maximum over the flattened tensor (0-d int64), or along dim.
Tensor argmax(const Tensor& x);
Tensor argmin(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);

// Sums a broadcast result back down to `shape` (the reverse of expand).
Tensor sum_to_shape(const Tensor& x, const Shape& shape);

}  // namespace attnkit
