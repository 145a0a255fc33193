#pragma once
// Convolutional Block Attention Module (Woo et al. 2018, "CBAM", section 3),
// as timm's CbamModule: channel attention, then spatial attention, each a
// sigmoid gate multiplied into the features.
//
// Channel attention (the paper's eq. 2), children fc1 and fc2 (1×1 convs, the
// MLP shared by both descriptors):
//   a = mean_{H,W}(x), m = max_{H,W}(x)                     // (B, C, 1, 1) each
//   w_c = sigmoid(fc2(relu(fc1(a))) + fc2(relu(fc1(m))))    // (B, C, 1, 1)
//   x' = x * w_c
// Spatial attention (eq. 3), child `conv` = ConvNormAct without activation
// (conv.conv: Conv2d 2 -> 1, k×k, no bias; conv.bn: BatchNorm2d(1)):
//   d = [mean_C(x'), max_C(x')]                             // (B, 2, H, W)
//   w_s = sigmoid(conv(d))                                  // (B, 1, H, W)
//   y = x' * w_s
//
// Children are named as timm's ("channel.fc1.weight",
// "spatial.conv.conv.weight", "spatial.conv.bn.running_mean", ...), so its
// state_dict loads unchanged. The max over channels has ties (zeros after a
// ReLU): amax splits the gradient among them, as torch.
//
//   vision::CBAM cbam({.channels = 256});
//   Tensor y = cbam.forward(x);                 // (B, 256, H, W)
//   Tensor s = cbam.attention_map();            // (B, 1, H, W), the spatial map
//   Tensor c = cbam.channel_attention_map();    // (B, 256)

#include <memory>
#include <optional>

#include "attnkit/nn/conv.h"
#include "attnkit/nn/vision/conv_norm_act.h"

namespace attnkit::nn::vision {

struct CbamOptions {
  int64_t channels = 0;  // C, > 0
  // The MLP's width rd = make_divisible(C · rd_ratio, rd_divisor) with timm's
  // round_limit 0; the paper's reduction r = 16.
  double rd_ratio = 1.0 / 16;
  std::optional<int64_t> rd_channels = std::nullopt;  // overrides rd_ratio when given (> 0)
  int64_t rd_divisor = 1;
  int64_t spatial_kernel_size = 7;  // odd, > 0; the paper's 7×7
  bool mlp_bias = false;            // biases of fc1 and fc2 (timm has none)
};

// The channel half: x * sigmoid(MLP(avg) + MLP(max)). timm's ChannelAttn.
class CbamChannelAttention : public Module {
 public:
  CbamChannelAttention(int64_t channels, int64_t rd_channels, bool mlp_bias, Generator* generator = nullptr);
  std::string name() const override { return "CbamChannelAttention"; }

  // x (B, C, H, W) -> (B, C, H, W); checked by CBAM.
  Tensor forward(const Tensor& x);
  // w_c of the last forward, (B, C) in (0, 1), detached; undefined before the first.
  Tensor attention_map() const { return attention_map_; }

  std::shared_ptr<Conv2d> fc1;  // (rd, C, 1, 1)
  std::shared_ptr<Conv2d> fc2;  // (C, rd, 1, 1)

 private:
  Tensor attention_map_;
};

// The spatial half: x * sigmoid(bn(conv([mean_C, max_C]))). timm's SpatialAttn.
class CbamSpatialAttention : public Module {
 public:
  explicit CbamSpatialAttention(int64_t kernel_size, Generator* generator = nullptr);
  std::string name() const override { return "CbamSpatialAttention"; }

  // x (B, C, H, W) -> (B, C, H, W)
  Tensor forward(const Tensor& x);
  // w_s of the last forward, (B, 1, H, W) in (0, 1), detached; undefined before the first.
  Tensor attention_map() const { return attention_map_; }

  std::shared_ptr<ConvNormAct> conv;  // conv.conv (1, 2, k, k), conv.bn (1)

 private:
  Tensor attention_map_;
};

class CBAM : public Module {
 public:
  explicit CBAM(const CbamOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "CBAM"; }
  std::string extra_repr() const override;

  // x (B, C, H, W) -> (B, C, H, W); H, W >= 1.
  Tensor forward(const Tensor& x);

  // The spatial map w_s of the last forward, (B, 1, H, W) in (0, 1), detached:
  // where in the image the block looked. Undefined before the first forward.
  Tensor attention_map() const { return spatial->attention_map(); }
  // The channel weights w_c of the last forward, (B, C) in (0, 1), detached.
  Tensor channel_attention_map() const { return channel->attention_map(); }

  int64_t channels, rd_channels, spatial_kernel_size;
  std::shared_ptr<CbamChannelAttention> channel;
  std::shared_ptr<CbamSpatialAttention> spatial;
};

}  // namespace attnkit::nn::vision
