#pragma once
// Matrix product with NumPy/PyTorch semantics, on oneDNN's matmul primitive.
//
//   (n) @ (n)                 -> ()          dot product
//   (m, k) @ (k)              -> (m)
//   (k) @ (k, n)              -> (n)
//   (..., m, k) @ (..., k, n) -> (..., m, n) batch dims broadcast
//
// float32 (bfloat16 inputs are widened). Transposed views are read in place,
// without a copy. oneDNN primitives are cached by shape and layout.

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor matmul(const Tensor& a, const Tensor& b);
inline Tensor mm(const Tensor& a, const Tensor& b) { return matmul(a, b); }

// How many oneDNN primitives are cached (for tests of the cache).
size_t matmul_cache_size();

}  // namespace attnkit
