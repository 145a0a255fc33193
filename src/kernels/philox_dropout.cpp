#include "kernels/philox_dropout.h"

#include <immintrin.h>

#include <algorithm>

#include "attnkit/core/rng.h"
#include "kernels/cpu_features.h"

namespace attnkit::kernels {

namespace {

std::array<uint32_t, 4> block_words(uint64_t seed, uint64_t block) {
  return philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0},
                    {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
}

// Elements [begin, end) of the stream, one Philox block per 4 elements
// (begin may fall inside a block). Keep bits are or-ed into zeroed bytes.
void dropout_scalar(const PhiloxDropout& d, const float* in, float* out, int64_t begin, int64_t end,
                    uint8_t* bits) {
  for (int64_t i = begin; i < end;) {
    const std::array<uint32_t, 4> words = block_words(d.seed, d.first_block + static_cast<uint64_t>(i / 4));
    for (int64_t w = i % 4; w < 4 && i < end; ++w, ++i) {
      const bool keep = uint_to_unit_float(words[static_cast<size_t>(w)]) >= d.p;
      out[i] = in[i] * (keep ? d.scale : 0.0f);
      if (bits && keep) bits[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    }
  }
}

void apply_bits_scalar(const uint8_t* bits, float scale, const float* in, float* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) out[i] = in[i] * (((bits[i / 8] >> (i % 8)) & 1) ? scale : 0.0f);
}

#define AK_AVX2_FN __attribute__((target("avx2,fma")))

// lo and hi halves of the 32 x 32 -> 64-bit products a · m, per lane.
AK_AVX2_FN inline void mulhilo(__m256i a, __m256i m, __m256i& lo, __m256i& hi) {
  const __m256i even = _mm256_mul_epu32(a, m);                         // lanes 0, 2, 4, 6
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);   // lanes 1, 3, 5, 7
  lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// Elements [begin, end), begin a multiple of 32: eight blocks per iteration,
// lane b holding block b's counter, then transposed so the 32 words come out
// in stream order.
AK_AVX2_FN void dropout_avx2(const PhiloxDropout& d, const float* in, float* out, int64_t begin, int64_t end,
                             uint8_t* bits) {
  const __m256i mul0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i mul1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 p = _mm256_set1_ps(d.p), scale = _mm256_set1_ps(d.scale);
  const __m256 unit = _mm256_set1_ps(1.0f / 16777216.0f);
  int64_t i = begin;
  for (; i + 32 <= end; i += 32) {
    const uint64_t block = d.first_block + static_cast<uint64_t>(i / 4);
    // Counters (block + b) as 64-bit: the low words get a carry into the high ones.
    const __m256i low = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(block))), lane);
    const __m256i carry = _mm256_srli_epi32(
        _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(block))),
                                            _mm256_set1_epi32(INT32_MIN)),
                           _mm256_xor_si256(low, _mm256_set1_epi32(INT32_MIN))),
        31);  // 1 where low wrapped around (block_lo > low as unsigned)
    __m256i c0 = low;
    __m256i c1 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(block >> 32))), carry);
    __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    uint32_t k0 = static_cast<uint32_t>(d.seed), k1 = static_cast<uint32_t>(d.seed >> 32);
    for (int round = 0; round < 10; ++round) {
      __m256i lo0, hi0, lo1, hi1;
      mulhilo(c0, mul0, lo0, hi0);
      mulhilo(c2, mul1, lo1, hi1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      c1 = lo1;
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c3 = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    // 4 x 8 transpose: words of block b become elements 4b .. 4b + 3.
    const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpacklo_epi32(c2, c3);
    const __m256i t2 = _mm256_unpackhi_epi32(c0, c1), t3 = _mm256_unpackhi_epi32(c2, c3);
    const __m256i r0 = _mm256_unpacklo_epi64(t0, t1), r1 = _mm256_unpackhi_epi64(t0, t1);  // blocks 0|4, 1|5
    const __m256i r2 = _mm256_unpacklo_epi64(t2, t3), r3 = _mm256_unpackhi_epi64(t2, t3);  // blocks 2|6, 3|7
    const __m256i words[4] = {_mm256_permute2x128_si256(r0, r1, 0x20), _mm256_permute2x128_si256(r2, r3, 0x20),
                              _mm256_permute2x128_si256(r0, r1, 0x31), _mm256_permute2x128_si256(r2, r3, 0x31)};
    for (int q = 0; q < 4; ++q) {
      const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(words[q], 8)), unit);
      const __m256 keep = _mm256_cmp_ps(u, p, _CMP_GE_OQ);
      _mm256_storeu_ps(out + i + 8 * q, _mm256_mul_ps(_mm256_loadu_ps(in + i + 8 * q), _mm256_and_ps(keep, scale)));
      if (bits) bits[(i + 8 * q) / 8] = static_cast<uint8_t>(_mm256_movemask_ps(keep));
    }
  }
  dropout_scalar(d, in, out, i, end, bits);
}

AK_AVX2_FN void apply_bits_avx2(const uint8_t* bits, float scale, const float* in, float* out, int64_t begin,
                                int64_t end) {
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256 factor = _mm256_set1_ps(scale);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256i byte = _mm256_set1_epi32(bits[i / 8]);
    const __m256 keep = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(byte, lane_bit), lane_bit));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(in + i), _mm256_and_ps(keep, factor)));
  }
  apply_bits_scalar(bits, scale, in, out, i, end);
}

void dropout_range(const PhiloxDropout& d, const float* in, float* out, int64_t begin, int64_t end, uint8_t* bits) {
  if (active_isa() == Isa::Scalar) {
    dropout_scalar(d, in, out, begin, end, bits);
    return;
  }
  // The vector loop starts on a 32-element boundary of the stream.
  const int64_t aligned = std::min(end, (begin + 31) / 32 * 32);
  dropout_scalar(d, in, out, begin, aligned, bits);
  if (aligned < end) dropout_avx2(d, in, out, aligned, end, bits);
}

}  // namespace

void philox_dropout_serial(const PhiloxDropout& d, const float* in, float* out, int64_t n) {
  dropout_range(d, in, out, 0, n, nullptr);
}

// Elements per task: a multiple of 32, so tasks own whole bytes of the bits.
constexpr int64_t kChunk = 1 << 14;

void philox_dropout(const PhiloxDropout& d, const float* in, float* out, int64_t n, uint8_t* keep_bits) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    dropout_range(d, in, out, c * kChunk, std::min(n, (c + 1) * kChunk), keep_bits);
  }
}

void apply_keep_bits(const uint8_t* keep_bits, float scale, const float* in, float* out, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const bool vector = active_isa() >= Isa::Avx2;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk, end = std::min(n, (c + 1) * kChunk);
    if (vector) {
      apply_bits_avx2(keep_bits, scale, in, out, begin, end);
    } else {
      apply_bits_scalar(keep_bits, scale, in, out, begin, end);
    }
  }
}

void apply_keep_bits_reference(const uint8_t* keep_bits, float scale, const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] * (((keep_bits[i / 8] >> (i % 8)) & 1) ? scale : 0.0f);
}

void philox_dropout_reference(const PhiloxDropout& d, const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float u = uint_to_unit_float(philox_word(d.seed, d.first_block, static_cast<uint64_t>(i)));
    out[i] = in[i] * (u >= d.p ? d.scale : 0.0f);
  }
}

}  // namespace attnkit::kernels
