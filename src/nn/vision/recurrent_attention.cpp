#include "attnkit/nn/vision/recurrent_attention.h"

#include <cmath>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "attnkit/core/error.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/affine_grid.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/grid_sample.h"
#include "attnkit/ops/join.h"
#include "attnkit/ops/linear.h"
#include "attnkit/ops/pooling.h"
#include "attnkit/ops/reduce.h"
#include "attnkit/ops/softmax.h"

namespace attnkit::nn::vision {

namespace {

void check_options(const RecurrentAttentionOptions& o) {
  const char* block = "RecurrentAttention";
  AK_CHECK(o.in_channels > 0, block, ": in_channels must be positive, got ", o.in_channels);
  AK_CHECK(o.num_classes > 0, block, ": num_classes must be positive, got ", o.num_classes);
  AK_CHECK(o.glimpse_size > 0, block, ": glimpse_size must be positive, got ", o.glimpse_size);
  AK_CHECK(o.num_scales > 0 && o.num_scales <= 16, block, ": num_scales must be in [1, 16], got ", o.num_scales);
  AK_CHECK(o.num_glimpses > 0, block, ": num_glimpses must be positive, got ", o.num_glimpses);
  AK_CHECK(o.glimpse_hidden > 0 && o.location_hidden > 0 && o.glimpse_dim > 0 && o.hidden_size > 0, block,
           ": glimpse_hidden, location_hidden, glimpse_dim and hidden_size must be positive, got ",
           o.glimpse_hidden, ", ", o.location_hidden, ", ", o.glimpse_dim, " and ", o.hidden_size);
  AK_CHECK(std::isfinite(o.std) && o.std > 0, block, ": std must be positive, got ", o.std);
  AK_CHECK(o.core == "rnn" || o.core == "lstm", block, ": core must be \"rnn\" or \"lstm\", got \"", o.core,
           "\"");
}

// The values of a float tensor, row-major (small tensors: locations).
std::vector<float> float_values(const Tensor& t) {
  Tensor c = t.detach().contiguous();
  const float* data = c.data<float>();
  return std::vector<float>(data, data + c.numel());
}

Tensor clamp_unit(const Tensor& x) { return minimum(maximum(x, scalar_like(-1.0, x)), scalar_like(1.0, x)); }

}  // namespace

// ---- glimpse sensor ----

Tensor glimpse_sensor(const Tensor& images, const Tensor& locations, int64_t glimpse_size, int64_t num_scales) {
  AK_CHECK(images.defined() && images.dim() == 4, "glimpse_sensor: expected images of shape (B, C, H, W), got ",
           images.defined() ? shape_str(images.shape()) : "an undefined tensor");
  const int64_t batch = images.size(0), channels = images.size(1);
  const int64_t height = images.size(2), width = images.size(3);
  AK_CHECK(locations.defined() && locations.dim() == 2 && locations.size(0) == batch && locations.size(1) == 2,
           "glimpse_sensor: expected locations of shape (", batch, ", 2), got ",
           locations.defined() ? shape_str(locations.shape()) : "an undefined tensor");
  AK_CHECK(glimpse_size > 0 && num_scales > 0, "glimpse_sensor: glimpse_size and num_scales must be positive, got ",
           glimpse_size, " and ", num_scales);
  AK_CHECK(height > 0 && width > 0, "glimpse_sensor: empty images of shape ", shape_str(images.shape()));
  const std::vector<float> where = float_values(locations.to(kFloat32));
  std::vector<Tensor> scales;
  for (int64_t i = 0; i < num_scales; ++i) {
    const int64_t factor = int64_t{1} << i, side = glimpse_size * factor;
    std::vector<float> theta(static_cast<size_t>(batch * 6), 0.0f);  // (B, 2, 3)
    for (int64_t b = 0; b < batch; ++b) {
      float* t = theta.data() + b * 6;
      t[0] = static_cast<float>(static_cast<double>(side) / static_cast<double>(width));
      t[2] = where[static_cast<size_t>(2 * b)];
      t[4] = static_cast<float>(static_cast<double>(side) / static_cast<double>(height));
      t[5] = where[static_cast<size_t>(2 * b + 1)];
    }
    Tensor grid = affine_grid(from_vector(theta, {batch, 2, 3}), {batch, channels, side, side}, false);
    Tensor patch = grid_sample(images, grid, "bilinear", "zeros", false);  // (B, C, side, side)
    if (factor > 1) patch = avg_pool2d(patch, factor);                     // (B, C, g, g)
    scales.push_back(patch);
  }
  return stack(scales, 1);  // (B, k, C, g, g)
}

// ---- glimpse network ----

GlimpseNetwork::GlimpseNetwork(const RecurrentAttentionOptions& o, Generator* generator) {
  const int64_t patch_features = o.num_scales * o.in_channels * o.glimpse_size * o.glimpse_size;
  patch_fc = register_module("patch_fc", std::make_shared<Linear>(patch_features, o.glimpse_hidden, true, generator));
  location_fc = register_module("location_fc", std::make_shared<Linear>(2, o.location_hidden, true, generator));
  what = register_module("what", std::make_shared<Linear>(o.glimpse_hidden, o.glimpse_dim, true, generator));
  where = register_module("where", std::make_shared<Linear>(o.location_hidden, o.glimpse_dim, true, generator));
}

Tensor GlimpseNetwork::forward(const Tensor& patches, const Tensor& location) const {
  Tensor h_g = relu(patch_fc->forward(patches));      // (B, glimpse_hidden)
  Tensor h_l = relu(location_fc->forward(location));  // (B, location_hidden)
  return relu(add(what->forward(h_g), where->forward(h_l)));
}

// ---- core network ----

RecurrentCore::RecurrentCore(int64_t input, int64_t hidden, bool is_lstm, Generator* generator)
    : input_size(input), hidden_size(hidden), lstm(is_lstm) {
  const int64_t gates = lstm ? 4 : 1;
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  weight_ih = register_parameter("weight_ih", empty({gates * hidden, input}));
  weight_hh = register_parameter("weight_hh", empty({gates * hidden, hidden}));
  bias_ih = register_parameter("bias_ih", empty({gates * hidden}));
  bias_hh = register_parameter("bias_hh", empty({gates * hidden}));
  for (Tensor* t : {&weight_ih, &weight_hh, &bias_ih, &bias_hh}) init::uniform_(*t, -bound, bound, generator);
}

std::string RecurrentCore::extra_repr() const {
  return std::to_string(input_size) + ", " + std::to_string(hidden_size) + (lstm ? "" : ", nonlinearity=relu");
}

RecurrentCore::State RecurrentCore::forward(const Tensor& x, const State& state) const {
  Tensor gates = add(linear(x, weight_ih, bias_ih), linear(state.h, weight_hh, bias_hh));  // (B, gates · hidden)
  if (!lstm) return {relu(gates), Tensor()};
  std::vector<Tensor> q = chunk(gates, 4, 1);  // input, forget, cell, output (torch's order)
  Tensor c = add(mul(sigmoid(q[1]), state.c), mul(sigmoid(q[0]), tanh(q[2])));
  return {mul(sigmoid(q[3]), tanh(c)), c};
}

// ---- the model ----

RecurrentAttention::RecurrentAttention(const RecurrentAttentionOptions& options, Generator* generator)
    : options_(options) {
  check_options(options);
  glimpse_net = register_module("glimpse_net", std::make_shared<GlimpseNetwork>(options, generator));
  core = register_module("core", std::make_shared<RecurrentCore>(options.glimpse_dim, options.hidden_size,
                                                                 options.core == "lstm", generator));
  location_net = register_module("location_net", std::make_shared<Linear>(options.hidden_size, 2, true, generator));
  baseline_net = register_module("baseline_net", std::make_shared<Linear>(options.hidden_size, 1, true, generator));
  classifier = register_module("classifier",
                               std::make_shared<Linear>(options.hidden_size, options.num_classes, true, generator));
}

std::string RecurrentAttention::extra_repr() const {
  const RecurrentAttentionOptions& o = options_;
  std::ostringstream out;
  out << "in_channels=" << o.in_channels << ", num_classes=" << o.num_classes << ", glimpse_size=" << o.glimpse_size
      << ", num_scales=" << o.num_scales << ", num_glimpses=" << o.num_glimpses << ", std=" << o.std
      << ", core=" << o.core;
  return out.str();
}

RecurrentAttentionOutput RecurrentAttention::forward(const Tensor& x, Generator* generator) {
  Tensor noise;
  if (is_training() && x.defined() && x.dim() == 4) noise = randn({x.size(0), options_.num_glimpses, 2}, generator);
  return forward(x, noise);
}

RecurrentAttentionOutput RecurrentAttention::forward(const Tensor& x, const Tensor& noise) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  const RecurrentAttentionOptions& o = options_;
  AK_CHECK(x.defined() && x.dim() == 4, "RecurrentAttention: expected input of shape (B, C, H, W), got ",
           x.defined() ? shape_str(x.shape()) : "an undefined tensor");
  AK_CHECK(x.size(1) == o.in_channels, "RecurrentAttention: expected ", o.in_channels,
           " input channels, got input of shape ", shape_str(x.shape()));
  AK_CHECK(x.size(2) > 0 && x.size(3) > 0, "RecurrentAttention: empty image in input of shape ",
           shape_str(x.shape()));
  const int64_t batch = x.size(0), steps = o.num_glimpses;
  const bool sample = is_training();
  if (sample) {
    AK_CHECK(noise.defined() && noise.shape() == Shape({batch, steps, 2}),
             "RecurrentAttention: training needs location noise of shape ", shape_str({batch, steps, 2}), ", got ",
             noise.defined() ? shape_str(noise.shape()) : "none");
  }

