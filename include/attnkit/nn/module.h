#pragma once
// The base of every layer: named parameters, buffers and child modules,
// train/eval mode, and state dicts, as torch.nn.Module.
//
// A module registers what it owns under names; parameters of children are
// named with dotted paths ("out_proj.weight"), so a state dict's keys are
// those of the PyTorch module with the same structure and weights move
// between the two unchanged. Registered tensors alias the module's members:
// load_state_dict copies into them in place.
//
// A Generator* given to a layer's constructor draws its initial weights and
// is not kept: dropout inside layers draws from the thread's current
// generator (the default one, or a GeneratorScope's), or from the one an
// nn::Dropout is given.
//
// Threads: a forward that keeps nothing (const forward in eval mode) may run
// on many threads at once. A module whose forward keeps state from the call
// (a vision block's attention map, BatchNorm's running statistics in
// training) takes exclusive_use(): a second thread calling it meanwhile gets
// a StateError. train()/eval(), load_state_dict and optimiser steps write
// the module and must not overlap its use on other threads.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attnkit/core/exclusive_use.h"
#include "attnkit/core/tensor.h"

namespace attnkit::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using StateDict = std::map<std::string, Tensor>;

// What load_state_dict found wrong; empty lists when the dict fitted.
struct LoadResult {
  std::vector<std::string> missing_keys, unexpected_keys;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The class name shown in errors and printing ("MultiheadAttention").
  virtual std::string name() const { return "Module"; }
  // The options shown when printing ("in_features=4, out_features=2, bias=True").
  virtual std::string extra_repr() const { return ""; }
  // torch's layout: Name(extra) or, with children, one indented line each.
  std::string repr() const;

  // Registration. A parameter is made a leaf that requires grad; an undefined
  // tensor registers the name as absent (torch's `None` parameter, e.g.
  // in_proj_weight when kdim != embed_dim): it is skipped everywhere.
  Tensor register_parameter(const std::string& name, Tensor tensor);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Registers, or replaces what is registered under the name (Python's
  // attribute assignment: self.weight = Parameter(...)).
  void set_parameter(const std::string& name, const Tensor& tensor);
  void set_module(const std::string& name, std::shared_ptr<Module> module);
  bool has_parameter(const std::string& name) const;
  bool has_module(const std::string& name) const;

  // Dotted names, parameters in registration order, children after their parent's own.
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }

  // Parameters and buffers by dotted name (detached aliases of the live tensors).
  StateDict state_dict() const;
  // Copies every tensor of `state` into the matching parameter or buffer.
  // A tensor of the wrong shape is an error naming the key and both shapes.
  // With strict, missing or unexpected keys are an error listing them;
  // without, they are returned.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

  // Training mode (dropout active) for this module and its children.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Drops every parameter's gradient.
  void zero_grad();

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  // Held by a call that writes the module's own state between calls (a last
  // attention map, running statistics): a second thread calling this module
  // at the same moment gets a StateError (see core/exclusive_use.h).
  ExclusiveUse exclusive_use() const { return ExclusiveUse(in_use_, name()); }
  const InUseFlag& in_use_flag() const { return in_use_; }

 private:
  void check_new_name(const std::string& name) const;

  bool training_ = true;
  InUseFlag in_use_;
  NamedTensors parameters_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace attnkit::nn
