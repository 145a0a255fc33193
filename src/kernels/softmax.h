#pragma once
// Row-wise softmax / log_softmax on contiguous (rows, cols) float32 data, and
// their backward. Parallel over rows; the row kernel is AVX2 when the CPU has
// it, else the plain reference below, which the tests use as the oracle.
#include <cstdint>

namespace attnkit::kernels {

// out = softmax(in) per row (or log_softmax when `log`).
void softmax_forward(float* out, const float* in, int64_t rows, int64_t cols, bool log);
// softmax:     dx = y * (dy - sum(dy * y))
// log_softmax: dx = dy - exp(y) * sum(dy)
void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t cols, bool log);

// One row, plain C++: the reference the vector kernels are tested against.
void softmax_row_reference(float* y, const float* x, int64_t cols, bool log);

}  // namespace attnkit::kernels
