#pragma once
// The plain convolution: direct loops over every output, input and kernel
// tap, accumulated in double. The oracle the tests hold the oneDNN kernel
// (conv_dnnl.h) to; written for clarity, not speed.
//
// All tensors are contiguous: input (N, C_in, H, W), weight (C_out,
// C_in / groups, KH, KW), output (N, C_out, OH, OW), bias (C_out); see
// conv_params.h for the geometry.

#include "kernels/conv_params.h"

namespace attnkit::kernels {

// out[n, o, y, x] = bias[o] + Σ_{c in o's group, i, j} in[n, c, y s + i d - p, x s + j d - p] w[o, c, i, j]
// (taps that land in the padding read zero). bias may be null.
void conv_forward_reference(float* out, const float* in, const float* weight, const float* bias,
                            const ConvParams& p);

// d_in = ∂L/∂in: every output tap scatters d_out[n, o, y, x] · w[o, c, i, j]
// back to the input element it read. Overwrites d_in.
void conv_backward_data_reference(float* d_in, const float* d_out, const float* weight, const ConvParams& p);

// d_weight[o, c, i, j] = Σ_{n, y, x} d_out[n, o, y, x] · in[n, c, tap], d_bias[o] = Σ_{n, y, x} d_out.
// Either output may be null (not needed); the others are overwritten.
void conv_backward_weights_reference(float* d_weight, float* d_bias, const float* d_out, const float* in,
                                     const ConvParams& p);

}  // namespace attnkit::kernels
