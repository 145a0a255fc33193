#pragma once
// The ReLU gradient, as torch's threshold_backward: dx = (x <= 0) ? 0 : dy
// (a NaN x passes dy through). Its own kernel because the generic
// elementwise loop compiles the select to a branch, which mispredicts on
// random signs: AVX2 masks eight at a time, the scalar loop is the reference.
#include <cstdint>

namespace attnkit::kernels {

void relu_backward(const float* dy, const float* x, float* dx, int64_t n);
void relu_backward_reference(const float* dy, const float* x, float* dx, int64_t n);

}  // namespace attnkit::kernels
