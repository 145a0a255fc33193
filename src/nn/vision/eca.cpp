#include "attnkit/nn/vision/eca.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "attnkit/core/error.h"
#include "attnkit/ops/adaptive_pooling.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/reduce.h"
#include "nn/vision/block_input.h"

namespace attnkit::nn::vision {

int64_t eca_kernel_size(int64_t channels, double gamma, double beta) {
  AK_CHECK(channels > 0, "ECA: channels must be positive, got ", channels);
  AK_CHECK(gamma > 0, "ECA: gamma must be positive, got ", gamma);
  // log(C) / log(2), as Python's math.log(C, 2) computes it, so the truncation
  // below agrees with timm's even where the quotient is a hair off an integer.
  const double log2_channels = std::log(static_cast<double>(channels)) / std::log(2.0);
  const auto t = static_cast<int64_t>(std::abs(log2_channels + beta) / gamma);
  return std::max<int64_t>(t % 2 ? t : t + 1, 3);
}

ECA::ECA(const EcaOptions& o, Generator* generator) : channels(o.channels), kernel_size(o.kernel_size) {
  AK_CHECK(o.gamma > 0, "ECA: gamma must be positive, got ", o.gamma);
  if (channels) {
    kernel_size = eca_kernel_size(*channels, o.gamma, o.beta);
  } else {
    AK_CHECK(kernel_size > 0 && kernel_size % 2 == 1,
             "ECA: kernel_size must be odd and positive (the convolution keeps the channel count), got ",
             kernel_size);
  }
  conv = register_module("conv", std::make_shared<Conv1d>(ConvOptions{.in_channels = 1,
                                                                      .out_channels = 1,
                                                                      .kernel_size = kernel_size,
                                                                      .padding = (kernel_size - 1) / 2,
                                                                      .bias = false},
                                                          generator));
}

std::string ECA::extra_repr() const {
  std::ostringstream out;
  if (channels) out << "channels=" << *channels << ", ";
  out << "kernel_size=" << kernel_size;
  return out.str();
}

Tensor ECA::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  check_block_input(x, channels, "ECA");
  const int64_t batch = x.size(0), c = x.size(1);
  Tensor s = adaptive_avg_pool2d(x, 1).reshape({batch, 1, c});   // (B, 1, C): channels as a sequence
  Tensor w = sigmoid(conv->forward(s)).reshape({batch, c, 1, 1});  // (B, C, 1, 1)
  attention_map_ = w.detach().reshape({batch, c});
  return x * w;  // broadcast over H, W
}

}  // namespace attnkit::nn::vision
