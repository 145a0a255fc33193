#pragma once
// The geometry of a 2-D grouped convolution, shared by the oneDNN kernel and
// its reference. A 1-D convolution is the 2-D one with height 1 (kernel 1,
// stride 1, no padding, dilation 1 along H).
//
//   input  (N, C_in, H, W)       weight (C_out, C_in / groups, KH, KW)
//   output (N, C_out, OH, OW)    bias   (C_out)
//
//   OH = floor((H + pad_begin[0] + pad_end[0] - dilation[0] (KH - 1) - 1) / stride[0]) + 1
//
// Sizes in the arrays are (H, W). dilation is torch's (1 = no gaps); oneDNN
// counts the gaps instead (dilation - 1). pad_begin/pad_end differ only for
// torch's padding="same" with an odd total (the extra row/column goes at the
// end, bottom/right).

#include <array>
#include <cstdint>

namespace attnkit::kernels {

struct ConvParams {
  int64_t batch = 1;
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  int64_t groups = 1;
  std::array<int64_t, 2> input{1, 1};   // (H, W)
  std::array<int64_t, 2> output{1, 1};  // (OH, OW)
  std::array<int64_t, 2> kernel{1, 1};  // (KH, KW)
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> pad_begin{0, 0};  // top, left
  std::array<int64_t, 2> pad_end{0, 0};    // bottom, right
  std::array<int64_t, 2> dilation{1, 1};

  int64_t in_per_group() const { return in_channels / groups; }
  int64_t out_per_group() const { return out_channels / groups; }
  int64_t kernel_numel() const { return kernel[0] * kernel[1]; }
};

// The output size along one spatial dim (may be <= 0: the kernel does not fit).
inline int64_t conv_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t pad_begin,
                                int64_t pad_end, int64_t dilation) {
  const int64_t span = dilation * (kernel - 1) + 1;  // the dilated kernel's extent
  const int64_t padded = input + pad_begin + pad_end;
  return padded < span ? 0 : (padded - span) / stride + 1;
}

}  // namespace attnkit::kernels
