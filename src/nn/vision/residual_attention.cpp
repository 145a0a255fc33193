#include "attnkit/nn/vision/residual_attention.h"

#include <sstream>
#include <vector>

#include "attnkit/core/error.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/pooling.h"
#include "attnkit/ops/upsample.h"

namespace attnkit::nn::vision {

namespace {

std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t kernel, bool bias, Generator* generator) {
  return std::make_shared<Conv2d>(
      ConvOptions{.in_channels = in, .out_channels = out, .kernel_size = kernel, .padding = kernel / 2, .bias = bias},
      generator);
}

// The paper's down-sampling: max-pool 3×3, stride 2, pad 1 (H -> ceil(H / 2)).
Tensor pool_down(const Tensor& x) { return max_pool2d(x, 3, 2, 1); }

// Bilinear resize of x to the spatial size of `like`.
Tensor upsample_to(const Tensor& x, const Tensor& like) {
  return interpolate(x, {.size = {like.size(2), like.size(3)}, .mode = "bilinear", .align_corners = false});
}

}  // namespace

// ---- ResidualUnit ----

ResidualUnit::ResidualUnit(int64_t channels_, Generator* generator) : channels(channels_) {
  AK_CHECK(channels > 0 && channels % 4 == 0,
           "ResidualAttention: channels must be a positive multiple of 4 (the bottleneck width is channels / 4), got ",
           channels);
  const int64_t width = channels / 4;
  norm1 = register_module("norm1", std::make_shared<BatchNorm2d>(channels));
  conv1 = register_module("conv1", conv(channels, width, 1, false, generator));
  norm2 = register_module("norm2", std::make_shared<BatchNorm2d>(width));
  conv2 = register_module("conv2", conv(width, width, 3, false, generator));
  norm3 = register_module("norm3", std::make_shared<BatchNorm2d>(width));
  conv3 = register_module("conv3", conv(width, channels, 1, false, generator));
}

Tensor ResidualUnit::forward(const Tensor& x) {
  Tensor out = conv1->forward(relu(norm1->forward(x)));  // (B, C/4, H, W)
  out = conv2->forward(relu(norm2->forward(out)));      // (B, C/4, H, W)
  out = conv3->forward(relu(norm3->forward(out)));      // (B, C, H, W)
  return add(out, x);
}

// ---- ResidualUnits ----

ResidualUnits::ResidualUnits(int64_t channels, int64_t count, Generator* generator) {
  AK_CHECK(count >= 0, "ResidualAttention: the number of residual units must be >= 0, got ", count);
  for (int64_t i = 0; i < count; ++i) push_back(std::make_shared<ResidualUnit>(channels, generator));
}

Tensor ResidualUnits::forward(const Tensor& x) {
  Tensor out = x;
  for (const std::shared_ptr<ResidualUnit>& unit : items()) out = unit->forward(out);
  return out;
}

// ---- SoftMaskBranch ----

SoftMaskBranch::SoftMaskBranch(int64_t channels_, int64_t r, int64_t depth_, Generator* generator)
    : channels(channels_), depth(depth_) {
  AK_CHECK(depth >= 1 && r >= 0, "ResidualAttention: the mask branch needs depth >= 1 and r >= 0, got depth=", depth,
           ", r=", r);
  down = register_module("down", std::make_shared<ModuleList<ResidualUnits>>());
  skip = register_module("skip", std::make_shared<ModuleList<ResidualUnit>>());
  for (int64_t i = 0; i < depth; ++i) {
    down->push_back(std::make_shared<ResidualUnits>(channels, r, generator));
    if (i + 1 < depth) skip->push_back(std::make_shared<ResidualUnit>(channels, generator));
  }
  bottom = register_module("bottom", std::make_shared<ResidualUnits>(channels, r, generator));
  up = register_module("up", std::make_shared<ModuleList<ResidualUnits>>());
  for (int64_t i = 0; i + 1 < depth; ++i) up->push_back(std::make_shared<ResidualUnits>(channels, r, generator));
  norm1 = register_module("norm1", std::make_shared<BatchNorm2d>(channels));
  conv1 = register_module("conv1", conv(channels, channels, 1, false, generator));
  norm2 = register_module("norm2", std::make_shared<BatchNorm2d>(channels));
  conv2 = register_module("conv2", conv(channels, channels, 1, true, generator));
}

