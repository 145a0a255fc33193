// Attention weights recomputed from the saved logsumexp: the first half of
// the fused forward (S = Q Kᵀ on the tile kernels, masks, causal cut), then
// one exponential per entry instead of a max pass, an exp pass and a sum.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention_tiles.h"
#include "kernels/flash_attention.h"
#include "kernels/parallel_tasks.h"

namespace attnkit::kernels {

namespace {

constexpr int64_t kQueryBlock = 48;
constexpr int64_t kKeyBlock = 128;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kLog2e = 1.44269504088896341f;

struct Workspace {
  int64_t packed_problem = -1;  // whose Kᵀ panels `kt` holds
  std::vector<float> kt;        // (S/16, E, 16)
  std::vector<float> q;         // (Br, E) scaled by scale · log2 e
  std::vector<float> scores;    // (Br, Bc)
};

}  // namespace

void attention_weights_from_lse(const FlashAttentionParams& p, const int64_t* problems, int64_t count,
                                float* weights) {
  const int64_t L = p.queries, S = p.keys, E = p.head_dim;
  if (count == 0 || L == 0 || S == 0) return;
  const AttentionTileKernels& kern = attention_tile_kernels();
  const int64_t query_blocks = (L + kQueryBlock - 1) / kQueryBlock;
  std::vector<Workspace> workspaces(static_cast<size_t>(omp_get_max_threads()));
  parallel_tasks(count * query_blocks, [&](int64_t t) {
    Workspace& ws = workspaces[static_cast<size_t>(omp_get_thread_num())];
    const int64_t slot = t / query_blocks, q0 = (t % query_blocks) * kQueryBlock;
    const int64_t b = problems[slot], rows = std::min(kQueryBlock, L - q0);
    if (ws.packed_problem != b) {
      ws.kt.resize(static_cast<size_t>(panel_count(S) * kTileCols * E));
      pack_transposed_panels(p.k + p.k_offsets[b], S, E, p.k_row_stride, ws.kt.data());
      ws.packed_problem = b;
      ws.q.resize(static_cast<size_t>(kQueryBlock * E));
      ws.scores.resize(kQueryBlock * kKeyBlock);
    }
    const float* q = p.q + p.q_offsets[b] + q0 * p.q_row_stride;
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t e = 0; e < E; ++e) ws.q[i * E + e] = q[i * p.q_row_stride + e] * p.scale * kLog2e;
    }
    float* out = weights + (slot * L + q0) * S;
    for (int64_t k0 = 0; k0 < S; k0 += kKeyBlock) {
      const int64_t cols = std::min(kKeyBlock, S - k0);
      for (int64_t jp = 0; jp < panel_count(cols); ++jp) {
        const float* panel = ws.kt.data() + (k0 / kTileCols + jp) * E * kTileCols;
        for (int64_t r0 = 0; r0 < rows; r0 += kern.tile_rows) {
          kern.tile(static_cast<int>(std::min<int64_t>(kern.tile_rows, rows - r0)), E, ws.q.data() + r0 * E, E, 1, panel,
                    ws.scores.data() + r0 * kKeyBlock + jp * kTileCols, kKeyBlock, false);
        }
      }
      for (int64_t i = 0; i < rows; ++i) {
        float* row = ws.scores.data() + i * kKeyBlock;
        float* dst = out + i * S + k0;
        const float lse2 = p.lse[b * L + q0 + i] * kLog2e;
        if (lse2 == kNegInf) {  // the row saw nothing
          std::fill(dst, dst + cols, 0.0f);
          continue;
        }
        mask_score_row(p, b, q0 + i, k0, cols, row);
        kern.exp2_shifted_sum(row, cols, lse2);
        std::copy(row, row + cols, dst);
      }
    }
  });
}

}  // namespace attnkit::kernels
