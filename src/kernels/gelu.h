#pragma once
// GELU forward (Hendrycks & Gimpel 2016) on contiguous float32, both forms:
//   exact  x Φ(x) = ½ x (1 + erf(x/√2))                (BERT's "gelu")
//   tanh   ½ x (1 + tanh(√(2/π)(x + 0.044715 x³)))      (GPT-2's "gelu_new")
// The tanh form is computed as x · σ(2u), the same value without a tanh.
// The AVX2 kernels evaluate exp with a Cephes-style polynomial (about 1 ulp)
// and Φ with Abramowitz & Stegun 7.1.26 (absolute error below 1e-7); the
// scalar loops on std::erf and std::tanh are the reference. Libm's scalar
// calls made GELU a tenth of GPT-2's forward.
#include <cstdint>

namespace attnkit::kernels {

void gelu_exact(const float* x, float* y, int64_t n);
void gelu_tanh(const float* x, float* y, int64_t n);
void gelu_exact_reference(const float* x, float* y, int64_t n);
void gelu_tanh_reference(const float* x, float* y, int64_t n);

}  // namespace attnkit::kernels
