// FlashAttention-2 backward (Dao 2023, Algorithm 2) on the CPU. Per problem,
// an outer loop over key blocks keeps dK_j and dV_j in cache while an inner
// loop over query blocks recomputes P = 2^(S - lse) from the saved
// logsumexp and accumulates
//
//   dV_j += Pᵀ dO      dP = dO V_jᵀ      dS = P ∘ (dP - D),  D = rowsum(dO ∘ O)
//   dQ   += scale · dS K_j                dK_j += scale · dSᵀ Q
//
// With dropout (Z: the regenerated mask times 1/(1-p)) the kept
// probabilities Pz = P ∘ Z feed dV, and dS = Pz ∘ dP - P ∘ D.
//
// Every operand is packed once per problem into the 16-wide panels that the
// tile kernels read. Threads take whole problems; problems left over when
// there are fewer of them than threads split their key blocks over the
// threads, each accumulating dQ privately, summed at the end.
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

constexpr int64_t kQueryBlock = 64;  // Br
constexpr int64_t kKeyBlock = 64;    // Bc, a multiple of kTileCols
// Key blocks that share one pass over the queries: at long lengths the
// per-query operands (Q, dO, their panels, dQ) outgrow the caches, and
// streaming them once per 64 keys would make the backward memory-bound.
constexpr int64_t kKeyGroup = 4;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kLog2e = 1.44269504088896341f;

// One problem's operands in the layouts the tile kernels read.
struct ProblemPacks {
  int64_t e_width = 0;           // E rounded up to whole panels
  std::vector<float> q_scaled;   // (L, E)          q · scale · log2 e, for S = Q Kᵀ
  std::vector<float> q_panels;   // (E/16, L, 16)   for dK += dSᵀ Q
  std::vector<float> do_panels;  // (Ev/16, L, 16)  for dV += Pᵀ dO
  std::vector<float> kt_panels;  // (S/16, E, 16)   for S = Q Kᵀ
  std::vector<float> k_panels;   // (E/16, S, 16)   for dQ += dS K
  std::vector<float> vt_panels;  // (S/16, Ev, 16)  for dP = dO Vᵀ
  std::vector<float> lse2;       // (L)             lse in base 2
  std::vector<float> dot;        // (L)             D = rowsum(dO ∘ O)
};

// Per-thread buffers of one key block.
struct BlockBuffers {
  std::vector<float> p, ds;  // (Br, Bc)       probabilities; dP then dS
  std::vector<float> pz;     // (Br, Bc)       probabilities after dropout (only with dropout)
  std::vector<float> dk;     // (blocks, Bc, E16)
  std::vector<float> dv;     // (blocks, Bc, Ev16)
  std::vector<float> dq;     // (L, E16)       this thread's dQ when problems are split
};

void pack_problem(const FlashAttentionParams& p, const FlashAttentionGrads& g, int64_t b, ProblemPacks& pk) {
  const int64_t L = p.queries, S = p.keys, E = p.head_dim, Ev = p.value_dim;
  pk.e_width = panel_count(E) * kTileCols;
  pk.q_scaled.resize(static_cast<size_t>(L * E));
  pk.q_panels.resize(static_cast<size_t>(pk.e_width * L));
  pk.do_panels.resize(static_cast<size_t>(panel_count(Ev) * kTileCols * L));
  pk.kt_panels.resize(static_cast<size_t>(panel_count(S) * kTileCols * E));
  pk.k_panels.resize(static_cast<size_t>(pk.e_width * S));
  pk.vt_panels.resize(static_cast<size_t>(panel_count(S) * kTileCols * Ev));
  pk.lse2.resize(static_cast<size_t>(L));
  pk.dot.resize(static_cast<size_t>(L));
  const float* q = p.q + p.q_offsets[b];
  const float* k = p.k + p.k_offsets[b];
  const float* v = p.v + p.v_offsets[b];
  const float* out = p.out + p.out_offsets[b];
  const float* dout = g.dout + g.dout_offsets[b];
  const float q_scale = p.scale * kLog2e;
  for (int64_t i = 0; i < L; ++i) {
    for (int64_t e = 0; e < E; ++e) pk.q_scaled[i * E + e] = q[i * p.q_row_stride + e] * q_scale;
    double dot = 0.0;
    for (int64_t d = 0; d < Ev; ++d) dot += static_cast<double>(dout[i * g.dout_row_stride + d]) * out[i * p.out_row_stride + d];
    pk.dot[i] = static_cast<float>(dot);
    pk.lse2[i] = p.lse[b * L + i] * kLog2e;  // -inf stays -inf: a row that saw nothing
  }
  pack_column_panels(q, L, E, p.q_row_stride, pk.q_panels.data());
  pack_column_panels(dout, L, Ev, g.dout_row_stride, pk.do_panels.data());
  pack_transposed_panels(k, S, E, p.k_row_stride, pk.kt_panels.data());
  pack_column_panels(k, S, E, p.k_row_stride, pk.k_panels.data());
  pack_transposed_panels(v, S, Ev, p.v_row_stride, pk.vt_panels.data());
}

