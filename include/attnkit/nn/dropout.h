#pragma once
// Inverted dropout as a module, as torch.nn.Dropout: active in training
// mode only; the mask comes from the counter-based generator.

#include "attnkit/core/rng.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* generator = nullptr);
  std::string name() const override { return "Dropout"; }
  std::string extra_repr() const override;

  Tensor forward(const Tensor& x) const;

  double p;
  Generator* generator;  // not owned, must outlive the module; null = the default generator
};

}  // namespace attnkit::nn
