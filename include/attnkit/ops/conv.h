#pragma once
// 1-D and 2-D convolution (cross-correlation, as every deep-learning library
// computes it), with torch.nn.functional.conv1d / conv2d semantics:
//
//   conv2d: input (N, C_in, H, W) or unbatched (C_in, H, W)
//           weight (C_out, C_in / groups, KH, KW), bias (C_out) or undefined
//           -> (N, C_out, OH, OW) or (C_out, OH, OW)
//   conv1d: input (N, C_in, L) or (C_in, L), weight (C_out, C_in / groups, K)
//           -> (N, C_out, OL) or (C_out, OL)
//
//   OH = floor((H + 2 padding - dilation (KH - 1) - 1) / stride) + 1
//
// Input channels are split into `groups` groups, each convolved with its own
// C_out / groups filters (groups = C_in = C_out is a depthwise convolution).
// Differentiable in input, weight and bias. Runs on oneDNN in float32 (other
// floating inputs are converted); inputs may have any strides (channels-last
// included), the output is contiguous. An empty batch (N = 0) gives an empty
// output.
//
//   Tensor y = conv2d(x, w, b, {.stride = 2, .padding = 1});
//   Tensor z = conv2d(x, w, {}, {.padding = "same", .dilation = {1, 2}, .groups = 4});

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit {

// torch's int-or-tuple: one size for every spatial dim, or one per dim.
class SpatialSize {
 public:
  SpatialSize(int64_t size) : sizes_{size} {}  // NOLINT: implicit, as torch takes a bare int
  SpatialSize(std::initializer_list<int64_t> sizes) : sizes_(sizes) {}
  SpatialSize(std::vector<int64_t> sizes) : sizes_(std::move(sizes)) {}  // NOLINT

  const std::vector<int64_t>& sizes() const { return sizes_; }
  // The sizes for `dims` spatial dims (a single size repeated); an error
  // naming `op` and `what` ("stride") for any other count.
  std::vector<int64_t> expand(size_t dims, const char* op, const char* what) const;

 private:
  std::vector<int64_t> sizes_;
};

// Padding: sizes (added on both sides of each spatial dim), or one of torch's
// strings: "valid" (no padding) and "same" (the output is as large as the
// input; stride 1 only; an odd total puts the extra row/column at the end).
// An unknown string is reported by the op that receives it.
class ConvPadding {
 public:
  ConvPadding(int64_t size) : sizes_(size) {}  // NOLINT
  ConvPadding(std::initializer_list<int64_t> sizes) : sizes_(sizes) {}
  ConvPadding(std::vector<int64_t> sizes) : sizes_(std::move(sizes)) {}  // NOLINT
  ConvPadding(SpatialSize sizes) : sizes_(std::move(sizes)) {}  // NOLINT
  // From a string literal ("same"); a template so that a literal 0 still means a size.
  template <size_t N>
  ConvPadding(const char (&mode)[N]) : sizes_(0), mode_(mode) {}  // NOLINT
  explicit ConvPadding(std::string_view mode) : sizes_(0), mode_(mode) {}

  bool is_mode() const { return !mode_.empty(); }
  const std::string& mode() const { return mode_; }  // "" for sizes
  const SpatialSize& sizes() const { return sizes_; }

 private:
  SpatialSize sizes_;
  std::string mode_;
};

// The options of conv1d / conv2d, named as torch's arguments.
struct ConvFuncOptions {
  SpatialSize stride = 1;  // > 0
  ConvPadding padding = 0;  // >= 0, or "valid" / "same"
  SpatialSize dilation = 1;  // > 0: the spacing between kernel taps
  int64_t groups = 1;  // > 0, divides C_in and C_out
};

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const ConvFuncOptions& options = {});
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const ConvFuncOptions& options = {});

// The explicit (begin, end) padding per spatial dim that `padding` means for
// a kernel of `kernel_size` with `dilation` ("same": total dilation (k - 1),
// begin = total / 2, end = the rest, as torch). Checks the mode string and
// that "same" comes with stride 1; names `op` in errors. For nn::Conv*'s
// non-zero padding modes, which pad before convolving.
struct PaddingPair {
  int64_t begin, end;
};
std::vector<PaddingPair> conv_padding_amounts(const ConvPadding& padding, const std::vector<int64_t>& kernel_size,
                                              const std::vector<int64_t>& stride,
                                              const std::vector<int64_t>& dilation, const char* op);

}  // namespace attnkit
