#pragma once
// Layer normalisation over the last dims, as torch.nn.LayerNorm: weight
// (normalized_shape) = 1 and bias = 0 when elementwise_affine.

#include "attnkit/nn/module.h"

namespace attnkit::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool bias = true);
  explicit LayerNorm(int64_t features, double eps = 1e-5) : LayerNorm(Shape{features}, eps) {}
  std::string name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  Tensor forward(const Tensor& x) const;

  Shape normalized_shape;
  double eps;
  Tensor weight, bias;  // undefined without elementwise_affine (bias also without bias)
};

}  // namespace attnkit::nn
