#include "attnkit/nn/vision/squeeze_excite.h"

#include <sstream>

#include "attnkit/core/error.h"
#include "attnkit/nn/vision/make_divisible.h"
#include "attnkit/ops/adaptive_pooling.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/reduce.h"
#include "nn/vision/block_input.h"

namespace attnkit::nn::vision {

SqueezeExcite::SqueezeExcite(const SqueezeExciteOptions& o, Generator* generator)
    : channels(o.channels), add_maxpool(o.add_maxpool) {
  AK_CHECK(channels > 0, "SqueezeExcite: channels must be positive, got ", channels);
  AK_CHECK(!o.rd_channels || *o.rd_channels > 0, "SqueezeExcite: rd_channels must be positive, got ",
           o.rd_channels.value_or(0));
  AK_CHECK(o.rd_channels || o.rd_ratio > 0, "SqueezeExcite: rd_ratio must be positive, got ", o.rd_ratio);
  AK_CHECK(o.rd_divisor > 0, "SqueezeExcite: rd_divisor must be positive, got ", o.rd_divisor);
  // timm rounds the SE width to the nearest multiple without its 10 % guard (round_limit 0).
  rd_channels = o.rd_channels.value_or(make_divisible(static_cast<double>(channels) * o.rd_ratio, o.rd_divisor,
                                                      std::nullopt, 0.0));
  fc1 = register_module("fc1", std::make_shared<Conv2d>(ConvOptions{.in_channels = channels,
                                                                    .out_channels = rd_channels,
                                                                    .kernel_size = 1,
                                                                    .bias = o.bias},
                                                        generator));
  if (o.use_norm) bn = register_module("bn", std::make_shared<BatchNorm2d>(rd_channels));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(ConvOptions{.in_channels = rd_channels,
                                                                    .out_channels = channels,
                                                                    .kernel_size = 1,
                                                                    .bias = o.bias},
                                                        generator));
}

std::string SqueezeExcite::extra_repr() const {
  std::ostringstream out;
  out << "channels=" << channels << ", rd_channels=" << rd_channels;
  if (add_maxpool) out << ", add_maxpool=True";
  return out.str();
}

Tensor SqueezeExcite::forward(const Tensor& x) {
  const ExclusiveUse in_use = exclusive_use();  // writes the maps kept for attention_map()
  check_block_input(x, channels, "SqueezeExcite");
  Tensor s = adaptive_avg_pool2d(x, 1);  // (B, C, 1, 1): the mean over H, W, one vectorised pass per plane
  if (add_maxpool) s = s * 0.5 + amax(x, {2, 3}, true) * 0.5;
  Tensor z = fc1->forward(s);  // (B, rd, 1, 1)
  if (bn) z = bn->forward(z);
  Tensor w = sigmoid(fc2->forward(relu(z)));  // (B, C, 1, 1)
  attention_map_ = w.detach().reshape({x.size(0), channels});
  return x * w;  // broadcast over H, W: no expanded copy of w
}

}  // namespace attnkit::nn::vision
