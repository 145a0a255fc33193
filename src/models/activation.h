#pragma once
// The activations of Hugging Face configs (hidden_act, activation_function)
// mapped onto attnkit's ops. Internal to the models.

#include <string>

#include "attnkit/core/error.h"
#include "attnkit/ops/elementwise.h"

namespace attnkit::models::detail {

inline Tensor apply_activation(const std::string& name, const Tensor& x) {
  // gelu_new and gelu_pytorch_tanh are the same tanh approximation.
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return gelu(x, "tanh");
  if (name == "gelu") return gelu(x);
  if (name == "relu") return relu(x);
  if (name == "silu" || name == "swish") return silu(x);
  throw ValueError("activation: '" + name + "' is not one attnkit has");
}

}  // namespace attnkit::models::detail