void size_buffers(const FlashAttentionParams& p, BlockBuffers& buf) {
  if (!buf.p.empty()) return;
  buf.p.resize(kQueryBlock * kKeyBlock);
  buf.ds.resize(kQueryBlock * kKeyBlock);
  if (p.dropout.p > 0.0f) buf.pz.resize(kQueryBlock * kKeyBlock);
  buf.dk.resize(static_cast<size_t>(kKeyGroup * kKeyBlock * panel_count(p.head_dim) * kTileCols));
  buf.dv.resize(static_cast<size_t>(kKeyGroup * kKeyBlock * panel_count(p.value_dim) * kTileCols));
}

// Calls tile_call(tile rows, first row) over the row tiles of a (rows x 16) strip.
template <typename TileCall>
void for_row_tiles(int64_t rows, int tile_rows, TileCall tile_call) {
  for (int64_t r0 = 0; r0 < rows; r0 += tile_rows) {
    tile_call(static_cast<int>(std::min<int64_t>(tile_rows, rows - r0)), r0);
  }
}

// One key block's state: keys [k0, k0 + cols), the first query that sees
// them, and its dK (cols, E16) and dV (cols, Ev16) accumulators.
struct KeyBlock {
  int64_t k0, cols, first_query;
  float *dk, *dv;
};

