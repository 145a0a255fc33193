#include "attnkit/nn/layer_norm.h"

#include <sstream>

#include "attnkit/core/error.h"
#include "attnkit/ops/layer_norm.h"

namespace attnkit::nn {

LayerNorm::LayerNorm(Shape shape, double epsilon, bool elementwise_affine, bool with_bias)
    : normalized_shape(std::move(shape)), eps(epsilon) {
  AK_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape must not be empty");
  if (elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = with_bias ? register_parameter("bias", zeros(normalized_shape)) : register_parameter("bias", Tensor());
  } else {
    register_parameter("weight", Tensor());
    register_parameter("bias", Tensor());
  }
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::extra_repr() const {
  std::ostringstream out;  // torch's layout: (16,), eps=1e-05, elementwise_affine=True
  if (normalized_shape.size() == 1) {
    out << "(" << normalized_shape[0] << ",)";
  } else {
    out << shape_str(normalized_shape);
  }
  out << ", eps=" << eps << ", elementwise_affine=" << (weight.defined() ? "True" : "False");
  return out.str();
}

}  // namespace attnkit::nn
