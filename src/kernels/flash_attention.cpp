#include "kernels/flash_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention_tiles.h"
#include "kernels/parallel_tasks.h"

namespace attnkit::kernels {

namespace {

// Block sizes, measured with bench/attention.py: a (Br, Bc) score block of
// 24 KiB stays in L1 while its rows go through the softmax and into P·V.
constexpr int64_t kQueryBlock = 48;   // Br, a multiple of every ISA's tile rows (6, 12)
constexpr int64_t kKeyBlock = 128;    // Bc, a multiple of kTileCols
constexpr int64_t kMaxSubBlocks = 4;  // query blocks sharing one pass over K/V
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Scores are kept in base 2 (times log2 e) so the softmax needs 2^x, not e^x.
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.69314718055994531f;

// Kᵀ and V of every problem in 16-wide panels (attention_tiles.h), packed
// once per call so each query block reads them contiguously, with no strided
// or power-of-two-stride access in the inner loops:
//   kt  (B, S/16, E, 16)    v  (B, Ev/16, S, 16)
struct PackedKeysValues {
  int64_t key_panels = 0, value_panels = 0;
  std::vector<float> kt, v;

  const float* key_panel(const FlashAttentionParams& p, int64_t b, int64_t jp) const {
    return kt.data() + ((b * key_panels + jp) * p.head_dim) * kTileCols;
  }
  const float* value_panel(const FlashAttentionParams& p, int64_t b, int64_t dp) const {
    return v.data() + ((b * value_panels + dp) * p.keys) * kTileCols;
  }
};

void pack_problem(const FlashAttentionParams& p, int64_t b, PackedKeysValues& packed) {
  pack_transposed_panels(p.k + p.k_offsets[b], p.keys, p.head_dim, p.k_row_stride,
                         packed.kt.data() + b * packed.key_panels * p.head_dim * kTileCols);
  pack_column_panels(p.v + p.v_offsets[b], p.keys, p.value_dim, p.v_row_stride,
                     packed.v.data() + b * packed.value_panels * p.keys * kTileCols);
}

// Per-thread buffers of one task: up to kMaxSubBlocks query blocks that
// share each K/V block while it is in cache.
struct Workspace {
  std::vector<float> q;       // (blocks, Br, E)     the queries times scale · log2 e
  std::vector<float> acc;     // (blocks, Br, Ev16)  unnormalised outputs, Ev16 = Ev rounded up to 16
  std::vector<float> row_max, row_sum;  // (blocks, Br)
  std::vector<float> scores;  // (Br, Bc)            scores, then probabilities, of one block
};

}  // namespace

void mask_score_row(const FlashAttentionParams& p, int64_t b, int64_t qi, int64_t k0, int64_t cols, float* row) {
  if (p.bool_mask || p.float_mask) {
    const int64_t base = p.mask_offsets[b] + qi * p.mask_row_stride;
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t at = base + (k0 + j) * p.mask_col_stride;
      if (p.bool_mask && !p.bool_mask[at]) row[j] = kNegInf;
      if (p.float_mask) row[j] += p.float_mask[at] * kLog2e;
    }
  }
  if (p.causal) {
    const int64_t last = qi + p.causal_offset;  // the last key this query sees
    for (int64_t j = std::max<int64_t>(0, last + 1 - k0); j < cols; ++j) row[j] = kNegInf;
  }
}

