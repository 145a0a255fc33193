#pragma once
// Inverted dropout: in training, each element is zeroed with probability p
// and the rest scaled by 1 / (1 - p); in eval (training = false) identity.
// The mask comes from the counter-based generator, so one seed gives one mask
// on any thread count.

#include "attnkit/core/rng.h"
#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor dropout(const Tensor& x, double p = 0.5, bool training = true, Generator* generator = nullptr);

}  // namespace attnkit