Tensor SoftMaskBranch::forward(const Tensor& x) {
  // Bottom-up: h[i] at 1 / 2^i of the input's resolution.
  std::vector<Tensor> h = {x};
  for (int64_t i = 0; i < depth; ++i) h.push_back((*down)[static_cast<size_t>(i)].forward(pool_down(h.back())));
  // Top-down, adding each level's skip unit.
  Tensor u = bottom->forward(h.back());
  for (int64_t i = depth - 1; i >= 1; --i) {
    u = (*up)[static_cast<size_t>(i - 1)].forward(
        add(upsample_to(u, h[i]), (*skip)[static_cast<size_t>(i - 1)].forward(h[i])));
  }
  u = upsample_to(u, x);  // (B, C, H, W)
  u = conv1->forward(relu(norm1->forward(u)));
  u = conv2->forward(relu(norm2->forward(u)));
  return sigmoid(u);
}

std::string SoftMaskBranch::extra_repr() const {
  return "channels=" + std::to_string(channels) + ", depth=" + std::to_string(depth);
}

// ---- ResidualAttention ----

namespace {

const ResidualAttentionOptions& checked(const ResidualAttentionOptions& o) {
  AK_CHECK(o.channels > 0 && o.channels % 4 == 0,
           "ResidualAttention: channels must be a positive multiple of 4 (the bottleneck width is channels / 4), got ",
           o.channels);
  AK_CHECK(o.p >= 0 && o.t >= 0 && o.r >= 0, "ResidualAttention: p, t and r must be >= 0, got p=", o.p,
           ", t=", o.t, ", r=", o.r);
  AK_CHECK(o.depth >= 1, "ResidualAttention: depth (the mask's down-samplings) must be >= 1, got ", o.depth);
  return o;
}

}  // namespace

ResidualAttention::ResidualAttention(const ResidualAttentionOptions& o, Generator* generator)
    : options(checked(o)) {
  pre = register_module("pre", std::make_shared<ResidualUnits>(o.channels, o.p, generator));
  trunk = register_module("trunk", std::make_shared<ResidualUnits>(o.channels, o.t, generator));
  mask = register_module("mask", std::make_shared<SoftMaskBranch>(o.channels, o.r, o.depth, generator));
  post = register_module("post", std::make_shared<ResidualUnits>(o.channels, o.p, generator));
}

Tensor ResidualAttention::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  AK_CHECK(x.defined() && x.dim() == 4, "ResidualAttention: expected input (B, C, H, W), got shape ",
           x.defined() ? shape_str(x.shape()) : std::string("nothing"));
  AK_CHECK(x.size(1) == options.channels, "ResidualAttention: expected ", options.channels,
           " input channels, got input of shape ", shape_str(x.shape()));
  AK_CHECK(x.size(2) > 0 && x.size(3) > 0, "ResidualAttention: expected a non-empty image, got input of shape ",
           shape_str(x.shape()));
  Tensor features = pre->forward(x);
  Tensor t = trunk->forward(features);  // T (B, C, H, W)
  Tensor m = mask->forward(features);   // M (B, C, H, W)
  mask_map_ = m.detach();
  return post->forward(mul(add(m, 1.0), t));  // attention residual learning: (1 + M) · T
}

std::string ResidualAttention::extra_repr() const {
  std::ostringstream out;
  out << "channels=" << options.channels << ", p=" << options.p << ", t=" << options.t << ", r=" << options.r
      << ", depth=" << options.depth;
  return out.str();
}

}  // namespace attnkit::nn::vision
