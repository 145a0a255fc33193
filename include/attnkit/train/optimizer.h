#pragma once
// Optimisers (attnkit::train), as torch.optim: each holds the parameters it
// updates and per-parameter state, and step() applies one update from their
// .grad (parameters without a gradient are skipped). The update runs in
// place on the parameter data, outside autograd.
//
// state_dict()/load_state_dict() carry the state (moment buffers, step
// counts) as named tensors, so a checkpoint of model and optimiser resumes
// exactly where training stopped.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attnkit/core/exclusive_use.h"
#include "attnkit/core/tensor.h"

namespace attnkit::train {

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr, const char* name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual void step() = 0;
  void zero_grad();  // drops every parameter's gradient

  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Tensor>& params() const { return params_; }

  // "state.<param index>.<buffer>" -> tensor, plus "step" (calls of step(), a 0-d int64).
  std::map<std::string, Tensor> state_dict() const;
  // Restores a state_dict of an optimiser of the same kind over parameters
  // of the same shapes; a missing or mis-shaped buffer is an error.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // The buffer `name` of parameter i, created zero-filled on first use.
  Tensor& buffer(size_t i, const std::string& name);
  bool has_buffer(size_t i, const std::string& name) const;
  // Parameter i's own step count (a 0-d buffer "step"), created at 0.
  float& step_count(size_t i);
  // Held by step(): it updates the parameters and this optimiser's state in
  // place, so a second thread stepping it at the same moment gets a
  // StateError (see core/exclusive_use.h).
  ExclusiveUse exclusive_step() const { return ExclusiveUse(in_use_, name_); }
  int64_t steps_ = 0;  // step() calls so far

 private:
  InUseFlag in_use_;
  std::vector<Tensor> params_;
  double lr_;
  const char* name_;
  std::vector<std::map<std::string, Tensor>> state_;
};

// SGD with momentum (torch.optim.SGD): g = grad + weight_decay · p;
// b = momentum · b + (1 - dampening) · g (b = g on the first step);
// g = g + momentum · b with nesterov, else b; p -= lr · g.
struct SgdOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SgdOptions& options);
  void step() override;
  SgdOptions options;
};

// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as
// torch.optim.Adam / AdamW: m = β1 m + (1-β1) g, v = β2 v + (1-β2) g²,
// p -= lr / (1-β1^t) · m / (√v / √(1-β2^t) + ε). Adam adds weight_decay · p
// to g (L2); AdamW instead multiplies p by 1 - lr · weight_decay first
// (decoupled). amsgrad keeps the running maximum of v.
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's default is 1e-2
  bool amsgrad = false;
  bool decoupled_weight_decay = false;  // true: AdamW
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  void step() override;
  AdamOptions options;
};

// AdamW: Adam with decoupled weight decay, default 1e-2.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions options = with_adamw_defaults());
  static AdamOptions with_adamw_defaults() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    o.decoupled_weight_decay = true;
    return o;
  }
};

}  // namespace attnkit::train