namespace {

// The running state of one query block [q0, q0 + rows): views into the workspace.
struct QueryBlock {
  int64_t q0, rows, key_end;  // keys [0, key_end) are attended (causal cut)
  float *q, *acc, *row_max, *row_sum;
};

QueryBlock begin_block(const FlashAttentionParams& p, int64_t b, int64_t q0, int64_t rows, int64_t slot,
                       int64_t ev_width, Workspace& ws) {
  const int64_t E = p.head_dim;
  QueryBlock blk{q0, rows, p.keys, ws.q.data() + slot * kQueryBlock * E,
                 ws.acc.data() + slot * kQueryBlock * ev_width, ws.row_max.data() + slot * kQueryBlock,
                 ws.row_sum.data() + slot * kQueryBlock};
  // Causal: keys past the block's last query are never attended.
  if (p.causal) blk.key_end = std::clamp<int64_t>(q0 + rows + p.causal_offset, 0, p.keys);
  const float* q = p.q + p.q_offsets[b] + q0 * p.q_row_stride;
  const float q_scale = p.scale * kLog2e;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t e = 0; e < E; ++e) blk.q[i * E + e] = q[i * p.q_row_stride + e] * q_scale;
  }
  std::fill(blk.row_max, blk.row_max + rows, kNegInf);
  std::fill(blk.row_sum, blk.row_sum + rows, 0.0f);
  std::fill(blk.acc, blk.acc + rows * ev_width, 0.0f);
  return blk;
}

// One key block [k0, k0 + cols) into a query block's state.
void attend_key_block(const FlashAttentionParams& p, const PackedKeysValues& packed, int64_t b,
                      const QueryBlock& blk, int64_t k0, float* scores, const AttentionTileKernels& kern) {
  const int64_t E = p.head_dim, ev_width = packed.value_panels * kTileCols, rows = blk.rows, q0 = blk.q0;
  const int64_t cols = std::min(kKeyBlock, blk.key_end - k0);
  // S = (scale · log2 e · Q) Kᵀ  (rows, panels · 16): each K panel stays in L1 across the row tiles.
  for (int64_t jp = 0; jp < panel_count(cols); ++jp) {
    const float* panel = packed.key_panel(p, b, k0 / kTileCols + jp);
    for (int64_t r0 = 0; r0 < rows; r0 += kern.tile_rows) {
      const int tile_rows = static_cast<int>(std::min<int64_t>(kern.tile_rows, rows - r0));
      kern.tile(tile_rows, E, blk.q + r0 * E, E, 1, panel, scores + r0 * kKeyBlock + jp * kTileCols, kKeyBlock,
                false);
    }
  }
  // The online softmax: new running max, rescale what was accumulated, exponentiate.
  const bool masked = p.bool_mask || p.float_mask;
  const bool cut = p.causal && k0 + cols - 1 > q0 + p.causal_offset;  // block crosses the diagonal
  for (int64_t i = 0; i < rows; ++i) {
    float* row = scores + i * kKeyBlock;
    if (masked || cut) mask_score_row(p, b, q0 + i, k0, cols, row);
    const float new_max = std::max(blk.row_max[i], kern.row_max(row, cols));
    if (new_max == kNegInf) {  // nothing to attend to in this row yet
      std::fill(row, row + cols, 0.0f);
      continue;
    }
    const float correction = std::exp2(blk.row_max[i] - new_max);  // 0 when the old max was -inf
    blk.row_sum[i] = blk.row_sum[i] * correction + kern.exp2_shifted_sum(row, cols, new_max);
    blk.row_max[i] = new_max;
    // Dropout after the sum: the normaliser counts every key, the output only the kept ones.
    if (p.dropout.p > 0.0f) apply_attention_dropout(p.dropout, b * p.queries + q0 + i, p.keys, k0, cols, row);
    if (correction != 1.0f) kern.scale(blk.acc + i * ev_width, ev_width, correction);
  }
  // acc += P V  (rows, Ev16): each V panel stays in L1 across the row tiles.
  for (int64_t dp = 0; dp < packed.value_panels; ++dp) {
    const float* panel = packed.value_panel(p, b, dp) + k0 * kTileCols;
    for (int64_t r0 = 0; r0 < rows; r0 += kern.tile_rows) {
      const int tile_rows = static_cast<int>(std::min<int64_t>(kern.tile_rows, rows - r0));
      kern.tile(tile_rows, cols, scores + r0 * kKeyBlock, kKeyBlock, 1, panel, blk.acc + r0 * ev_width + dp * kTileCols,
                ev_width, true);
    }
  }
}