  // log N(l; μ, σ²) per coordinate = -(l - μ)² / (2σ²) - log σ - ½ log 2π
  const double inv_two_var = 1.0 / (2.0 * o.std * o.std);
  const double log_norm = std::log(o.std) + 0.5 * std::log(2.0 * std::numbers::pi);

  RecurrentCore::State state{zeros({batch, o.hidden_size}), o.core == "lstm" ? zeros({batch, o.hidden_size})
                                                                             : Tensor()};
  std::vector<Tensor> locations, log_pi, baselines;
  for (int64_t t = 0; t < steps; ++t) {
    Tensor h = state.h.detach();                       // the policy and baseline do not train the core
    Tensor mu = tanh(location_net->forward(h));        // (B, 2)
    Tensor action = mu.detach();                       // the sample is a constant for autograd
    if (sample) action = add(action, mul(noise.select(1, t).to(kFloat32).detach(), o.std));
    Tensor diff = sub(action, mu);
    log_pi.push_back(sum(sub(neg(mul(mul(diff, diff), inv_two_var)), log_norm), {1}));  // (B)
    baselines.push_back(baseline_net->forward(h).squeeze(1));                           // (B)

    Tensor l = clamp_unit(action);  // (B, 2), the location actually looked at
    Tensor patches = glimpse_sensor(x, l, o.glimpse_size, o.num_scales).flatten(1);  // (B, k·C·g·g)
    state = core->forward(glimpse_net->forward(patches, l), state);
    locations.push_back(l);
  }
  RecurrentAttentionOutput out;
  out.log_probs = log_softmax(classifier->forward(state.h), 1);  // (B, num_classes)
  out.locations = stack(locations, 1);                           // (B, T, 2)
  out.log_pi = stack(log_pi, 1);                                 // (B, T)
  out.baselines = stack(baselines, 1);                           // (B, T)
  locations_ = out.locations.detach();
  image_height_ = x.size(2);
  image_width_ = x.size(3);
  return out;
}

