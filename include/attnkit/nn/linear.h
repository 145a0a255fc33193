#pragma once
// y = x Wᵀ + b over the last dim, as torch.nn.Linear: weight (out, in),
// bias (out), both U(-1/√in, 1/√in).

#include "attnkit/nn/module.h"
#include "attnkit/core/rng.h"
#include "attnkit/ops/linear.h"

namespace attnkit::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* generator = nullptr);
  std::string name() const override { return "Linear"; }
  std::string extra_repr() const override;

  Tensor forward(const Tensor& x) const;  // (..., in) -> (..., out)

  int64_t in_features, out_features;
  Tensor weight;  // (out, in)
  Tensor bias;    // (out) or undefined
};

// The functional form, attnkit::linear (ops/linear.h): x (..., in),
// weight (out, in), bias (out) or undefined.
using attnkit::linear;

}  // namespace attnkit::nn
