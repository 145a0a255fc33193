#pragma once
// An indexed list of child modules, as torch.nn.ModuleList: children are
// named "0", "1", ..., so their parameters are "layers.0.linear1.weight".

#include <memory>
#include <vector>

#include "attnkit/core/error.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn {

template <typename M>
class ModuleList : public Module {
 public:
  ModuleList() = default;
  std::string name() const override { return "ModuleList"; }

  void push_back(std::shared_ptr<M> module) {
    register_module(std::to_string(items_.size()), module);
    items_.push_back(std::move(module));
  }
  size_t size() const { return items_.size(); }
  M& operator[](size_t i) const {
    AK_CHECK(i < items_.size(), "ModuleList: index ", i, " is out of range for ", items_.size(), " modules");
    return *items_[i];
  }
  const std::vector<std::shared_ptr<M>>& items() const { return items_; }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace attnkit::nn
