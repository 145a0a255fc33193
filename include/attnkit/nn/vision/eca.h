#pragma once
// Efficient Channel Attention (Wang et al. 2020, "ECA-Net", section 3), as
// timm's EcaModule: Squeeze-and-Excitation without the bottleneck — the
// pooled channel descriptor goes through one 1-D convolution across
// neighbouring channels.
//
//   s = mean_{H,W}(x)                  // (B, C), seen as (B, 1, C)
//   w = sigmoid(conv1d_k(s))           // (B, 1, C) -> (B, C, 1, 1), zero padding (k - 1) / 2
//   y = x * w                          // (B, C, H, W)
//
// The kernel size adapts to the channel count when it is given (the paper's
// eq. 12, with timm's rounding):
//   t = int(|log2(C) + beta| / gamma),  k = max(t odd ? t : t + 1, 3)
// so C = 64 gives k = 3, C = 256 gives k = 5, C = 2048 gives k = 7.
// Child `conv` is a Conv1d(1, 1, k) without bias, as timm's ("conv.weight").
// timm's experimental use_mlp variant is not provided.
//
//   vision::ECA eca({.channels = 256});   // k = 5
//   Tensor y = eca.forward(x);            // (B, 256, H, W)
//   Tensor w = eca.attention_map();       // (B, 256)

#include <memory>
#include <optional>

#include "attnkit/nn/conv.h"

namespace attnkit::nn::vision {

struct EcaOptions {
  // C. When given, the kernel size is computed from it (kernel_size is
  // ignored) and inputs must have C channels; when not, any channel count.
  std::optional<int64_t> channels = std::nullopt;
  int64_t kernel_size = 3;  // odd, > 0; used when channels is not given
  double gamma = 2.0;       // > 0
  double beta = 1.0;
};

// The adaptive kernel size for `channels` (the formula above).
int64_t eca_kernel_size(int64_t channels, double gamma = 2.0, double beta = 1.0);

class ECA : public Module {
 public:
  explicit ECA(const EcaOptions& options = {}, Generator* generator = nullptr);
  std::string name() const override { return "ECA"; }
  std::string extra_repr() const override;

  // x (B, C, H, W) -> (B, C, H, W); H, W >= 1.
  Tensor forward(const Tensor& x);

  // The channel weights w of the last forward, (B, C) in (0, 1), detached;
  // undefined before the first forward.
  Tensor attention_map() const { return attention_map_; }

  std::optional<int64_t> channels;
  int64_t kernel_size;
  std::shared_ptr<Conv1d> conv;  // weight (1, 1, k)

 private:
  Tensor attention_map_;
};

}  // namespace attnkit::nn::vision
