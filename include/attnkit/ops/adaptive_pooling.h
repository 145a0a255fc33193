#pragma once
// Adaptive average and max pooling over the last two dims, as
// torch.nn.functional.adaptive_avg_pool2d / adaptive_max_pool2d: the output
// has a given size whatever the input's, each output cell pooling a bin of
// the input. Along a dim of input size I and output size O, cell i pools
//   [floor(i * I / O), ceil((i + 1) * I / O))
// so bins cover the input, may overlap by one, and are never empty.
//
//   input (N, C, H, W) or unbatched (C, H, W) -> (N, C, Oh, Ow) / (C, Oh, Ow)
//
// An output size of 0 gives an empty result (as torch). Max pooling returns
// indices into the flattened H * W plane; the first maximum wins and NaN
// propagates (the last NaN's index), as torch's max_pool2d. Output (1, 1) —
// the squeeze of Squeeze-and-Excitation, the channel pooling of CBAM — takes
// a fast path: one vectorised pass over each contiguous H * W plane.
// Results are float32 (bfloat16 inputs are widened); indices int64.

#include <cstdint>
#include <optional>
#include <string>

#include "attnkit/core/tensor.h"
#include "attnkit/ops/reduce.h"

namespace attnkit {

// The output size of adaptive pooling: one size for both dims, or (h, w)
// where an empty entry keeps that dim's input size (torch's None). It
// remembers which, so a module prints it back as given: 7, (None, 7).
struct AdaptiveSize {
  AdaptiveSize(int64_t both) : h(both), w(both), single(true) {}  // implicit, as torch takes a bare int
  AdaptiveSize(std::optional<int64_t> h_, std::optional<int64_t> w_) : h(h_), w(w_), single(false) {}
  std::optional<int64_t> h, w;
  bool single;
  std::string repr() const;
};

Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveSize& output_size);
Tensor adaptive_max_pool2d(const Tensor& input, const AdaptiveSize& output_size);
// values as adaptive_max_pool2d; indices (int64, same shape) into each flattened H * W plane.
ValuesIndices adaptive_max_pool2d_with_indices(const Tensor& input, const AdaptiveSize& output_size);

}  // namespace attnkit
