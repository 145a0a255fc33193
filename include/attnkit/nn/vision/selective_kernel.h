#pragma once
// Selective Kernel convolution (Li et al. 2019, "Selective Kernel Networks",
// section 3.1), as timm's SelectiveKernel: several convolution paths with
// different receptive fields, mixed per channel by a softmax attention over
// the paths.
//
//   U_i = relu(bn(conv_i(x_i)))                 // Split:  (B, C_out, H', W') per path i
//   s = mean_{H',W'}(Σ_i U_i)                   // Fuse:   (B, C_out, 1, 1)
//   z = relu(bn(fc_reduce(s)))                  //         (B, d, 1, 1)
//   a = softmax_i(fc_select(z))                 // Select: (B, P, C_out, 1, 1), Σ_i a_i = 1
//   y = Σ_i a_i * U_i                           //         (B, C_out, H', W')
//
// With split_input (timm's default) path i sees its own C_in / P slice of
// the input channels; otherwise every path sees all of them. With keep_3x3
// (the paper's choice) a k×k path is a 3×3 convolution with dilation
// (k - 1) / 2 · dilation: 5×5 becomes a dilated 3×3. Paths are ConvNormAct
// (conv without bias, bn, ReLU) with timm's padding
// ((stride - 1) + dilation (k - 1)) / 2, so every path has the same output
// size. Children "paths.0", "paths.1", ... and "attn" (fc_reduce, bn,
// fc_select) as timm's, so its state_dict loads unchanged.
//
//   vision::SelectiveKernel sk({.in_channels = 64});    // 3×3 and 5×5 (dilated 3×3)
//   Tensor y = sk.forward(x);                           // (B, 64, H, W)
//   Tensor a = sk.attention_map();                      // (B, 2, 64)

#include <memory>
#include <optional>
#include <vector>

#include "attnkit/nn/batch_norm.h"
#include "attnkit/nn/conv.h"
#include "attnkit/nn/module_list.h"
#include "attnkit/nn/vision/conv_norm_act.h"

namespace attnkit::nn::vision {

struct SelectiveKernelOptions {
  int64_t in_channels = 0;                             // C_in, > 0
  std::optional<int64_t> out_channels = std::nullopt;  // C_out; default C_in
  std::vector<int64_t> kernel_size = {3, 5};           // one per path, each odd and >= 3
  int64_t stride = 1;
  int64_t dilation = 1;  // of the block as a whole: multiplies each path's dilation
  // Groups of each path's conv, capped at C_out (as timm); must divide the
  // path's input and output channels.
  int64_t groups = 1;
  // The attention's width d = make_divisible(C_out · rd_ratio, rd_divisor)
  // with timm's default round_limit 0.9 (the paper's d = max(C / r, L)).
  double rd_ratio = 1.0 / 16;
  std::optional<int64_t> rd_channels = std::nullopt;  // overrides rd_ratio when given (> 0)
  int64_t rd_divisor = 8;
  bool keep_3x3 = true;     // k×k as a 3×3 with dilation (k - 1) / 2
  bool split_input = true;  // path i convolves input channels [i C_in / P, (i + 1) C_in / P)
};

// The Fuse and Select steps: from the sum of the paths to the softmax over
// paths. timm's SelectiveKernelAttn, which takes the stacked paths and sums
// them itself; ours takes the sum, so the paths are never stacked.
class SelectiveKernelAttention : public Module {
 public:
  SelectiveKernelAttention(int64_t channels, int64_t num_paths, int64_t attn_channels,
                           Generator* generator = nullptr);
  std::string name() const override { return "SelectiveKernelAttention"; }

  // paths_sum (B, C, H, W) -> a (B, P, C, 1, 1), softmax over P.
  Tensor forward(const Tensor& paths_sum);

  int64_t num_paths;
  std::shared_ptr<Conv2d> fc_reduce;   // (d, C, 1, 1), no bias
  std::shared_ptr<BatchNorm2d> bn;     // (d)
  std::shared_ptr<Conv2d> fc_select;   // (P · C, d, 1, 1), no bias
};

class SelectiveKernel : public Module {
 public:
  explicit SelectiveKernel(const SelectiveKernelOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "SelectiveKernel"; }
  std::string extra_repr() const override;

  // x (B, C_in, H, W) -> (B, C_out, H', W'): H' = H at stride 1, ceil(H / 2) at
  // stride 2 (in general floor((H + 2 ((stride - 1) / 2) - 1) / stride) + 1).
  // In training mode B > 1 (the attention's BatchNorm sees one value per
  // sample and channel).
  Tensor forward(const Tensor& x);

  // The selection weights a of the last forward, (B, P, C_out), detached:
  // for each channel, how much of each path (kernel size) it took; sums to 1
  // over P. Undefined before the first forward.
  Tensor attention_map() const { return attention_map_; }

  int64_t in_channels, out_channels, num_paths, stride, groups, attn_channels;
  bool split_input;
  std::vector<int64_t> kernel_size, dilation;  // per path, after keep_3x3
  std::shared_ptr<ModuleList<ConvNormAct>> paths;
  std::shared_ptr<SelectiveKernelAttention> attn;

 private:
  Tensor attention_map_;
};

}  // namespace attnkit::nn::vision
