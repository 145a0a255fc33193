#pragma once
// Convolution layers, as torch.nn.Conv1d / Conv2d: the same options, the same
// parameters (weight (out, in / groups, k...), bias (out)) and the same
// initialisation (kaiming_uniform with a = √5, i.e. U(-1/√fan_in, 1/√fan_in)
// for both), so a PyTorch state_dict loads unchanged.
//
//   nn::Conv2d conv({.in_channels = 64, .out_channels = 128, .kernel_size = 3, .padding = "same"});
//   Tensor y = conv.forward(x);  // (N, 64, H, W) -> (N, 128, H, W)

#include <string>
#include <vector>

#include "attnkit/core/rng.h"
#include "attnkit/nn/module.h"
#include "attnkit/ops/conv.h"

namespace attnkit::nn {

// Options of Conv1d and Conv2d; sizes are one int for every spatial dim or one per dim.
struct ConvOptions {
  int64_t in_channels = 0;   // > 0, divisible by groups
  int64_t out_channels = 0;  // > 0, divisible by groups
  SpatialSize kernel_size = 1;
  SpatialSize stride = 1;
  ConvPadding padding = 0;  // sizes, "valid" or "same" (stride 1 only)
  SpatialSize dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  // How the border is padded: "zeros" (the convolution's own zero padding),
  // or "reflect", "replicate", "circular" (the input is padded first, as
  // torch.nn.functional.pad, then convolved without padding).
  std::string padding_mode = "zeros";
};
using Conv1dOptions = ConvOptions;
using Conv2dOptions = ConvOptions;

// The layer for `dims` spatial dims; Conv1d and Conv2d fix dims.
class ConvNd : public Module {
 public:
  std::string extra_repr() const override;
  Tensor forward(const Tensor& input) const;

  int64_t in_channels, out_channels;
  std::vector<int64_t> kernel_size, stride, dilation;  // one per spatial dim
  // One per spatial dim, or empty when padding_string is "same" / "valid".
  std::vector<int64_t> padding;
  std::string padding_string;
  int64_t groups;
  std::string padding_mode;
  Tensor weight;  // (out_channels, in_channels / groups, k...)
  Tensor bias;    // (out_channels) or undefined

 protected:
  ConvNd(const ConvOptions& options, size_t dims, const char* layer, Generator* generator);

 private:
  size_t dims_;
  const char* layer_;
  ConvPadding padding_option_;
  std::vector<PaddingPair> mode_padding_;  // the explicit padding of a non-"zeros" padding_mode
};

class Conv1d : public ConvNd {
 public:
  explicit Conv1d(const ConvOptions& options, Generator* generator = nullptr)
      : ConvNd(options, 1, "Conv1d", generator) {}
  std::string name() const override { return "Conv1d"; }
};

class Conv2d : public ConvNd {
 public:
  explicit Conv2d(const ConvOptions& options, Generator* generator = nullptr)
      : ConvNd(options, 2, "Conv2d", generator) {}
  std::string name() const override { return "Conv2d"; }
};

}  // namespace attnkit::nn
