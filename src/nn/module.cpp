#include "attnkit/nn/module.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"

namespace attnkit::nn {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out;
}

std::string dotted(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace

void Module::check_new_name(const std::string& name) const {
  AK_CHECK(!name.empty() && name.find('.') == std::string::npos, this->name(),
           ": a parameter, buffer or child name must be non-empty and contain no '.', got \"", name, "\"");
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& entry) { return entry.first == name; });
  };
  AK_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), this->name(), ": \"", name,
           "\" is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  check_new_name(name);
  if (tensor.defined()) {
    AK_CHECK(is_floating(tensor.dtype()), this->name(), ": parameter \"", name,
             "\" must be floating point, got ", dtype_name(tensor.dtype()));
    if (!tensor.is_leaf()) tensor = tensor.detach();
    tensor.set_requires_grad(true);
  }
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name);
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  AK_CHECK(module != nullptr, this->name(), ": child \"", name, "\" is null");
  children_.emplace_back(name, std::move(module));
}

bool Module::has_parameter(const std::string& name) const {
  return std::any_of(parameters_.begin(), parameters_.end(), [&](const auto& e) { return e.first == name; });
}

bool Module::has_module(const std::string& name) const {
  return std::any_of(children_.begin(), children_.end(), [&](const auto& e) { return e.first == name; });
}

void Module::set_parameter(const std::string& name, const Tensor& tensor) {
  for (auto& [existing, t] : parameters_) {
    if (existing == name) {
      Tensor leaf = tensor;
      if (leaf.defined()) {
        if (!leaf.is_leaf()) leaf = leaf.detach();
        leaf.set_requires_grad(true);
      }
      t = leaf;
      return;
    }
  }
  register_parameter(name, tensor);
}

void Module::set_module(const std::string& name, std::shared_ptr<Module> module) {
  AK_CHECK(module != nullptr, this->name(), ": child \"", name, "\" is null");
  for (auto& [existing, m] : children_) {
    if (existing == name) {
      m = std::move(module);
      return;
    }
  }
  add_child(name, std::move(module));
}

std::string Module::repr() const {
  std::string out = name() + "(";
  if (children_.empty()) return out + extra_repr() + ")";
  out += "\n";
  if (!extra_repr().empty()) out += "  " + extra_repr() + "\n";
  for (const auto& [child_name, child] : children_) {
    std::string inner = child->repr();
    std::string indented;
    for (char c : inner) indented += c == '\n' ? std::string("\n  ") : std::string(1, c);
    out += "  (" + child_name + "): " + indented + "\n";
  }
  return out + ")";
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  for (const auto& [name, t] : parameters_) {
    if (t.defined()) out.emplace_back(name, t);
  }
  if (recurse) {
    for (const auto& [child_name, child] : children_) {
      for (auto& [name, t] : child->named_parameters(true)) out.emplace_back(dotted(child_name, name), t);
    }
  }
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  for (const auto& [name, t] : buffers_) {
    if (t.defined()) out.emplace_back(name, t);
  }
  if (recurse) {
    for (const auto& [child_name, child] : children_) {
      for (auto& [name, t] : child->named_buffers(true)) out.emplace_back(dotted(child_name, name), t);
    }
  }
  return out;
}

StateDict Module::state_dict() const {
  StateDict out;
  for (auto& [name, t] : named_parameters()) out[name] = t.detach();
  for (auto& [name, t] : named_buffers()) out[name] = t.detach();
  return out;
}

LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  NamedTensors targets = named_parameters();
  NamedTensors buffers = named_buffers();
  targets.insert(targets.end(), buffers.begin(), buffers.end());
  LoadResult result;
  std::set<std::string> known;
  std::vector<std::string> mis_shaped;
  for (auto& [name, target] : targets) {
    known.insert(name);
    auto found = state.find(name);
    if (found == state.end()) {
      result.missing_keys.push_back(name);
      continue;
    }
    const Tensor& source = found->second;
    if (!source.defined() || source.shape() != target.shape()) {
      mis_shaped.push_back("\"" + name + "\": checkpoint " +
                           (source.defined() ? shape_str(source.shape()) : std::string("undefined")) +
                           ", model " + shape_str(target.shape()));
    }
  }
  for (const auto& [name, t] : state) {
    if (!known.count(name)) result.unexpected_keys.push_back(name);
  }
  std::ostringstream problems;
  if (!mis_shaped.empty()) {
    problems << " size mismatch for";
    for (size_t i = 0; i < mis_shaped.size(); ++i) problems << (i ? "; " : " ") << mis_shaped[i];
    problems << ".";
  }
  if (strict && !result.missing_keys.empty()) problems << " Missing keys: " << join(result.missing_keys) << ".";
  if (strict && !result.unexpected_keys.empty()) {
    problems << " Unexpected keys: " << join(result.unexpected_keys) << ".";
  }
  AK_CHECK(problems.str().empty(), name(), ".load_state_dict:", problems.str());
  NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    auto found = state.find(name);
    if (found != state.end()) target.copy_(found->second.to(target.dtype()));
  }
  return result;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.set_grad(Tensor());
}

}  // namespace attnkit::nn
