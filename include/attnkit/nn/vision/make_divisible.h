#pragma once
// The channel-count rounding of the vision blocks, timm's make_divisible: the
// reduced width of an SE / CBAM / SK / non-local block is `channels * ratio`
// rounded to the nearest multiple of `divisor` (at least `divisor`, or
// `min_value` when given), and bumped by one divisor when rounding down lost
// more than 1 - round_limit of it. Following timm keeps our blocks' parameter
// shapes equal to theirs, so a timm state_dict loads unchanged.
#include <algorithm>
#include <cstdint>
#include <optional>

namespace attnkit::nn::vision {

inline int64_t make_divisible(double value, int64_t divisor = 8, std::optional<int64_t> min_value = std::nullopt,
                              double round_limit = 0.9) {
  const int64_t floor_value = min_value.value_or(divisor);
  int64_t rounded = std::max(floor_value, static_cast<int64_t>(value + divisor / 2.0) / divisor * divisor);
  if (rounded < round_limit * value) rounded += divisor;  // never lose more than 10 % (by default)
  return rounded;
}

}  // namespace attnkit::nn::vision