// Query rows [q0, q0 + rows) against one key block: adds into its dK and dV
// and into dq (L, E16).
void attend_pair(const FlashAttentionParams& p, const FlashAttentionGrads& g, const ProblemPacks& pk, int64_t b,
                 const KeyBlock& kb, int64_t q0, int64_t rows, float* dq, BlockBuffers& buf,
                 const AttentionTileKernels& kern) {
  const int64_t L = p.queries, S = p.keys, E = p.head_dim, Ev = p.value_dim;
  const int64_t e_width = pk.e_width, ev_width = panel_count(Ev) * kTileCols;
  const int64_t k0 = kb.k0, cols = kb.cols, key_panels = panel_count(cols);
  const bool masked = p.bool_mask || p.float_mask;
  const bool dropout = p.dropout.p > 0.0f;
  float* P = buf.p.data();
  float* Pz = dropout ? buf.pz.data() : P;  // what dV sees
  float* dS = buf.ds.data();
  const float* dout = g.dout + g.dout_offsets[b];
  // P = 2^(S - lse), S = (scale · log2 e · Q) Kᵀ  (rows, cols)
  for (int64_t jp = 0; jp < key_panels; ++jp) {
    const float* panel = pk.kt_panels.data() + (k0 / kTileCols + jp) * E * kTileCols;
    for_row_tiles(rows, kern.tile_rows, [&](int r, int64_t r0) {
      kern.tile(r, E, pk.q_scaled.data() + (q0 + r0) * E, E, 1, panel, P + r0 * kKeyBlock + jp * kTileCols,
                kKeyBlock, false);
    });
  }
  const bool cut = p.causal && k0 + cols - 1 > q0 + p.causal_offset;
  for (int64_t i = 0; i < rows; ++i) {
    float* row = P + i * kKeyBlock;
    const float lse2 = pk.lse2[q0 + i];
    if (lse2 == kNegInf) {  // the row saw no key: its output and gradients are zero
      std::fill(row, row + cols, 0.0f);
      if (dropout) std::fill(Pz + i * kKeyBlock, Pz + i * kKeyBlock + cols, 0.0f);
      continue;
    }
    if (masked || cut) mask_score_row(p, b, q0 + i, k0, cols, row);
    kern.exp2_shifted_sum(row, cols, lse2);
    if (dropout) {
      std::copy(row, row + cols, Pz + i * kKeyBlock);
      apply_attention_dropout(p.dropout, b * L + q0 + i, S, k0, cols, Pz + i * kKeyBlock);
    }
  }
  // dV += Pᵀ dO  (cols, Ev16)
  for (int64_t dp = 0; dp * kTileCols < ev_width; ++dp) {
    const float* panel = pk.do_panels.data() + (dp * L + q0) * kTileCols;
    for_row_tiles(cols, kern.tile_rows, [&](int r, int64_t r0) {
      kern.tile(r, rows, Pz + r0, 1, kKeyBlock, panel, kb.dv + r0 * ev_width + dp * kTileCols, ev_width, true);
    });
  }
  // dP = dO Vᵀ  (rows, cols), then dS = P ∘ (dP - D) in place
  for (int64_t jp = 0; jp < key_panels; ++jp) {
    const float* panel = pk.vt_panels.data() + (k0 / kTileCols + jp) * Ev * kTileCols;
    for_row_tiles(rows, kern.tile_rows, [&](int r, int64_t r0) {
      kern.tile(r, Ev, dout + (q0 + r0) * g.dout_row_stride, g.dout_row_stride, 1, panel,
                dS + r0 * kKeyBlock + jp * kTileCols, kKeyBlock, false);
    });
  }
  for (int64_t i = 0; i < rows; ++i) {
    float* ds = dS + i * kKeyBlock;
    if (!dropout) {
      kern.softmax_grad(P + i * kKeyBlock, ds, cols, pk.dot[q0 + i]);
      continue;
    }
    const float* p_row = P + i * kKeyBlock;
    const float* pz_row = Pz + i * kKeyBlock;
    for (int64_t j = 0; j < cols; ++j) ds[j] = pz_row[j] * ds[j] - p_row[j] * pk.dot[q0 + i];
  }
  // dQ += dS K  (rows, E16)
  for (int64_t ep = 0; ep * kTileCols < e_width; ++ep) {
    const float* panel = pk.k_panels.data() + (ep * S + k0) * kTileCols;
    for_row_tiles(rows, kern.tile_rows, [&](int r, int64_t r0) {
      kern.tile(r, cols, dS + r0 * kKeyBlock, kKeyBlock, 1, panel, dq + (q0 + r0) * e_width + ep * kTileCols,
                e_width, true);
    });
  }
  // dK += dSᵀ Q  (cols, E16)
  for (int64_t ep = 0; ep * kTileCols < e_width; ++ep) {
    const float* panel = pk.q_panels.data() + (ep * L + q0) * kTileCols;
    for_row_tiles(cols, kern.tile_rows, [&](int r, int64_t r0) {
      kern.tile(r, rows, dS + r0, 1, kKeyBlock, panel, kb.dk + r0 * e_width + ep * kTileCols, e_width, true);
    });
  }
}

// Key blocks [first, first + count) of problem b against every query that
// sees them, query block outermost so each query block's operands are read
// once for the whole group: writes their dK and dV, adds into dq (L, E16).
void key_blocks(const FlashAttentionParams& p, const FlashAttentionGrads& g, const ProblemPacks& pk, int64_t b,
                int64_t first, int64_t count, float* dq, BlockBuffers& buf, const AttentionTileKernels& kern) {
  const int64_t L = p.queries, S = p.keys, E = p.head_dim, Ev = p.value_dim;
  const int64_t e_width = pk.e_width, ev_width = panel_count(Ev) * kTileCols;
  std::fill(buf.dk.begin(), buf.dk.end(), 0.0f);
  std::fill(buf.dv.begin(), buf.dv.end(), 0.0f);
  KeyBlock blocks[kKeyGroup];
  int64_t first_query = L;
  for (int64_t s = 0; s < count; ++s) {
    KeyBlock& kb = blocks[s];
    kb.k0 = (first + s) * kKeyBlock;
    kb.cols = std::min(kKeyBlock, S - kb.k0);
    // Causal: queries before k0 - offset never see these keys.
    kb.first_query = p.causal ? std::max<int64_t>(0, kb.k0 - p.causal_offset) : 0;
    kb.dk = buf.dk.data() + s * kKeyBlock * e_width;
    kb.dv = buf.dv.data() + s * kKeyBlock * ev_width;
    first_query = std::min(first_query, kb.first_query);
  }
  for (int64_t q0 = first_query / kQueryBlock * kQueryBlock; q0 < L; q0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, L - q0);
    for (int64_t s = 0; s < count; ++s) {
      if (q0 + rows > blocks[s].first_query) attend_pair(p, g, pk, b, blocks[s], q0, rows, dq, buf, kern);
    }
  }
  for (int64_t s = 0; s < count; ++s) {
    const KeyBlock& kb = blocks[s];
    float* dk = g.dk + (b * S + kb.k0) * E;
    float* dv = g.dv + (b * S + kb.k0) * Ev;
    for (int64_t j = 0; j < kb.cols; ++j) {
      for (int64_t e = 0; e < E; ++e) dk[j * E + e] = kb.dk[j * e_width + e] * p.scale;
      for (int64_t d = 0; d < Ev; ++d) dv[j * Ev + d] = kb.dv[j * ev_width + d];
    }
  }
}

