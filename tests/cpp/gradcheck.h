#pragma once
// Finite-difference gradient check.
//
// The scalar loss is L = sum_k sum(out_k * W_k) with fixed random weights W_k
// (so every output element matters and errors cannot cancel by symmetry). The
// analytic gradient comes from out_k.backward(W_k), which is exactly dL/dout_k;
// the numeric one from central differences of float32 evaluations of the op,
// with L accumulated in double:
//   dL/dx_j ~ (L(x + eps e_j) - L(x - eps e_j)) / (2 eps).
// Every input that requires grad is checked, element by element (inputs may
// have any strides). Keep inputs small and well-conditioned and away from
// kinks (see test_support.h).

#include <functional>
#include <vector>

#include "test_support.h"

namespace attnkit::testing {

struct GradcheckOptions {
  // Step of the central difference. With float32 evaluations the rounding
  // error of L is ~1e-7 * |L|, which eps = 1e-3 turns into ~1e-4 of gradient
  // error, while the truncation error f''' eps^2 / 6 stays ~1e-7.
  double eps = 1e-3;
  double atol = 2e-3;
  double rtol = 2e-3;
  uint64_t weight_seed = 0x5eed;
};

using OpFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;
using MultiOpFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;

::testing::AssertionResult gradcheck(const OpFn& op, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options = {});
// For ops with several outputs (split, chunk): each float32 output gets its own
// weights and its own backward (retain_graph between them), so gradients from
// all outputs accumulate into the leaves.
::testing::AssertionResult gradcheck_multi(const MultiOpFn& op, const std::vector<Tensor>& inputs,
                                           const GradcheckOptions& options = {});

}  // namespace attnkit::testing
