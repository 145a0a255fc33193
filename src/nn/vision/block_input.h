#pragma once
// The input check shared by the channel-attention blocks (SE, ECA, CBAM, SK):
// a 4-D (B, C, H, W) tensor with the block's channel count and a non-empty
// image, or a ValueError naming the block, what came and what was expected.
#include <optional>
#include <string>

#include "attnkit/core/error.h"
#include "attnkit/core/tensor.h"

namespace attnkit::nn::vision {

// channels: what the block was built for; nullopt accepts any count (ECA without channels).
inline void check_block_input(const Tensor& x, std::optional<int64_t> channels, const char* block) {
  AK_CHECK(x.defined(), block, ": expected a 4-D input (B, C, H, W), got an undefined tensor");
  AK_CHECK(x.dim() == 4, block, ": expected a 4-D input (B, C, H, W), got shape ", shape_str(x.shape()));
  AK_CHECK(!channels || x.size(1) == *channels, block, ": expected ", channels.value_or(0),
           " channels (dim 1) as the block was built for, got an input of shape ", shape_str(x.shape()));
  AK_CHECK(x.size(2) > 0 && x.size(3) > 0, block,
           ": expected an image of at least 1×1 (H, W >= 1), got an input of shape ", shape_str(x.shape()));
}

}  // namespace attnkit::nn::vision
