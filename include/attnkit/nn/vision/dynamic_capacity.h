#pragma once
// Dynamic Capacity Network (Almahairi et al. 2016, "Dynamic Capacity
// Networks"): a cheap coarse net looks at the whole image, a gradient-based
// attention picks the few regions that matter, and an expensive fine net
// looks at those regions only.
//
//   coarse   = f_c(x)                                  (B, D, h, w)
//   saliency = ‖∂H(softmax(g(coarse))) / ∂coarse‖₂     (B, h, w), norm over D
//   top-k positions by saliency; the input patch of each goes through f_f
//   merged   = coarse with those k positions replaced by f_f's vectors
//   logits   = g(merged)                               (B, num_classes)
//
// g, the "top layers", is SiLU(1×1 conv D -> D) -> global average pool ->
// Linear(D, num_classes). The 1×1 layer is ours: with the pool directly
// after the coarse map, g is linear in each position's vector and treats all
// positions alike, so the entropy gradient would be the same at every
// position and the saliency flat. A position-wise non-linearity before the
// pool is the smallest head under which it depends on what each position
// saw, and it has to be a smooth one: after a ReLU the gradient at a
// position depends only on which of its D units are active, so positions tie
// in whole groups (all of them, when every unit is active) and top-k picks
// among equals; SiLU's slope varies with every value.
//
// The saliency is a local gradient computation that trains nothing: the
// coarse map is detached into a fresh leaf, g runs on it with detached
// copies of its weights, and the entropy (summed over the batch: each
// sample's depends on its own features only) is backpropagated to that leaf
// alone. No parameter receives a gradient from it, no graph of it survives,
// and it runs even under NoGradGuard or in eval mode (as
// torch.autograd.grad(H.sum(), coarse.detach().requires_grad_()) would).
// Top-k is not differentiable: the positions are a discrete choice, and the
// gradient of a loss on the logits flows into the fine net at the chosen
// positions and into the coarse net everywhere else (paper §2.1).
//
// Patch geometry. Coarse position (i, j) stands for the input patch of side
// patch_size whose top-left corner is (i · patch_stride - patch_padding,
// j · patch_stride - patch_padding): the coarse net's receptive field, total
// stride and the padding its first layer adds. The input is zero-padded by
// patch_padding before cutting, so a patch may reach that far past the edge.
// The default nets are built to that geometry; nets of your own must agree
// with the options you give.
//
//   vision::DynamicCapacity dcn({.in_channels = 1, .num_classes = 10, .dim = 32, .top_k = 4,
//                                .patch_size = 8, .patch_stride = 4});
//   Tensor logits = dcn.forward(x);            // (B, 1, 28, 28) -> (B, 10)
//   Tensor boxes = dcn.selected_regions();     // (B, 4, 4) int64 (y0, x0, y1, x1)

#include <functional>
#include <memory>
#include <string>

#include "attnkit/core/rng.h"
#include "attnkit/nn/conv.h"
#include "attnkit/nn/linear.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn::vision {

// A sub-network supplied by the caller: the module (registered as a child,
// so its parameters train, save and load with the block) and how to run it.
struct FeatureNet {
  std::shared_ptr<Module> module;
  std::function<Tensor(const Tensor&)> forward;
};

struct DynamicCapacityOptions {
  int64_t in_channels = 0;  // C of the input, > 0
  int64_t num_classes = 0;  // > 0
  int64_t dim = 32;         // D: the feature size of both nets and the input size of the top layers
  int64_t top_k = 4;        // positions given to the fine net, 1 <= top_k <= h · w
  // The patch of one coarse position (see the header comment).
  int64_t patch_size = 4;     // > 0
  int64_t patch_stride = 0;   // >= 0; 0 means patch_size (patches side by side)
  int64_t patch_padding = 0;  // 0 <= patch_padding < patch_size
  // Hidden channels of the default fine net; 0 means 2 · dim (wider than the coarse net).
  int64_t fine_width = 0;
};

// The default coarse net f_c: conv1 (C -> D, kernel patch_size, stride
// patch_stride, padding patch_padding) -> ReLU -> conv2 (1×1, D -> D) -> ReLU.
// One position per patch, cheap: (B, C, H, W) -> (B, D, h, w).
class DynamicCapacityCoarseNet : public Module {
 public:
  DynamicCapacityCoarseNet(const DynamicCapacityOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "DynamicCapacityCoarseNet"; }
  Tensor forward(const Tensor& x) const;

  std::shared_ptr<Conv2d> conv1, conv2;
};

// The default fine net f_f, deeper and wider: conv1 (C -> W, 3×3, pad 1) ->
// ReLU -> conv2 (W -> W, 3×3, pad 1) -> ReLU -> conv3 (W -> D, kernel
// patch_size) -> ReLU; one patch to one vector: (N, C, P, P) -> (N, D, 1, 1).
class DynamicCapacityFineNet : public Module {
 public:
  DynamicCapacityFineNet(const DynamicCapacityOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "DynamicCapacityFineNet"; }
  Tensor forward(const Tensor& patches) const;

  std::shared_ptr<Conv2d> conv1, conv2, conv3;
};

class DynamicCapacity : public Module {
 public:
  // With the default coarse and fine nets.
  explicit DynamicCapacity(const DynamicCapacityOptions& options, Generator* generator = nullptr);
  // With nets of your own; an empty FeatureNet (no module) takes the default.
  // coarse: (B, C, H, W) -> (B, D, h, w); fine: (N, C, P, P) -> (N, D, 1, 1) or (N, D).
  DynamicCapacity(const DynamicCapacityOptions& options, FeatureNet coarse, FeatureNet fine,
                  Generator* generator = nullptr);
  std::string name() const override { return "DynamicCapacity"; }
  std::string extra_repr() const override;

  // x (B, C, H, W) -> logits (B, num_classes).
  Tensor forward(const Tensor& x);

  // The top layers g on a feature map (B, D, h, w) -> logits (B, num_classes).
  Tensor top_layers(const Tensor& features) const;

  // ---- maps of the last input (detached; undefined before the first forward) ----
  // The saliency (B, h, w): the L2 norm over D of the gradient of the entropy
  // of the coarse prediction with respect to each coarse vector; >= 0.
  Tensor attention_map() const { return saliency_; }
  // The chosen coarse positions (B, top_k, 2) int64 (row, column), by
  // decreasing saliency (ties, e.g. over a blank background: the lower flat
  // index first).
  Tensor selected_positions() const { return positions_; }
  // Their input patches (B, top_k, 4) int64 (y0, x0, y1, x1) in input pixels,
  // y1 and x1 exclusive; they reach past the image by up to patch_padding.
  Tensor selected_regions() const { return regions_; }

  // The options with the defaults resolved (patch_stride and fine_width > 0).
  const DynamicCapacityOptions& options() const { return options_; }

  std::shared_ptr<Module> coarse_net, fine_net;
  std::shared_ptr<Conv2d> top;          // the 1×1 layer of g (D -> D), followed by SiLU
  std::shared_ptr<Linear> classifier;   // the last layer of g (D -> num_classes)

 private:
  Tensor entropy_saliency(const Tensor& coarse) const;
  Tensor head(const Tensor& features, bool detach_weights) const;

  DynamicCapacityOptions options_;
  std::function<Tensor(const Tensor&)> coarse_forward_, fine_forward_;
  Tensor saliency_, positions_, regions_;
};

}  // namespace attnkit::nn::vision
