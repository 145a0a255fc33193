#include "kernels/gelu.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"

namespace attnkit::kernels {

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;

// e^x for x in float range: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6
// polynomial (Cephes expf's coefficients), 2^n added to the exponent bits.
// Below -87.3 the result flushes to 0; above 88.7 it saturates at ~2^128.
__attribute__((target("avx2,fma"))) inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // r = x - n ln2, ln2 split in two for exactness.
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n: n + 127 in the exponent field (n >= -126 here, so no denormals).
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

__attribute__((target("avx2,fma"))) void gelu_tanh_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // u = √(2/π)(x + c x³); ½(1 + tanh u) = 1 / (1 + e^{-2u}).
    const __m256 v2 = _mm256_mul_ps(v, v);
    const __m256 u = _mm256_mul_ps(_mm256_mul_ps(v, _mm256_set1_ps(kSqrt2OverPi)),
                                   _mm256_fmadd_ps(v2, _mm256_set1_ps(kGeluCubic), _mm256_set1_ps(1.0f)));
    const __m256 e = exp256(_mm256_mul_ps(u, _mm256_set1_ps(-2.0f)));
    _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
  }
  gelu_tanh_reference(x + i, y + i, n - i);
}

__attribute__((target("avx2,fma"))) void gelu_exact_avx2(const float* x, float* y, int64_t n) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // z = |x|/√2; the upper tail Q = ½ erfc(z) = ½ t·poly(t)·e^{-z²}, t = 1/(1 + p z).
    const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign_mask, v), _mm256_set1_ps(kInvSqrt2));
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(z, _mm256_set1_ps(0.3275911f),
                                                                         _mm256_set1_ps(1.0f)));
    __m256 poly = _mm256_set1_ps(1.061405429f);
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-1.453152027f));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
    poly = _mm256_mul_ps(poly, t);
    const __m256 tail = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), poly),
                                      exp256(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(z, z))));
    // Φ(x) = 1 - Q for x >= 0, Q for x < 0.
    const __m256 negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), tail), tail, negative);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, phi));
  }
  gelu_exact_reference(x + i, y + i, n - i);
}

template <typename Vector, typename Scalar>
void chunked(const float* x, float* y, int64_t n, Vector vector, Scalar scalar) {
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const bool avx2 = active_isa() >= Isa::Avx2;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk, count = std::min(kChunk, n - begin);
    if (avx2) {
      vector(x + begin, y + begin, count);
    } else {
      scalar(x + begin, y + begin, count);
    }
  }
}

}  // namespace

void gelu_exact_reference(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

void gelu_tanh_reference(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + kGeluCubic * v * v * v)));
  }
}

void gelu_exact(const float* x, float* y, int64_t n) { chunked(x, y, n, gelu_exact_avx2, gelu_exact_reference); }
void gelu_tanh(const float* x, float* y, int64_t n) { chunked(x, y, n, gelu_tanh_avx2, gelu_tanh_reference); }

}  // namespace attnkit::kernels
