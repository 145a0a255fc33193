#pragma once
// Max and average pooling over the last two dims, as torch.nn.functional's
// max_pool2d / avg_pool2d (and the 1-d ones, which run as 2-d with H = 1).
//
//   input (N, C, H, W) or unbatched (C, H, W) -> (N, C, Ho, Wo) / (C, Ho, Wo)
//   Ho = floor((H + 2 pad - dilation (kernel - 1) - 1 [+ stride - 1 with ceil_mode]) / stride) + 1,
//   and with ceil_mode the last window must start inside the input or the
//   left padding (else Ho is one less). The same for W.
//
// stride defaults to kernel_size; padding is at most half the kernel. Max
// pooling pads with -inf (padding is never picked); its indices are
// positions in the flattened H * W input plane; among equal maxima the first
// (row-major) wins, and a NaN in a window is the maximum (the last NaN's index,
// as torch). The backward routes each output's gradient to its argmax. (A
// dilated window can lie wholly in the padding: it gives -inf at an index
// outside the plane, as torch, and passes no gradient, where torch's
// backward aborts.)
// Average pooling divides by divisor_override if given, else by the window's
// size counting the zero padding (count_include_pad, the window clipped to the
// padded input) or only the input elements it covers.
// Results are float32 (bfloat16 inputs are widened); indices int64.

#include <cstdint>
#include <optional>
#include <string>

#include "attnkit/core/tensor.h"
#include "attnkit/ops/reduce.h"

namespace attnkit {

// A pooling argument given as one int for both spatial dims or as (h, w), as
// torch's `int | tuple[int, int]`. It remembers which, so a module prints it
// back as it was given: 2 or (2, 3).
struct IntPair {
  IntPair(int64_t both) : h(both), w(both), single(true) {}  // implicit, as torch takes a bare int
  IntPair(int64_t h_, int64_t w_) : h(h_), w(w_), single(false) {}
  int64_t h, w;
  bool single;
  std::string repr() const;
  bool operator==(const IntPair& other) const { return h == other.h && w == other.w; }
};

// The output length of one pooled dim (the rule above): 0 when no window fits;
// checks nothing else.
int64_t pooled_size(int64_t input, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode);

Tensor max_pool2d(const Tensor& input, IntPair kernel_size, std::optional<IntPair> stride = std::nullopt,
                  IntPair padding = 0, IntPair dilation = 1, bool ceil_mode = false);
// values as max_pool2d; indices (int64, same shape) into each flattened H * W plane.
ValuesIndices max_pool2d_with_indices(const Tensor& input, IntPair kernel_size,
                                      std::optional<IntPair> stride = std::nullopt, IntPair padding = 0,
                                      IntPair dilation = 1, bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& input, IntPair kernel_size, std::optional<IntPair> stride = std::nullopt,
                  IntPair padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);

// input (N, C, L) or (C, L); indices into L.
Tensor max_pool1d(const Tensor& input, int64_t kernel_size, std::optional<int64_t> stride = std::nullopt,
                  int64_t padding = 0, int64_t dilation = 1, bool ceil_mode = false);
ValuesIndices max_pool1d_with_indices(const Tensor& input, int64_t kernel_size,
                                      std::optional<int64_t> stride = std::nullopt, int64_t padding = 0,
                                      int64_t dilation = 1, bool ceil_mode = false);
Tensor avg_pool1d(const Tensor& input, int64_t kernel_size, std::optional<int64_t> stride = std::nullopt,
                  int64_t padding = 0, bool ceil_mode = false, bool count_include_pad = true);

}  // namespace attnkit
