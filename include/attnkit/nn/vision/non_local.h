#pragma once
// The non-local block (Wang et al. 2018, "Non-local Neural Networks", §3.2),
// embedded-Gaussian form, as timm's NonLocalAttn (timm/layers/non_local_attn.py):
// every position attends to every other position of the same feature map.
//
//   x (B, C, H, W)
//   θ = t(x), φ = p(x), g = g(x)             1×1 convs C -> C'      (B, C', H, W)
//   A = softmax(θᵀφ · scale) over keys        (B, HW, HW), scale = C^-½ (of the *input* channels, as timm)
//   y = x + norm(z(A gᵀ))                     z: 1×1 conv C' -> C, norm: BatchNorm2d(C)
//
// The attention runs on the fused kernel (functional::scaled_dot_product_attention)
// with θ, φ, g as query, key and value of one head, (B, 1, HW, C'): the HW × HW
// weights are never formed in the forward or the backward.
//
// Parameters t / p / g / z (weight, bias) and norm (BatchNorm2d), as timm's, so a
// timm NonLocalAttn state_dict loads unchanged. Initialisation as timm's
// reset_parameters: conv weights kaiming-normal (fan_out, ReLU gain), conv biases 0,
// and norm's weight and bias 0 — so a fresh block is the identity and a network
// it is inserted into starts as it was.
//
//   nn::vision::NonLocal block({.in_channels = 64});
//   Tensor y = block.forward(x);           // (B, 64, H, W) -> (B, 64, H, W)
//   Tensor a = block.attention_map();      // (B, HW, HW)

#include <memory>
#include <optional>

#include "attnkit/core/rng.h"
#include "attnkit/nn/batch_norm.h"
#include "attnkit/nn/conv.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn::vision {

struct NonLocalOptions {
  int64_t in_channels = 0;  // C, > 0
  // Scale the scores by C^-½ (C = in_channels, not C': timm's choice, kept for
  // parity); false scales by 1.
  bool use_scale = true;
  double rd_ratio = 1.0 / 8;  // C' = make_divisible(C · rd_ratio, rd_divisor) unless rd_channels is given
  std::optional<int64_t> rd_channels = std::nullopt;  // C' directly, > 0
  int64_t rd_divisor = 8;
};

class NonLocal : public Module {
 public:
  explicit NonLocal(const NonLocalOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "NonLocal"; }
  std::string extra_repr() const override;

  // x (B, C, H, W) -> (B, C, H, W). Keeps the detached query and key for attention_map().
  Tensor forward(const Tensor& x);

  // The softmax weights of the last input, (B, HW, HW): row i = how position i
  // (row-major over H, W) spreads its attention over all positions; each row sums to 1.
  // Undefined before the first forward. The forward does not form this HW × HW
  // matrix (the fused kernel avoids it); it is computed here, on each call, from the
  // detached query and key the forward kept — O(B · HW² · C') work and memory.
  Tensor attention_map() const;

  // timm's reset_parameters (see above).
  void reset_parameters(Generator* generator = nullptr);

  int64_t in_channels, rd_channels;
  double scale;  // C^-½ or 1
  std::shared_ptr<Conv2d> t, p, g;  // C -> C', 1×1: query (θ), key (φ), value (g)
  std::shared_ptr<Conv2d> z;        // C' -> C, 1×1
  std::shared_ptr<BatchNorm2d> norm;

 private:
  Tensor query_, key_;  // (B, 1, HW, C'), detached, from the last forward
};

// timm's name for the block.
using NonLocalAttn = NonLocal;

}  // namespace attnkit::nn::vision
