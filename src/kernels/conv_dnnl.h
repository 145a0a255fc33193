#pragma once
// fp32 2-D grouped convolution on oneDNN's convolution primitives: forward
// (with optional bias), backward-data, backward-weights (+ bias gradient).
// The geometry is ConvParams (conv_params.h); conv_reference.h is the oracle.
//
// Activations are plain (N, C, H, W) arrays with any non-negative strides
// (NCHW, channels-last NHWC, a slice, ...). The primitives compute in the
// layout oneDNN picks for the shape (format_tag::any: nChw8c on AVX2,
// nChw16c on AVX-512); operands are reordered into it and results out of it
// only when the two layouts differ. Weights are torch's contiguous
// (C_out, C_in / groups, KH, KW), reordered to the primitive's own format on
// each call (they are small next to the activations).
//
// Primitives and their reorders are created once per (geometry, strides,
// thread count) and kept in an LRU cache. The blocked intermediates and
// oneDNN's scratchpad live in per-thread buffers that grow to the largest
// size seen and are kept, so a training step allocates (and page-faults)
// nothing after the first.

#include <array>
#include <cstddef>
#include <cstdint>

#include "kernels/conv_params.h"

namespace attnkit::kernels {

// An (N, C, H, W) activation: data and strides in elements (all >= 0).
struct ActivationOperand {
  float* data = nullptr;
  std::array<int64_t, 4> strides{};
};

// dst = conv(src, weight) + bias. bias may be null.
void dnnl_conv_forward(const ActivationOperand& dst, const ActivationOperand& src, const float* weight,
                       const float* bias, const ConvParams& p);

// What a backward computes; a null pointer (diff_src.data null) skips that
// gradient. Every requested one is overwritten, not accumulated into.
struct ConvGradients {
  ActivationOperand diff_src;  // (N, C_in, H, W)
  float* diff_weight = nullptr;  // (C_out, C_in / groups, KH, KW), contiguous
  float* diff_bias = nullptr;    // (C_out)
};

// Gradients of conv(src, weight) + bias given diff_dst = ∂L/∂dst. src is read
// only for the weight gradient, weight only for diff_src (either may be null
// when not needed). diff_dst is reordered once and shared by both passes.
void dnnl_conv_backward(const ConvGradients& grads, const ActivationOperand& diff_dst,
                        const ActivationOperand& src, const float* weight, const ConvParams& p);

size_t dnnl_conv_cache_size();

}  // namespace attnkit::kernels
