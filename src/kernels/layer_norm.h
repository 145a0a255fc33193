#pragma once
// Layer norm over the last `cols` elements of contiguous float32 rows.
// weight/bias may be null (no affine). Forward saves mean and rstd per row
// for the backward.
#include <cstdint>

namespace attnkit::kernels {

// out = (in - mean) * rstd * weight + bias;  mean, rstd: (rows)
void layer_norm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight,
                        const float* bias, int64_t rows, int64_t cols, float eps);

// With x̂ = (x - mean) rstd and ĝ = dy * weight:
//   dx = rstd * (ĝ - mean(ĝ) - x̂ * mean(ĝ x̂))
//   dweight = Σ_rows dy x̂,  dbias = Σ_rows dy
// dweight/dbias may be null (not needed); they are overwritten, not added to.
void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* in,
                         const float* mean, const float* rstd, const float* weight, int64_t rows,
                         int64_t cols);

}  // namespace attnkit::kernels
