#pragma once
// Dropout driven by the counter-based Philox4x32-10 stream, without a mask
// in memory: element i of a stream that starts at block `first_block` of
// `seed` draws u_i = word (i mod 4) of block first_block + ⌊i / 4⌋, as
// attnkit::rand lays out its numbers, and is kept when u_i >= p:
//
//   out[i] = in[i] · (u_i >= p ? scale : 0)
//
// The backward pass either makes the same call on the output gradient (the
// mask is drawn again) or, cheaper, applies the keep bits the forward wrote
// (one bit per element, n / 8 bytes). in and out may be the same array.
// AVX2 computes eight Philox blocks at once; the scalar loop beside it is
// the reference and gives identical bits.
#include <cstdint>

namespace attnkit::kernels {

struct PhiloxDropout {
  uint64_t seed = 0;
  uint64_t first_block = 0;  // block of element 0
  float p = 0.0f;            // drop probability
  float scale = 1.0f;        // factor of kept elements, normally 1 / (1 - p)
};

// n elements, multithreaded when large (each thread starts at its own block).
// With keep_bits (ceil(n / 8) bytes, zero-filled by the caller), bit i % 8 of
// byte i / 8 is set when element i is kept.
void philox_dropout(const PhiloxDropout& d, const float* in, float* out, int64_t n, uint8_t* keep_bits = nullptr);
// out[i] = in[i] · (keep bit i ? scale : 0): the backward from stored bits.
void apply_keep_bits(const uint8_t* keep_bits, float scale, const float* in, float* out, int64_t n);
void apply_keep_bits_reference(const uint8_t* keep_bits, float scale, const float* in, float* out, int64_t n);
// Single-threaded, for callers that already run in parallel.
void philox_dropout_serial(const PhiloxDropout& d, const float* in, float* out, int64_t n);
void philox_dropout_reference(const PhiloxDropout& d, const float* in, float* out, int64_t n);

}  // namespace attnkit::kernels
