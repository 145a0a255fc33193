#include "attnkit/nn/batch_norm.h"

#include <optional>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/ops/batch_norm.h"
#include "nn/python_repr.h"

namespace attnkit::nn {

BatchNormBase::BatchNormBase(const BatchNormOptions& o)
    : num_features(o.num_features),
      eps(o.eps),
      momentum(o.momentum),
      affine(o.affine),
      track_running_stats(o.track_running_stats) {
  AK_CHECK(num_features > 0, "BatchNorm: num_features must be positive, got ", num_features);
  weight = register_parameter("weight", affine ? ones({num_features}) : Tensor());
  bias = register_parameter("bias", affine && o.bias ? zeros({num_features}) : Tensor());
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}));
    running_var = register_buffer("running_var", ones({num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
  } else {
    register_buffer("running_mean", Tensor());
    register_buffer("running_var", Tensor());
    register_buffer("num_batches_tracked", Tensor());
  }
}

void BatchNormBase::reset_running_stats() {
  if (!track_running_stats) return;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(1.0);
  if (bias.defined()) bias.zero_();
}

Tensor BatchNormBase::forward(const Tensor& x) {
  check_input_dim(x);
  AK_CHECK(x.size(1) == num_features, name(), ": expected an input with ", num_features,
           " channels (num_features), got shape ", shape_str(x.shape()));
  // torch's _BatchNorm.forward: count the batch, and with momentum = None
  // average every batch so far equally (factor 1 / batches).
  double factor = momentum.value_or(0.0);
  // Training updates the running statistics in place: one thread at a time.
  std::optional<ExclusiveUse> in_use;
  if (is_training() && track_running_stats) {
    in_use.emplace(in_use_flag(), name());
    int64_t& batches = num_batches_tracked.data<int64_t>()[0];
    batches += 1;
    if (!momentum) factor = 1.0 / static_cast<double>(batches);
  }
  // Batch statistics in training, and in eval when there are no running ones.
  const bool use_batch_stats = is_training() || !running_mean.defined();
  // Running statistics are read in eval, and updated in training only when tracked.
  const bool pass_running = !is_training() || track_running_stats;
  return batch_norm(x, pass_running ? running_mean : Tensor(), pass_running ? running_var : Tensor(), weight, bias,
                    use_batch_stats, factor, eps);
}

std::string BatchNormBase::extra_repr() const {
  auto flag = [](bool b) { return b ? "True" : "False"; };
  std::string out = std::to_string(num_features);
  out.append(", eps=").append(python_float_repr(eps));
  out.append(", momentum=").append(momentum ? python_float_repr(*momentum) : "None");
  out.append(", affine=").append(flag(affine)).append(", bias=").append(flag(bias.defined()));
  return out.append(", track_running_stats=").append(flag(track_running_stats));
}

void BatchNorm1d::check_input_dim(const Tensor& x) const {
  AK_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected a 2-D (N, C) or 3-D (N, C, L) input, got shape ",
           shape_str(x.shape()));
}

void BatchNorm2d::check_input_dim(const Tensor& x) const {
  AK_CHECK(x.dim() == 4, "BatchNorm2d: expected a 4-D (N, C, H, W) input, got shape ", shape_str(x.shape()));
}

}  // namespace attnkit::nn
