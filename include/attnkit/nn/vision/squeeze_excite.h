#pragma once
// Squeeze-and-Excitation (Hu et al. 2018, "Squeeze-and-Excitation Networks",
// section 3), as timm's SEModule: each channel is rescaled by a weight in
// (0, 1) computed from the whole feature map.
//
//   s = mean_{H,W}(x)                          // squeeze: (B, C, 1, 1)
//       (+ max_{H,W}(x), averaged, with add_maxpool)
//   w = sigmoid(fc2(relu(bn(fc1(s)))))         // excite:  (B, C, 1, 1)
//   y = x * w                                  // (B, C, H, W), broadcast over H, W
//
// fc1 (C -> rd) and fc2 (rd -> C) are 1×1 convolutions, as timm's, so its
// state_dict ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias") loads
// unchanged. timm's act_layer / gate_layer choices are fixed to its defaults,
// ReLU and sigmoid.
//
//   vision::SqueezeExcite se({.channels = 256});   // rd = 16
//   Tensor y = se.forward(x);                      // (B, 256, H, W)
//   Tensor w = se.attention_map();                 // (B, 256)

#include <memory>
#include <optional>

#include "attnkit/nn/batch_norm.h"
#include "attnkit/nn/conv.h"

namespace attnkit::nn::vision {

struct SqueezeExciteOptions {
  int64_t channels = 0;  // C, > 0
  // The bottleneck width rd = make_divisible(C · rd_ratio, rd_divisor) with
  // timm's round_limit 0 (round to nearest, at least rd_divisor); 1/16 is the
  // paper's reduction r = 16.
  double rd_ratio = 1.0 / 16;
  std::optional<int64_t> rd_channels = std::nullopt;  // overrides rd_ratio when given (> 0)
  int64_t rd_divisor = 8;
  bool add_maxpool = false;  // squeeze with (mean + max) / 2 (timm's experimental option)
  bool bias = true;          // biases of fc1 and fc2
  bool use_norm = false;     // a BatchNorm2d `bn` after fc1 (timm's norm_layer=nn.BatchNorm2d)
};

class SqueezeExcite : public Module {
 public:
  explicit SqueezeExcite(const SqueezeExciteOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "SqueezeExcite"; }
  std::string extra_repr() const override;

  // x (B, C, H, W) -> (B, C, H, W); H, W >= 1.
  Tensor forward(const Tensor& x);

  // The channel weights w of the last forward, (B, C) in (0, 1), detached;
  // undefined before the first forward.
  Tensor attention_map() const { return attention_map_; }

  int64_t channels, rd_channels;
  bool add_maxpool;
  std::shared_ptr<Conv2d> fc1;       // (rd, C, 1, 1)
  std::shared_ptr<BatchNorm2d> bn;   // (rd); null unless use_norm
  std::shared_ptr<Conv2d> fc2;       // (C, rd, 1, 1)

 private:
  Tensor attention_map_;
};

}  // namespace attnkit::nn::vision
