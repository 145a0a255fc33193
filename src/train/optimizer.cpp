#include "attnkit/train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"

namespace attnkit::train {

Optimizer::Optimizer(std::vector<Tensor> params, double lr, const char* name)
    : params_(std::move(params)), lr_(lr), name_(name), state_(params_.size()) {
  AK_CHECK(lr >= 0.0, name_, ": learning rate must be non-negative, got ", lr);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    AK_CHECK(p.defined() && p.dtype() == kFloat32 && p.is_contiguous() && p.requires_grad(), name_, ": parameter ",
             i, " must be a contiguous float32 tensor that requires grad");
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.set_grad(Tensor());
}

void Optimizer::set_lr(double lr) {
  AK_CHECK(lr >= 0.0, name_, ": learning rate must be non-negative, got ", lr);
  lr_ = lr;
}

Tensor& Optimizer::buffer(size_t i, const std::string& name) {
  Tensor& b = state_[i][name];
  if (!b.defined()) b = zeros(params_[i].shape());
  return b;
}

bool Optimizer::has_buffer(size_t i, const std::string& name) const { return state_[i].count(name) > 0; }

float& Optimizer::step_count(size_t i) {
  Tensor& c = state_[i]["step"];
  if (!c.defined()) c = zeros({});
  return *c.data<float>();
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < state_.size(); ++i) {
    for (const auto& [name, t] : state_[i]) out["state." + std::to_string(i) + "." + name] = t.clone();
  }
  out["step"] = from_vector_i64({steps_}, {});
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  auto step = state.find("step");
  AK_CHECK(step != state.end(), name_, ".load_state_dict: no \"step\" entry");
  std::vector<std::map<std::string, Tensor>> loaded(params_.size());
  for (const auto& [key, t] : state) {
    if (key == "step") continue;
    const size_t first = key.find('.'), second = key.find('.', first + 1);
    AK_CHECK(key.rfind("state.", 0) == 0 && second != std::string::npos, name_, ".load_state_dict: unexpected key \"",
             key, "\"");
    const std::string digits = key.substr(first + 1, second - first - 1);
    AK_CHECK(!digits.empty() && digits.size() < 10 && digits.find_first_not_of("0123456789") == std::string::npos,
             name_, ".load_state_dict: unexpected key \"", key, "\" (expected state.<parameter index>.<buffer>)");
    const size_t index = std::stoul(digits);
    AK_CHECK(index < params_.size(), name_, ".load_state_dict: \"", key, "\" is for parameter ", index, ", there are ",
             params_.size());
    const bool counter = key.substr(second + 1) == "step";  // 0-d, the others are shaped like the parameter
    AK_CHECK(counter ? t.numel() == 1 : t.shape() == params_[index].shape(), name_, ".load_state_dict: \"", key,
             "\" has shape ", shape_str(t.shape()), ", parameter ", index, " has ",
             shape_str(params_[index].shape()));
    loaded[index][key.substr(second + 1)] = counter ? t.to(kFloat32).reshape({}).clone() : t.to(kFloat32).contiguous().clone();
  }
  state_ = std::move(loaded);
  steps_ = static_cast<int64_t>(step->second.item());
}

// ---- SGD ----

SGD::SGD(std::vector<Tensor> params, const SgdOptions& o) : Optimizer(std::move(params), o.lr, "SGD"), options(o) {
  AK_CHECK(o.momentum >= 0.0 && o.weight_decay >= 0.0, "SGD: momentum and weight_decay must be non-negative");
  AK_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0),
           "SGD: Nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  const ExclusiveUse in_use = exclusive_step();
  const float lr = static_cast<float>(this->lr()), wd = static_cast<float>(options.weight_decay);
  const float momentum = static_cast<float>(options.momentum), damp = 1.0f - static_cast<float>(options.dampening);
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor& p = params()[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor grad = g.contiguous();
    float* x = p.data<float>();
    const float* gr = grad.data<float>();
    const bool first = !has_buffer(i, "momentum_buffer");  // per parameter, as torch
    float* buf = momentum != 0.0f ? buffer(i, "momentum_buffer").data<float>() : nullptr;
    const int64_t n = p.numel();
    for (int64_t j = 0; j < n; ++j) {
      float d = gr[j] + wd * x[j];
      if (buf) {
        buf[j] = first ? d : momentum * buf[j] + damp * d;
        d = options.nesterov ? d + momentum * buf[j] : buf[j];
      }
      x[j] -= lr * d;
    }
  }
  ++steps_;
}

// ---- Adam / AdamW ----

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o)
    : Optimizer(std::move(params), o.lr, o.decoupled_weight_decay ? "AdamW" : "Adam"), options(o) {
  AK_CHECK(o.beta1 >= 0.0 && o.beta1 < 1.0 && o.beta2 >= 0.0 && o.beta2 < 1.0,
           o.decoupled_weight_decay ? "AdamW" : "Adam", ": betas must be in [0, 1), got (", o.beta1, ", ", o.beta2,
           ")");
  AK_CHECK(o.eps >= 0.0 && o.weight_decay >= 0.0, o.decoupled_weight_decay ? "AdamW" : "Adam",
           ": eps and weight_decay must be non-negative");
}

void Adam::step() {
  const ExclusiveUse in_use = exclusive_step();
  ++steps_;
  const float lr = static_cast<float>(this->lr()), wd = static_cast<float>(options.weight_decay);
  const float b1 = static_cast<float>(options.beta1), b2 = static_cast<float>(options.beta2);
  const float eps = static_cast<float>(options.eps);
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor& p = params()[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    // Steps are counted per parameter (as torch): one that first gets a
    // gradient later starts its bias correction then.
    const double t = ++step_count(i);
    const float step_size = static_cast<float>(this->lr() / (1.0 - std::pow(options.beta1, t)));
    const float bias2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(options.beta2, t)));
    const Tensor grad = g.contiguous();
    float* x = p.data<float>();
    const float* gr = grad.data<float>();
    float* m = buffer(i, "exp_avg").data<float>();
    float* v = buffer(i, "exp_avg_sq").data<float>();
    float* vmax = options.amsgrad ? buffer(i, "max_exp_avg_sq").data<float>() : nullptr;
    const int64_t n = p.numel();
    // The update with its options fixed at compile time, so the loop has no
    // branches and vectorises.
    auto update = [&](auto decoupled, auto amsgrad) {
#pragma omp parallel for if (n > (1 << 16))
      for (int64_t j = 0; j < n; ++j) {
        float d = gr[j];
        if constexpr (decoupled) {
          x[j] *= 1.0f - lr * wd;
        } else {
          d += wd * x[j];
        }
        m[j] += (d - m[j]) * (1.0f - b1);  // torch's lerp form of b1 m + (1 - b1) d
        v[j] = b2 * v[j] + (1.0f - b2) * d * d;
        float second = v[j];
        if constexpr (amsgrad) second = vmax[j] = std::max(vmax[j], v[j]);
        const float denom = std::sqrt(second) / bias2_sqrt + eps;
        x[j] -= step_size * (m[j] / denom);  // torch's addcdiv order
      }
    };
    using std::false_type, std::true_type;
    if (options.decoupled_weight_decay) {
      vmax ? update(true_type{}, true_type{}) : update(true_type{}, false_type{});
    } else {
      vmax ? update(false_type{}, true_type{}) : update(false_type{}, false_type{});
    }
  }
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions options)
    : Adam(std::move(params), (options.decoupled_weight_decay = true, options)) {}

}  // namespace attnkit::train