Tensor RecurrentAttention::glimpse_boxes() const {
  if (!locations_.defined()) return Tensor();
  const int64_t batch = locations_.size(0), steps = locations_.size(1), scales = options_.num_scales;
  const std::vector<float> where = float_values(locations_);
  std::vector<float> boxes;
  boxes.reserve(static_cast<size_t>(batch * steps * scales * 4));
  for (size_t n = 0; n < where.size(); n += 2) {
    // Normalised -1 .. 1 spans the image's outer edges (align_corners=False).
    const double cx = (where[n] + 1.0) * 0.5 * static_cast<double>(image_width_);
    const double cy = (where[n + 1] + 1.0) * 0.5 * static_cast<double>(image_height_);
    for (int64_t i = 0; i < scales; ++i) {
      const double half = 0.5 * static_cast<double>(options_.glimpse_size << i);
      for (double v : {cy - half, cx - half, cy + half, cx + half}) boxes.push_back(static_cast<float>(v));
    }
  }
  return from_vector(boxes, {batch, steps, scales, 4});
}

// ---- the hybrid loss ----

ReinforceLoss reinforce_loss(const RecurrentAttentionOutput& output, const Tensor& labels) {
  const Tensor& log_probs = output.log_probs;
  AK_CHECK(log_probs.defined() && log_probs.dim() == 2,
           "reinforce_loss: expected log_probs of shape (B, classes), got ",
           log_probs.defined() ? shape_str(log_probs.shape()) : "an undefined tensor");
  const int64_t batch = log_probs.size(0), classes = log_probs.size(1);
  AK_CHECK(output.log_pi.defined() && output.baselines.defined() && output.log_pi.dim() == 2 &&
               output.log_pi.size(0) == batch && output.baselines.shape() == output.log_pi.shape(),
           "reinforce_loss: expected log_pi and baselines of shape (", batch, ", T), got ",
           output.log_pi.defined() ? shape_str(output.log_pi.shape()) : "none", " and ",
           output.baselines.defined() ? shape_str(output.baselines.shape()) : "none");
  AK_CHECK(labels.defined() && labels.dtype() == kInt64 && labels.shape() == Shape({batch}),
           "reinforce_loss: expected int64 labels of shape (", batch, "), got ",
           labels.defined() ? shape_str(labels.shape()) + " " + std::string(dtype_name(labels.dtype())) : "none");
  AK_CHECK(batch > 0, "reinforce_loss: the batch is empty");
  const double low = min(labels).item(), high = max(labels).item();
  AK_CHECK(low >= 0 && high < static_cast<double>(classes), "reinforce_loss: labels must be in [0, ", classes,
           "), got values in [", low, ", ", high, "]");

  Tensor target = labels.unsqueeze(1);                                               // (B, 1)
  Tensor one_hot = eq(arange(static_cast<double>(classes)).unsqueeze(0), target).to(kFloat32);  // (B, classes)
  Tensor reward = eq(argmax(log_probs.detach(), 1), labels).to(kFloat32);          // (B) R
  Tensor advantage = sub(reward.unsqueeze(1), output.baselines.detach());            // (B, T)
  Tensor baseline_error = sub(output.baselines, reward.unsqueeze(1));                // (B, T)

  ReinforceLoss loss;
  loss.classification = neg(mean(sum(mul(log_probs, one_hot), {1})));
  loss.reinforce = mean(sum(neg(mul(output.log_pi, advantage)), {1}));
  loss.baseline = mean(mul(baseline_error, baseline_error));
  loss.total = add(add(loss.classification, loss.reinforce), loss.baseline);
  return loss;
}

}  // namespace attnkit::nn::vision
