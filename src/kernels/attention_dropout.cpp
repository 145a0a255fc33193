#include <cmath>

#include "attnkit/core/rng.h"
#include "attnkit/core/error.h"
#include "kernels/flash_attention.h"
#include "kernels/philox_dropout.h"

namespace attnkit::kernels {

namespace {

uint64_t row_blocks(int64_t keys) { return static_cast<uint64_t>((keys + 3) / 4); }

std::array<uint32_t, 4> block_words(const AttentionDropout& d, uint64_t block) {
  return philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0},
                    {static_cast<uint32_t>(d.seed), static_cast<uint32_t>(d.seed >> 32)});
}

}  // namespace

uint64_t attention_dropout_blocks(int64_t rows, int64_t keys) {
  return static_cast<uint64_t>(rows) * row_blocks(keys);
}

float attention_dropout_factor(const AttentionDropout& d, int64_t row, int64_t keys, int64_t key) {
  const uint64_t block = d.first_block + static_cast<uint64_t>(row) * row_blocks(keys) + static_cast<uint64_t>(key / 4);
  const float u = uint_to_unit_float(block_words(d, block)[key % 4]);
  return u >= d.p ? 1.0f / (1.0f - d.p) : 0.0f;
}

void apply_attention_dropout(const AttentionDropout& d, int64_t row, int64_t keys, int64_t k0, int64_t cols,
                             float* values) {
  // Key k of a row is element k of the row's stream; blocks start at keys
  // that are multiples of 4, which every key block of the kernels is.
  AK_CHECK(k0 % 4 == 0, "apply_attention_dropout: key block must start at a multiple of 4, got ", k0);
  PhiloxDropout stream;
  stream.seed = d.seed;
  stream.first_block = d.first_block + static_cast<uint64_t>(row) * row_blocks(keys) + static_cast<uint64_t>(k0 / 4);
  stream.p = d.p;
  stream.scale = 1.0f / (1.0f - d.p);
  philox_dropout_serial(stream, values, values, cols);
}

}  // namespace attnkit::kernels