void finish_block(const FlashAttentionParams& p, int64_t b, const QueryBlock& blk, int64_t ev_width) {
  float* out = p.out + p.out_offsets[b] + blk.q0 * p.out_row_stride;
  for (int64_t i = 0; i < blk.rows; ++i) {
    // A row with nothing to attend to gives zeros (and lse -inf).
    const float sum = blk.row_sum[i];
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int64_t d = 0; d < p.value_dim; ++d) out[i * p.out_row_stride + d] = blk.acc[i * ev_width + d] * inv;
    if (p.lse) p.lse[b * p.queries + blk.q0 + i] = sum > 0.0f ? (blk.row_max[i] + std::log2(sum)) * kLn2 : kNegInf;
  }
}

// Query blocks [first, first + count) of problem b against every key block,
// key block outermost: each K/V block is read from memory once for all of
// them (at long lengths K and V outgrow the caches, and reading them once
// per 48 queries would make the kernel memory-bound).
void attend_blocks(const FlashAttentionParams& p, const PackedKeysValues& packed, int64_t b, int64_t first,
                   int64_t count, Workspace& ws, const AttentionTileKernels& kern) {
  const int64_t ev_width = packed.value_panels * kTileCols;
  QueryBlock blocks[kMaxSubBlocks];
  int64_t key_end = 0;
  for (int64_t s = 0; s < count; ++s) {
    const int64_t q0 = (first + s) * kQueryBlock;
    blocks[s] = begin_block(p, b, q0, std::min(kQueryBlock, p.queries - q0), s, ev_width, ws);
    key_end = std::max(key_end, blocks[s].key_end);
  }
  for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
    for (int64_t s = 0; s < count; ++s) {
      if (k0 < blocks[s].key_end) attend_key_block(p, packed, b, blocks[s], k0, ws.scores.data(), kern);
    }
  }
  for (int64_t s = 0; s < count; ++s) finish_block(p, b, blocks[s], ev_width);
}

}  // namespace

void flash_attention_forward(const FlashAttentionParams& p) {
  if (p.batch_heads == 0 || p.queries == 0) return;
  const AttentionTileKernels& kern = attention_tile_kernels();
  PackedKeysValues packed;
  packed.key_panels = panel_count(p.keys);
  packed.value_panels = panel_count(p.value_dim);
  packed.kt.resize(static_cast<size_t>(p.batch_heads * packed.key_panels * p.head_dim * kTileCols));
  packed.v.resize(static_cast<size_t>(p.batch_heads * packed.value_panels * p.keys * kTileCols));
  parallel_tasks(p.batch_heads, [&](int64_t b) { pack_problem(p, b, packed); });

  const int64_t query_blocks = (p.queries + kQueryBlock - 1) / kQueryBlock;
  // Query blocks per task: up to kMaxSubBlocks, while leaving >= 4 tasks per thread to balance.
  const int64_t threads = omp_get_max_threads();
  const int64_t per_task =
      std::clamp<int64_t>(p.batch_heads * query_blocks / (4 * threads), 1, kMaxSubBlocks);
  const int64_t tasks_per_problem = (query_blocks + per_task - 1) / per_task;
  std::vector<Workspace> workspaces(static_cast<size_t>(threads));
  // Causal blocks differ in cost (later query blocks see more keys): tasks are handed out dynamically.
  parallel_tasks(p.batch_heads * tasks_per_problem, [&](int64_t t) {
    Workspace& ws = workspaces[static_cast<size_t>(omp_get_thread_num())];
    if (ws.scores.empty()) {
      ws.q.resize(static_cast<size_t>(kMaxSubBlocks * kQueryBlock * p.head_dim));
      ws.acc.resize(static_cast<size_t>(kMaxSubBlocks * kQueryBlock * packed.value_panels * kTileCols));
      ws.row_max.resize(kMaxSubBlocks * kQueryBlock);
      ws.row_sum.resize(kMaxSubBlocks * kQueryBlock);
      ws.scores.resize(static_cast<size_t>(kQueryBlock * kKeyBlock));
    }
    const int64_t b = t / tasks_per_problem, first = (t % tasks_per_problem) * per_task;
    attend_blocks(p, packed, b, first, std::min(per_task, query_blocks - first), ws, kern);
  });
}

}  // namespace attnkit::kernels
