#pragma once
// softmax and log_softmax along one dim, numerically stable (max subtracted).
// The backward uses the saved output:  dx = y * (dy - sum(dy * y))  and
// dx = dy - exp(y) * sum(dy)  respectively.

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace attnkit
