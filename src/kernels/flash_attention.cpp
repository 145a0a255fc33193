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

// Per-thread buffers of one query block.
struct Workspace {
  std::vector<float> q;       // (Br, E)       the block's queries times scale · log2 e
  std::vector<float> scores;  // (Br, Bc)      scores, then probabilities
  std::vector<float> acc;     // (Br, Ev16)    unnormalised output, Ev16 = Ev rounded up to 16
  std::vector<float> row_max, row_sum;  // (Br)
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

// One block of queries [q0, q0 + rows) of problem b against every key block.
void attend_block(const FlashAttentionParams& p, const PackedKeysValues& packed, int64_t b, int64_t q0,
                  int64_t rows, Workspace& ws, const AttentionTileKernels& kern) {
  const int64_t E = p.head_dim, Ev = p.value_dim, ev_width = packed.value_panels * kTileCols;
  const float* q = p.q + p.q_offsets[b] + q0 * p.q_row_stride;
  const float q_scale = p.scale * kLog2e;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t e = 0; e < E; ++e) ws.q[i * E + e] = q[i * p.q_row_stride + e] * q_scale;
  }
  std::fill(ws.row_max.begin(), ws.row_max.end(), kNegInf);
  std::fill(ws.row_sum.begin(), ws.row_sum.end(), 0.0f);
  std::fill(ws.acc.begin(), ws.acc.begin() + rows * ev_width, 0.0f);
  const bool masked = p.bool_mask || p.float_mask;
  // Causal: keys past the block's last query are never attended.
  const int64_t key_end =
      p.causal ? std::clamp<int64_t>(q0 + rows + p.causal_offset, 0, p.keys) : p.keys;
  for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
    const int64_t cols = std::min(kKeyBlock, key_end - k0);
    const int64_t key_panels = panel_count(cols);
    float* scores = ws.scores.data();
    // S = (scale · log2 e · Q) Kᵀ  (rows, key_panels · 16): each K panel stays in L1 across the row tiles.
    for (int64_t jp = 0; jp < key_panels; ++jp) {
      const float* panel = packed.key_panel(p, b, k0 / kTileCols + jp);
      for (int64_t r0 = 0; r0 < rows; r0 += kern.tile_rows) {
        const int tile_rows = static_cast<int>(std::min<int64_t>(kern.tile_rows, rows - r0));
        kern.tile(tile_rows, E, ws.q.data() + r0 * E, E, 1, panel, scores + r0 * kKeyBlock + jp * kTileCols,
                  kKeyBlock, false);
      }
    }
    // The online softmax: new running max, rescale what was accumulated, exponentiate.
    const bool cut = p.causal && k0 + cols - 1 > q0 + p.causal_offset;  // block crosses the diagonal
    for (int64_t i = 0; i < rows; ++i) {
      float* row = scores + i * kKeyBlock;
      if (masked || cut) mask_score_row(p, b, q0 + i, k0, cols, row);
      const float new_max = std::max(ws.row_max[i], kern.row_max(row, cols));
      if (new_max == kNegInf) {  // nothing to attend to in this row yet
        std::fill(row, row + cols, 0.0f);
        continue;
      }
      const float correction = std::exp2(ws.row_max[i] - new_max);  // 0 when the old max was -inf
      ws.row_sum[i] = ws.row_sum[i] * correction + kern.exp2_shifted_sum(row, cols, new_max);
      ws.row_max[i] = new_max;
      // Dropout after the sum: the normaliser counts every key, the output only the kept ones.
      if (p.dropout.p > 0.0f) apply_attention_dropout(p.dropout, b * p.queries + q0 + i, p.keys, k0, cols, row);
      if (correction != 1.0f) kern.scale(ws.acc.data() + i * ev_width, ev_width, correction);
    }
    // acc += P V  (rows, Ev16): each V panel stays in L1 across the row tiles.
    for (int64_t dp = 0; dp < packed.value_panels; ++dp) {
      const float* panel = packed.value_panel(p, b, dp) + k0 * kTileCols;
      for (int64_t r0 = 0; r0 < rows; r0 += kern.tile_rows) {
        const int tile_rows = static_cast<int>(std::min<int64_t>(kern.tile_rows, rows - r0));
        kern.tile(tile_rows, cols, scores + r0 * kKeyBlock, kKeyBlock, 1, panel,
                  ws.acc.data() + r0 * ev_width + dp * kTileCols, ev_width, true);
      }
    }
  }
  float* out = p.out + p.out_offsets[b] + q0 * p.out_row_stride;
  for (int64_t i = 0; i < rows; ++i) {
    // A row with nothing to attend to gives zeros (and lse -inf).
    const float sum = ws.row_sum[i];
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int64_t d = 0; d < Ev; ++d) out[i * p.out_row_stride + d] = ws.acc[i * ev_width + d] * inv;
    if (p.lse) p.lse[b * p.queries + q0 + i] = sum > 0.0f ? (ws.row_max[i] + std::log2(sum)) * kLn2 : kNegInf;
  }
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
  std::vector<Workspace> workspaces(static_cast<size_t>(omp_get_max_threads()));
  // Causal blocks differ in cost (later query blocks see more keys): tasks are handed out dynamically.
  parallel_tasks(p.batch_heads * query_blocks, [&](int64_t t) {
    Workspace& ws = workspaces[static_cast<size_t>(omp_get_thread_num())];
    if (ws.scores.empty()) {
      ws.q.resize(static_cast<size_t>(kQueryBlock * p.head_dim));
      ws.scores.resize(static_cast<size_t>(kQueryBlock * kKeyBlock));
      ws.acc.resize(static_cast<size_t>(kQueryBlock * packed.value_panels * kTileCols));
      ws.row_max.resize(kQueryBlock);
      ws.row_sum.resize(kQueryBlock);
    }
    const int64_t b = t / query_blocks, q0 = (t % query_blocks) * kQueryBlock;
    attend_block(p, packed, b, q0, std::min(kQueryBlock, p.queries - q0), ws, kern);
  });
}

}  // namespace attnkit::kernels
