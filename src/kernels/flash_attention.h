#pragma once
// Fused attention forward (FlashAttention-2, Dao 2023, Algorithm 1) on the CPU:
// a block of queries against blocks of keys/values with an online softmax
// (Milakov & Gimelshein 2018), so the (L, S) score matrix never exists: extra
// memory is O(Br·Bc) per thread. Causal key blocks entirely above the
// diagonal are skipped. K and V are packed once per call into 16-wide panels
// and the block products run on the tile kernels of attention_tiles.h.
//
// Layout: per batch-head b, q (L, E), k (S, E), v (S, Ev), out (L, Ev), each
// with its own row stride (unit column stride), and lse (L). The mask, if
// any, is read through strides: bool (true = take part) or additive float.

#include <cstdint>

namespace attnkit::kernels {

// Dropout of the attention probabilities from the counter-based generator:
// whether key j of query row r (r = b·L + i over every problem) is kept is a
// pure function of (seed, first_block, r, j), so the backward regenerates
// the forward's mask. Each row starts a fresh Philox block (rows of ⌈S/4⌉
// blocks). Kept probabilities are scaled by 1/(1-p).
struct AttentionDropout {
  float p = 0.0f;  // probability of dropping; 0 = no dropout
  uint64_t seed = 0, first_block = 0;
};
// Philox blocks one call reserves from its generator.
uint64_t attention_dropout_blocks(int64_t rows, int64_t keys);
// The factor of one entry: 0 (dropped) or 1/(1-p).
float attention_dropout_factor(const AttentionDropout& dropout, int64_t row, int64_t keys, int64_t key);
// row[j] *= factor(row, k0 + j) for j < cols; k0 a multiple of 4.
void apply_attention_dropout(const AttentionDropout& dropout, int64_t row, int64_t keys, int64_t k0, int64_t cols,
                             float* values);

struct FlashAttentionParams {
  int64_t batch_heads = 0;  // number of (batch, head) problems
  int64_t queries = 0, keys = 0, head_dim = 0, value_dim = 0;
  // Pointer to problem b's first row: base + offset(b), offsets given per problem.
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  float* lse = nullptr;  // (batch_heads, L) contiguous; may be null
  const int64_t* q_offsets = nullptr;  // (batch_heads) element offsets
  const int64_t* k_offsets = nullptr;
  const int64_t* v_offsets = nullptr;
  const int64_t* out_offsets = nullptr;
  int64_t q_row_stride = 0, k_row_stride = 0, v_row_stride = 0, out_row_stride = 0;
  float scale = 1.0f;
  bool causal = false;
  int64_t causal_offset = 0;  // causal: query i sees keys j <= i + causal_offset (0 = top-left)
  // Optional mask: element (b, i, j) at mask_offsets[b] + i * mask_row_stride + j * mask_col_stride.
  const bool* bool_mask = nullptr;
  const float* float_mask = nullptr;
  const int64_t* mask_offsets = nullptr;
  int64_t mask_row_stride = 0, mask_col_stride = 0;
  AttentionDropout dropout;
};

void flash_attention_forward(const FlashAttentionParams& params);

// The gradients of the forward above (FlashAttention-2, Algorithm 2): the
// probabilities are recomputed block by block from the saved logsumexp, so
// the backward too needs O(N·d) memory. Reads params.q, k, v, out (the
// forward's output) and lse (required); writes dense per-problem gradients.
// Problems that share K/V (GQA, broadcasting) get their own dk/dv: the caller
// sums them.
struct FlashAttentionGrads {
  const float* dout = nullptr;           // dL/d out, per problem at dout_offsets[b]
  const int64_t* dout_offsets = nullptr;
  int64_t dout_row_stride = 0;           // unit column stride
  float* dq = nullptr;                   // (batch_heads, L, E) contiguous
  float* dk = nullptr;                   // (batch_heads, S, E) contiguous
  float* dv = nullptr;                   // (batch_heads, S, Ev) contiguous
};

void flash_attention_backward(const FlashAttentionParams& params, const FlashAttentionGrads& grads);

// The attention weights of chosen problems, recomputed from the forward's
// lse (so no max or sum pass): P = exp(scale·q·k + mask - lse), 0 where a
// key takes no part or the row saw nothing; dropout is not applied.
// weights: (count, L, S) contiguous, problem problems[c] in slot c.
void attention_weights_from_lse(const FlashAttentionParams& params, const int64_t* problems, int64_t count,
                                float* weights);

// The oracles: one query row at a time, every score kept, sums in double.
void attention_forward_reference(const FlashAttentionParams& params);
void attention_backward_reference(const FlashAttentionParams& params, const FlashAttentionGrads& grads);

// Shared by the forward and backward kernels: sets entries of one score row
// (scores in base 2, i.e. times log2 e; keys k0 .. k0 + cols of query qi of
// problem b) to -inf where the mask or the causal cut excludes the key, and
// adds a float mask (times log2 e).
void mask_score_row(const FlashAttentionParams& params, int64_t b, int64_t qi, int64_t k0, int64_t cols,
                    float* row);

}  // namespace attnkit::kernels
