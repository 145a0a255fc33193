#pragma once
// Batch normalisation (Ioffe & Szegedy 2015, Algorithm 1 and section 3.1), as
// torch.nn.functional.batch_norm.
//
//   input (N, C, *) -> (N, C, *); statistics are per channel c, over N and
//   every trailing dim. running_mean, running_var, weight, bias: (C) or none
//   (an undefined Tensor).
//
// training = true: normalise with the batch mean and biased variance, and
//   update the running statistics that are given, in place:
//     running = (1 - momentum) * running + momentum * batch
//   with the unbiased variance for running_var (torch's rule). A channel needs
//   more than one value; an empty batch leaves the running statistics alone.
// training = false: normalise with running_mean and running_var (both needed).
//
// y = (x - mean) / sqrt(var + eps) * weight + bias. Gradients flow to input,
// weight and bias; in training mode the input's gradient includes the paths
// through the batch mean and variance. The running statistics never get one.
// The result is float32 (bfloat16 inputs are widened).

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5);

}  // namespace attnkit
