#pragma once
// fp32 GEMM on oneDNN's matmul primitive (brgemm on AVX-512 machines).
//
//   c (batch..., M, N) = a (batch..., M, K) · b (batch..., K, N)
//
// All three have the same number of dims (2..12). A batch dim of a or b may be
// 1 and is then broadcast. Strides are in elements; the last two dims of a and
// b may be row- or column-major, so transposed views need no copy. Primitives
// are created once per (dims, strides) and cached.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace attnkit::kernels {

struct MatrixOperand {
  float* data;
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;
};

void dnnl_matmul(const MatrixOperand& a, const MatrixOperand& b, const MatrixOperand& c);
size_t dnnl_matmul_cache_size();

}  // namespace attnkit::kernels
