#pragma once
// Pooling layers, as torch.nn.MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and
// AdaptiveMaxPool2d: the functional ops (ops/pooling.h, ops/adaptive_pooling.h)
// with their arguments kept, and printed back as torch prints them. They have
// no parameters. Inputs (N, C, H, W) or (C, H, W).

#include <optional>

#include "attnkit/nn/module.h"
#include "attnkit/ops/adaptive_pooling.h"
#include "attnkit/ops/pooling.h"

namespace attnkit::nn {

class MaxPool2d : public Module {
 public:
  // stride defaults to kernel_size (and is stored so).
  explicit MaxPool2d(IntPair kernel_size, std::optional<IntPair> stride = std::nullopt, IntPair padding = 0,
                     IntPair dilation = 1, bool return_indices = false, bool ceil_mode = false);
  std::string name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

  Tensor forward(const Tensor& x) const;
  ValuesIndices forward_with_indices(const Tensor& x) const;

  IntPair kernel_size, stride, padding, dilation;
  bool return_indices, ceil_mode;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(IntPair kernel_size, std::optional<IntPair> stride = std::nullopt, IntPair padding = 0,
                     bool ceil_mode = false, bool count_include_pad = true,
                     std::optional<int64_t> divisor_override = std::nullopt);
  std::string name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

  Tensor forward(const Tensor& x) const;

  IntPair kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
  std::optional<int64_t> divisor_override;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(AdaptiveSize output_size) : output_size(output_size) {}
  std::string name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override { return "output_size=" + output_size.repr(); }

  Tensor forward(const Tensor& x) const { return adaptive_avg_pool2d(x, output_size); }

  AdaptiveSize output_size;
};

class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(AdaptiveSize output_size, bool return_indices = false)
      : output_size(output_size), return_indices(return_indices) {}
  std::string name() const override { return "AdaptiveMaxPool2d"; }
  std::string extra_repr() const override { return "output_size=" + output_size.repr(); }

  Tensor forward(const Tensor& x) const { return adaptive_max_pool2d(x, output_size); }
  ValuesIndices forward_with_indices(const Tensor& x) const {
    return adaptive_max_pool2d_with_indices(x, output_size);
  }

  AdaptiveSize output_size;
  bool return_indices;
};

}  // namespace attnkit::nn
