#pragma once
// Matrix product with NumPy/PyTorch semantics.
//
//   (n) @ (n)                 -> ()          dot product
//   (m, k) @ (k)              -> (m)
//   (k) @ (k, n)              -> (n)
//   (..., m, k) @ (..., k, n) -> (..., m, n) batch dims broadcast
//
// float32 (bfloat16 inputs are widened). Transposed views are read in place,
// without a copy. The GEMM is attnkit's own (AVX2, BLIS-style) on CPUs without
// AVX-512F, where it beats oneDNN 2.6's, and oneDNN's matmul primitive
// (cached by shape, layout and thread count) on CPUs with it; the environment
// variable ATTNKIT_GEMM=attnkit|onednn chooses explicitly.

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor matmul(const Tensor& a, const Tensor& b);
inline Tensor mm(const Tensor& a, const Tensor& b) { return matmul(a, b); }

// How many oneDNN primitives are cached (for tests of the cache; 0 while the
// oneDNN backend is not in use).
size_t matmul_cache_size();

}  // namespace attnkit
