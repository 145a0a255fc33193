#pragma once
// The position-wise feed-forward network of the Transformer (Vaswani 2017,
// §3.3): linear2(dropout(activation(linear1(x)))), applied to every position
// alike. The Transformer layers hold the same three pieces under torch's
// names (linear1, dropout, linear2) and call feed_forward() on them.

#include <memory>
#include <string_view>

#include "attnkit/core/rng.h"
#include "attnkit/nn/dropout.h"
#include "attnkit/nn/linear.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn {

enum class Activation { Relu, Gelu };
Activation parse_activation(std::string_view name);  // "relu" | "gelu"
const char* activation_name(Activation activation);
Tensor activate(const Tensor& x, Activation activation);

Tensor feed_forward(const Tensor& x, const Linear& linear1, const Dropout& dropout, const Linear& linear2,
                    Activation activation);

class PositionwiseFeedForward : public Module {
 public:
  PositionwiseFeedForward(int64_t d_model, int64_t dim_feedforward, double dropout = 0.1,
                          Activation activation = Activation::Relu, bool bias = true,
                          Generator* generator = nullptr);
  std::string name() const override { return "PositionwiseFeedForward"; }

  Tensor forward(const Tensor& x) const { return feed_forward(x, *linear1, *dropout, *linear2, activation); }

  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  Activation activation;
};

}  // namespace attnkit::nn
