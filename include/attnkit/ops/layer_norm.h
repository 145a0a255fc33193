#pragma once
// Layer normalisation over the trailing `normalized_shape` dims (Ba et al.
// 2016), as torch.nn.functional.layer_norm: biased variance, eps inside the
// square root. weight and bias are optional (undefined Tensor = none).

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

}  // namespace attnkit
