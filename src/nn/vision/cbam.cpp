#include "attnkit/nn/vision/cbam.h"

#include <sstream>

#include "attnkit/core/error.h"
#include "attnkit/nn/vision/make_divisible.h"
#include "attnkit/ops/adaptive_pooling.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/join.h"
#include "attnkit/ops/reduce.h"
#include "nn/vision/block_input.h"

namespace attnkit::nn::vision {

CbamChannelAttention::CbamChannelAttention(int64_t channels, int64_t rd_channels, bool mlp_bias,
                                           Generator* generator) {
  fc1 = register_module("fc1", std::make_shared<Conv2d>(ConvOptions{.in_channels = channels,
                                                                    .out_channels = rd_channels,
                                                                    .kernel_size = 1,
                                                                    .bias = mlp_bias},
                                                        generator));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(ConvOptions{.in_channels = rd_channels,
                                                                    .out_channels = channels,
                                                                    .kernel_size = 1,
                                                                    .bias = mlp_bias},
                                                        generator));
}

Tensor CbamChannelAttention::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  const int64_t batch = x.size(0), channels = x.size(1);
  // Both descriptors go through the shared MLP as one batch of 2B: one pair of
  // convolutions instead of two.
  Tensor pooled = cat({adaptive_avg_pool2d(x, 1), amax(x, {2, 3}, true)}, 0);  // (2B, C, 1, 1)
  Tensor z = fc2->forward(relu(fc1->forward(pooled)));                    // (2B, C, 1, 1)
  Tensor w = sigmoid(z.narrow(0, 0, batch) + z.narrow(0, batch, batch));  // (B, C, 1, 1)
  attention_map_ = w.detach().reshape({batch, channels});
  return x * w;  // broadcast over H, W
}

CbamSpatialAttention::CbamSpatialAttention(int64_t kernel_size, Generator* generator) {
  conv = register_module("conv", std::make_shared<ConvNormAct>(ConvNormActOptions{.in_channels = 2,
                                                                                  .out_channels = 1,
                                                                                  .kernel_size = kernel_size,
                                                                                  .apply_act = false},
                                                               generator));
}

Tensor CbamSpatialAttention::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  Tensor d = cat({mean(x, {1}, true), amax(x, {1}, true)}, 1);  // (B, 2, H, W)
  Tensor w = sigmoid(conv->forward(d));                          // (B, 1, H, W)
  attention_map_ = w.detach();
  return x * w;  // broadcast over C
}

CBAM::CBAM(const CbamOptions& o, Generator* generator)
    : channels(o.channels), spatial_kernel_size(o.spatial_kernel_size) {
  AK_CHECK(channels > 0, "CBAM: channels must be positive, got ", channels);
  AK_CHECK(!o.rd_channels || *o.rd_channels > 0, "CBAM: rd_channels must be positive, got ",
           o.rd_channels.value_or(0));
  AK_CHECK(o.rd_channels || o.rd_ratio > 0, "CBAM: rd_ratio must be positive, got ", o.rd_ratio);
  AK_CHECK(o.rd_divisor > 0, "CBAM: rd_divisor must be positive, got ", o.rd_divisor);
  AK_CHECK(spatial_kernel_size > 0 && spatial_kernel_size % 2 == 1,
           "CBAM: spatial_kernel_size must be odd and positive (the spatial map keeps the image size), got ",
           spatial_kernel_size);
  rd_channels = o.rd_channels.value_or(make_divisible(static_cast<double>(channels) * o.rd_ratio, o.rd_divisor,
                                                      std::nullopt, 0.0));
  channel = register_module("channel",
                            std::make_shared<CbamChannelAttention>(channels, rd_channels, o.mlp_bias, generator));
  spatial = register_module("spatial", std::make_shared<CbamSpatialAttention>(spatial_kernel_size, generator));
}

std::string CBAM::extra_repr() const {
  std::ostringstream out;
  out << "channels=" << channels << ", rd_channels=" << rd_channels
      << ", spatial_kernel_size=" << spatial_kernel_size;
  return out.str();
}

Tensor CBAM::forward(const Tensor& x) {
  check_block_input(x, channels, "CBAM");
  return spatial->forward(channel->forward(x));
}

}  // namespace attnkit::nn::vision
