#pragma once
// A module that only groups children under a name, so a model's state-dict
// keys can follow the nesting of the Hugging Face original
// ("encoder.layer.0.attention.self.query.weight") while the model's code
// keeps direct pointers to the layers it runs. Internal to the models.

#include <memory>
#include <string>

#include "attnkit/nn/module.h"

namespace attnkit::models::detail {

class ModuleGroup : public nn::Module {
 public:
  explicit ModuleGroup(std::string class_name) : class_name_(std::move(class_name)) {}
  std::string name() const override { return class_name_; }

 private:
  std::string class_name_;
};

// parent.name = a new group, returned for registering its children.
inline std::shared_ptr<ModuleGroup> add_group(nn::Module& parent, const std::string& name,
                                              const std::string& class_name) {
  return parent.register_module(name, std::make_shared<ModuleGroup>(class_name));
}

}  // namespace attnkit::models::detail
