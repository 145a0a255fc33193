#include "attnkit/nn/linear.h"

#include <cmath>

#include "attnkit/core/error.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/linear.h"

namespace attnkit::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator* generator)
    : in_features(in), out_features(out) {
  AK_CHECK(in > 0 && out > 0, "Linear: in_features and out_features must be positive, got ", in, " and ", out);
  weight = register_parameter("weight", empty({out, in}));
  init::kaiming_uniform_(weight, std::sqrt(5.0), generator);
  if (with_bias) {
    bias = register_parameter("bias", empty({out}));
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    init::uniform_(bias, -bound, bound, generator);
  } else {
    register_parameter("bias", Tensor());
  }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False");
}

}  // namespace attnkit::nn
