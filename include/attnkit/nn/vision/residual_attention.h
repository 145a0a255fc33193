#pragma once
// The attention module of the Residual Attention Network (Wang et al. 2017,
// "Residual Attention Network for Image Classification", §3): a trunk branch T
// and a bottom-up / top-down soft-mask branch M in [0, 1] of the same shape,
// combined by attention residual learning (§3.1, eq. 3):
//
//   x (B, C, H, W)
//   x = pre(x)                            p residual units
//   T = trunk(x)                          t residual units
//   M = mask(x)                           hourglass, sigmoid        (B, C, H, W)
//   y = post((1 + M) · T)                 p residual units
//
// The mask branch (§3.2, Fig. 3) with depth d down-samplings:
//
//   h_0 = x
//   h_i = down[i-1](maxpool(h_{i-1}))                 i = 1..d  (max-pool 3, stride 2, pad 1; r units)
//   u_d = bottom(h_d)                                  r units: 2r units between the last pool and the first up-sampling
//   u_i = up[i-1](bilinear(u_{i+1}, size of h_i) + skip[i-1](h_i))   i = d-1..1  (skip: one unit; r units)
//   M   = σ(conv2(relu(norm2(conv1(relu(norm1(bilinear(u_1, size of x))))))))   two 1×1 convs
//
// The skip connections (one residual unit each, between the bottom-up and the
// top-down part at the same resolution) exist for d >= 2. Bilinear up-sampling
// resizes to the skip's exact size (align_corners false), so any H, W works.
//
// Residual unit: the pre-activation bottleneck (He et al. 2016), width C/4:
//   x + conv3(relu(norm3(conv2(relu(norm2(conv1(relu(norm1(x)))))))))   1×1 C->C/4, 3×3, 1×1 C/4->C
// Convs without bias (a batch norm follows each, except the mask's last conv,
// which feeds the sigmoid and has one).
//
// timm has no such block; the children are named plainly and the test's torch.nn
// reference uses the same names, so state_dicts move unchanged:
//   pre.0.norm1.weight, trunk.1.conv2.weight, post.0...,
//   mask.down.0.0.conv1.weight, mask.skip.0.norm1.weight, mask.bottom.0..., mask.up.0.0...,
//   mask.norm1, mask.conv1, mask.norm2, mask.conv2.
// Initialisation: torch's defaults (nn::Conv2d, nn::BatchNorm2d).
//
//   nn::vision::ResidualAttention block({.channels = 64, .depth = 2});
//   Tensor y = block.forward(x);        // (B, 64, H, W) -> (B, 64, H, W)
//   Tensor m = block.attention_map();   // (B, 64, H, W), in [0, 1]

#include <memory>

#include "attnkit/core/rng.h"
#include "attnkit/nn/batch_norm.h"
#include "attnkit/nn/conv.h"
#include "attnkit/nn/module.h"
#include "attnkit/nn/module_list.h"

namespace attnkit::nn::vision {

struct ResidualAttentionOptions {
  int64_t channels = 0;  // C, > 0 and divisible by 4 (the bottleneck width is C/4)
  int64_t p = 1;         // residual units before (pre) and after (post) the module, >= 0
  int64_t t = 2;         // residual units of the trunk branch, >= 0
  int64_t r = 1;         // residual units between adjacent poolings / up-samplings of the mask, >= 0
  int64_t depth = 1;     // max-pool down-samplings of the mask's hourglass, >= 1 (the paper uses 1 to 3)
};

// The pre-activation bottleneck residual unit, (B, C, H, W) -> (B, C, H, W).
class ResidualUnit : public Module {
 public:
  explicit ResidualUnit(int64_t channels, Generator* generator = nullptr);
  std::string name() const override { return "ResidualUnit"; }
  std::string extra_repr() const override { return "channels=" + std::to_string(channels); }
  Tensor forward(const Tensor& x);

  int64_t channels;
  std::shared_ptr<BatchNorm2d> norm1, norm2, norm3;
  std::shared_ptr<Conv2d> conv1, conv2, conv3;  // 1×1 C->C/4, 3×3 C/4->C/4 (pad 1), 1×1 C/4->C
};

// Residual units applied in order (torch's nn.Sequential of them; children "0", "1", ...).
// Empty: the identity.
class ResidualUnits : public ModuleList<ResidualUnit> {
 public:
  ResidualUnits(int64_t channels, int64_t count, Generator* generator = nullptr);
  std::string name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x);
};

// The soft-mask branch (see above): (B, C, H, W) -> M (B, C, H, W) in [0, 1].
class SoftMaskBranch : public Module {
 public:
  SoftMaskBranch(int64_t channels, int64_t r, int64_t depth, Generator* generator = nullptr);
  std::string name() const override { return "SoftMaskBranch"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x);

  int64_t channels, depth;
  std::shared_ptr<ModuleList<ResidualUnits>> down;  // depth entries, r units each, after each max-pool
  std::shared_ptr<ModuleList<ResidualUnit>> skip;   // depth - 1 units, on h_1 .. h_{depth-1}
  std::shared_ptr<ResidualUnits> bottom;            // r units at the lowest resolution
  std::shared_ptr<ModuleList<ResidualUnits>> up;    // depth - 1 entries, r units each; up[i] at h_{i+1}'s size
  std::shared_ptr<BatchNorm2d> norm1, norm2;
  std::shared_ptr<Conv2d> conv1, conv2;  // 1×1 C->C (no bias), 1×1 C->C (bias), then the sigmoid
};

class ResidualAttention : public Module {
 public:
  explicit ResidualAttention(const ResidualAttentionOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "ResidualAttention"; }
  std::string extra_repr() const override;

  // x (B, C, H, W) -> (B, C, H, W).
  Tensor forward(const Tensor& x);

  // The soft mask M of the last input, (B, C, H, W), each value in [0, 1]: how much
  // the module amplifies each trunk feature ((1 + M) · T). Detached; undefined
  // before the first forward.
  Tensor attention_map() const { return mask_map_; }

  ResidualAttentionOptions options;
  std::shared_ptr<ResidualUnits> pre, trunk, post;
  std::shared_ptr<SoftMaskBranch> mask;

 private:
  Tensor mask_map_;
};

}  // namespace attnkit::nn::vision
