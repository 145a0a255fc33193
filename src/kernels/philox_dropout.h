#pragma once
// Dropout driven by the counter-based Philox4x32-10 stream, without a mask
// in memory: element i of a stream that starts at block `first_block` of
// `seed` draws u_i = word (i mod 4) of block first_block + ⌊i / 4⌋, as
// attnkit::rand lays out its numbers, and is kept when u_i >= p:
//
//   out[i] = in[i] · (u_i >= p ? scale : 0)
//
// The same call on the output gradient is the backward pass, so the mask
// never has to be stored. in and out may be the same array. AVX2 computes
// eight Philox blocks at once; the scalar loop beside it is the reference
// and gives identical bits.
#include <cstdint>

namespace attnkit::kernels {

struct PhiloxDropout {
  uint64_t seed = 0;
  uint64_t first_block = 0;  // block of element 0
  float p = 0.0f;            // drop probability
  float scale = 1.0f;        // factor of kept elements, normally 1 / (1 - p)
};

// n elements, multithreaded when large (each thread starts at its own block).
void philox_dropout(const PhiloxDropout& d, const float* in, float* out, int64_t n);
// Single-threaded, for callers that already run in parallel.
void philox_dropout_serial(const PhiloxDropout& d, const float* in, float* out, int64_t n);
void philox_dropout_reference(const PhiloxDropout& d, const float* in, float* out, int64_t n);

}  // namespace attnkit::kernels
