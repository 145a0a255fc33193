#include "attnkit/nn/feed_forward.h"

#include <string>

#include "attnkit/core/error.h"
#include "attnkit/ops/elementwise.h"

namespace attnkit::nn {

Activation parse_activation(std::string_view name) {
  if (name == "relu") return Activation::Relu;
  if (name == "gelu") return Activation::Gelu;
  AK_CHECK(false, "activation must be \"relu\" or \"gelu\", got \"", std::string(name), "\"");
  return Activation::Relu;
}

const char* activation_name(Activation activation) { return activation == Activation::Gelu ? "gelu" : "relu"; }

Tensor activate(const Tensor& x, Activation activation) {
  return activation == Activation::Gelu ? gelu(x) : relu(x);
}

Tensor feed_forward(const Tensor& x, const Linear& linear1, const Dropout& dropout, const Linear& linear2,
                    Activation activation) {
  return linear2.forward(dropout.forward(activate(linear1.forward(x), activation)));
}

PositionwiseFeedForward::PositionwiseFeedForward(int64_t d_model, int64_t dim_feedforward, double p,
                                                 Activation act, bool bias, Generator* generator)
    : activation(act) {
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, dim_feedforward, bias, generator));
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
  linear2 = register_module("linear2", std::make_shared<Linear>(dim_feedforward, d_model, bias, generator));
}

}  // namespace attnkit::nn
