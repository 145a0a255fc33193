#pragma once
// The plain reference of grid_sample.h: direct scalar loops over batch,
// output pixel and channel, each step written as PyTorch's CPU kernel
// computes it (same unnormalisation, reflection and clamping formulas, same
// NaN handling). Single-threaded; the tests use it as the oracle of the fast
// kernels, and grid_sample.cpp runs it for bicubic and on CPUs without AVX2.
#include "kernels/grid_sample.h"

namespace attnkit::kernels {

void grid_sample_forward_reference(float* output, const GridSampleArgs& args);

// Same contract as grid_sample_backward (grad_input / grad_grid may be null,
// and are overwritten).
void grid_sample_backward_reference(float* grad_input, float* grad_grid, const float* grad_output,
                                    const GridSampleArgs& args);

}  // namespace attnkit::kernels
