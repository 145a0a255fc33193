#pragma once
// y = x Wᵀ + b over the last dim, as torch.nn.functional.linear: x (..., in),
// weight (out, in), bias (out) or undefined -> (..., out).
//
// One op rather than matmul + add: the bias is added as the GEMM stores its
// first results (no extra pass over y), and the backward computes
// dW = gᵀ x straight into W's layout and db as column sums of g.
#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace attnkit
