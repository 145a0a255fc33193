#pragma once
// AVX2 + FMA vector helpers. Every function here is compiled for AVX2 by its
// target attribute, so the rest of the library keeps the baseline ISA and
// callers choose this path at run time (cpu_features.h).

#include <immintrin.h>

namespace attnkit::kernels::avx2 {

#define AK_AVX2 __attribute__((target("avx2,fma"))) inline

// e^x for 8 floats: x = n ln2 + r with |r| <= ln2 / 2, e^r by the degree-6
// polynomial of Cephes' expf (relative error ~2 ulp), times 2^n built in the
// exponent bits. Inputs below -88 (including -inf) give 0, above 88.7 +inf.
AK_AVX2 __m256 exp(__m256 x) {
  const __m256 kLog2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 kLn2Hi = _mm256_set1_ps(0.693359375f);
  const __m256 kLn2Lo = _mm256_set1_ps(-2.12194440e-4f);
  const __m256 kMax = _mm256_set1_ps(88.7228391f);
  const __m256 kMin = _mm256_set1_ps(-88.0f);
  __m256 underflow = _mm256_cmp_ps(x, kMin, _CMP_LT_OQ);
  __m256 overflow = _mm256_cmp_ps(x, kMax, _CMP_GT_OQ);
  __m256 xc = _mm256_max_ps(_mm256_min_ps(x, kMax), kMin);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, kLog2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, kLn2Hi, xc);
  r = _mm256_fnmadd_ps(n, kLn2Lo, r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n: n + 127 in the exponent field. n is in [-127, 128]; split it in two
  // halves so 2^n stays representable at both ends.
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i half = _mm256_srai_epi32(ni, 1);
  __m256 scale1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  __m256 scale2 = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
  __m256 result = _mm256_mul_ps(_mm256_mul_ps(p, scale1), scale2);
  result = _mm256_blendv_ps(result, _mm256_setzero_ps(), underflow);
  result = _mm256_blendv_ps(result, _mm256_set1_ps(__builtin_inff()), overflow);
  // NaN in, NaN out (min/max above would have replaced it).
  __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  return _mm256_blendv_ps(result, x, is_nan);
}

// 2^x for 8 floats known to be <= 0 (a softmax in base 2, x = s - max):
// x = n + r with |r| <= 1/2, 2^r by its degree-6 Taylor polynomial (relative
// error < 2e-7), 2^n built in the exponent bits. Clamping at -127 makes 2^n
// exactly +0 there, so -inf gives 0 without a compare; NaN stays NaN
// (max(kMin, x) returns x when x is NaN).
AK_AVX2 __m256 exp2_nonpositive(__m256 x) {
  const __m256 xc = _mm256_max_ps(_mm256_set1_ps(-127.0f), x);
  const __m256 n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_sub_ps(xc, n);
  __m256 p = _mm256_set1_ps(1.5403530393e-4f);  // ln2^k / k!, k = 6 .. 0
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3333558146e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(9.6181291076e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.5504108665e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.4022650696e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(6.9314718056e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

AK_AVX2 float horizontal_sum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

AK_AVX2 float horizontal_max(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_max_ps(lo, hi);
  lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_max_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

#undef AK_AVX2

}  // namespace attnkit::kernels::avx2
