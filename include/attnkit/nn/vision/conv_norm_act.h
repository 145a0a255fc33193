#pragma once
// Convolution, batch norm and (optionally) ReLU: timm's ConvNormAct, the unit
// that CBAM's spatial attention and Selective Kernel's paths are built from.
// Children `conv` (Conv2d, no bias by default) and `bn` (BatchNorm2d), so a
// timm state_dict ("conv.weight", "bn.running_mean", ...) loads unchanged;
// timm keeps the ReLU inside its `bn` (BatchNormAct2d), which has no state.
//
//   x (B, in, H, W) -> (B, out, H', W'),  H' = floor((H + 2 p - d (k - 1) - 1) / s) + 1
//
// The default padding is timm's symmetric one, ((s - 1) + d (k - 1)) / 2:
// "same" for stride 1 and an odd kernel, and what timm pads at stride 2.

#include <memory>
#include <optional>

#include "attnkit/nn/batch_norm.h"
#include "attnkit/nn/conv.h"
#include "attnkit/ops/elementwise.h"

namespace attnkit::nn::vision {

struct ConvNormActOptions {
  int64_t in_channels = 0;   // > 0, divisible by groups
  int64_t out_channels = 0;  // > 0, divisible by groups
  int64_t kernel_size = 1;
  int64_t stride = 1;
  std::optional<int64_t> padding = std::nullopt;  // nullopt: ((stride - 1) + dilation (kernel_size - 1)) / 2, as timm
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = false;      // the norm's shift makes a conv bias redundant
  bool apply_act = true;  // ReLU after the norm
};

class ConvNormAct : public Module {
 public:
  explicit ConvNormAct(const ConvNormActOptions& options, Generator* generator = nullptr)
      : apply_act(options.apply_act) {
    const int64_t padding = options.padding.value_or(
        ((options.stride - 1) + options.dilation * (options.kernel_size - 1)) / 2);
    conv = register_module("conv", std::make_shared<Conv2d>(ConvOptions{.in_channels = options.in_channels,
                                                                        .out_channels = options.out_channels,
                                                                        .kernel_size = options.kernel_size,
                                                                        .stride = options.stride,
                                                                        .padding = padding,
                                                                        .dilation = options.dilation,
                                                                        .groups = options.groups,
                                                                        .bias = options.bias},
                                                             generator));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(options.out_channels));
  }
  std::string name() const override { return "ConvNormAct"; }
  std::string extra_repr() const override { return apply_act ? "act=ReLU" : ""; }

  // (B, in, H, W) -> (B, out, H', W')
  Tensor forward(const Tensor& x) {
    Tensor y = bn->forward(conv->forward(x));
    return apply_act ? relu(y) : y;
  }

  bool apply_act;
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
};

}  // namespace attnkit::nn::vision