void write_dq(const FlashAttentionParams& p, const FlashAttentionGrads& g, int64_t b, const float* dq,
              int64_t e_width) {
  float* out = g.dq + b * p.queries * p.head_dim;
  for (int64_t i = 0; i < p.queries; ++i) {
    for (int64_t e = 0; e < p.head_dim; ++e) out[i * p.head_dim + e] = dq[i * e_width + e] * p.scale;
  }
}

}  // namespace

void flash_attention_backward(const FlashAttentionParams& p, const FlashAttentionGrads& g) {
  if (p.batch_heads == 0) return;
  const AttentionTileKernels& kern = attention_tile_kernels();
  const int64_t threads = omp_get_max_threads();
  const int64_t key_block_count = (p.keys + kKeyBlock - 1) / kKeyBlock;
  const int64_t e_width = panel_count(p.head_dim) * kTileCols;
  std::vector<ProblemPacks> packs(static_cast<size_t>(threads));
  std::vector<BlockBuffers> buffers(static_cast<size_t>(threads));

  // Whole problems per thread while there are enough to go round.
  const int64_t whole = p.batch_heads - p.batch_heads % threads;
  parallel_tasks(whole, [&](int64_t b) {
    const size_t me = static_cast<size_t>(omp_get_thread_num());
    ProblemPacks& pk = packs[me];
    BlockBuffers& buf = buffers[me];
    pack_problem(p, g, b, pk);
    size_buffers(p, buf);
    buf.dq.assign(static_cast<size_t>(p.queries * e_width), 0.0f);
    for (int64_t kb = 0; kb < key_block_count; kb += kKeyGroup) {
      key_blocks(p, g, pk, b, kb, std::min(kKeyGroup, key_block_count - kb), buf.dq.data(), buf, kern);
    }
    write_dq(p, g, b, buf.dq.data(), e_width);
  });
  // The rest one at a time, key blocks split over the threads.
  for (int64_t b = whole; b < p.batch_heads; ++b) {
    ProblemPacks& pk = packs[0];
    pack_problem(p, g, b, pk);
    for (BlockBuffers& buf : buffers) buf.dq.assign(static_cast<size_t>(p.queries * e_width), 0.0f);
    // Groups as small as needed to give every thread work. Each thread adds
    // its groups' dq into its own buffer; round robin keeps which groups go
    // into which buffer, and so the bits of dq, the same on every run.
    const int64_t group = std::clamp<int64_t>(key_block_count / (2 * threads), 1, kKeyGroup);
    parallel_tasks_round_robin((key_block_count + group - 1) / group, [&](int64_t t) {
      BlockBuffers& buf = buffers[static_cast<size_t>(omp_get_thread_num())];
      size_buffers(p, buf);
      const int64_t kb = t * group;
      key_blocks(p, g, pk, b, kb, std::min(group, key_block_count - kb), buf.dq.data(), buf, kern);
    });
    for (size_t t = 1; t < buffers.size(); ++t) {
      for (size_t x = 0; x < buffers[0].dq.size(); ++x) buffers[0].dq[x] += buffers[t].dq[x];
    }
    write_dq(p, g, b, buffers[0].dq.data(), e_width);
  }
}

}  // namespace attnkit::kernels
