#pragma once
// Upsampling as a module, as torch.nn.Upsample: interpolate (ops/upsample.h)
// with fixed options. size / scale_factor hold one value for every spatial
// dim (printed as a number, like torch's int or float argument) or one per dim
// (printed as a tuple).

#include "attnkit/nn/module.h"
#include "attnkit/ops/upsample.h"

namespace attnkit::nn {

class Upsample : public Module {
 public:
  explicit Upsample(InterpolateOptions options) : options(std::move(options)) {}
  std::string name() const override { return "Upsample"; }
  std::string extra_repr() const override;

  Tensor forward(const Tensor& x) const { return interpolate(x, options); }

  InterpolateOptions options;
};

}  // namespace attnkit::nn
