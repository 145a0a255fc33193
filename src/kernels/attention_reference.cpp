// The plain attention forward that the fused kernel is tested against: one
// query row at a time, all its scores kept, every sum in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/flash_attention.h"

namespace attnkit::kernels {

void attention_forward_reference(const FlashAttentionParams& p) {
  const double neg_inf = -std::numeric_limits<double>::infinity();
  std::vector<double> scores(static_cast<size_t>(p.keys));
  for (int64_t b = 0; b < p.batch_heads; ++b) {
    const float* k = p.k + p.k_offsets[b];
    const float* v = p.v + p.v_offsets[b];
    for (int64_t i = 0; i < p.queries; ++i) {
      const float* q = p.q + p.q_offsets[b] + i * p.q_row_stride;
      double row_max = neg_inf;
      for (int64_t j = 0; j < p.keys; ++j) {
        double s = 0.0;
        for (int64_t e = 0; e < p.head_dim; ++e) s += static_cast<double>(q[e]) * k[j * p.k_row_stride + e];
        s *= p.scale;
        if (p.bool_mask || p.float_mask) {
          const int64_t at = p.mask_offsets[b] + i * p.mask_row_stride + j * p.mask_col_stride;
          if (p.bool_mask && !p.bool_mask[at]) s = neg_inf;
          if (p.float_mask) s += p.float_mask[at];
        }
        if (p.causal && j > i + p.causal_offset) s = neg_inf;
        scores[static_cast<size_t>(j)] = s;
        row_max = std::max(row_max, s);
      }
      float* out = p.out + p.out_offsets[b] + i * p.out_row_stride;
      if (row_max == neg_inf) {  // nothing to attend to: zeros, lse -inf
        std::fill(out, out + p.value_dim, 0.0f);
        if (p.lse) p.lse[b * p.queries + i] = -std::numeric_limits<float>::infinity();
        continue;
      }
      double total = 0.0;
      for (double& s : scores) {
        s = std::exp(s - row_max);
        total += s;
      }
      for (int64_t d = 0; d < p.value_dim; ++d) {
        double acc = 0.0;
        for (int64_t j = 0; j < p.keys; ++j) acc += scores[static_cast<size_t>(j)] * v[j * p.v_row_stride + d];
        out[d] = static_cast<float>(acc / total);
      }
      if (p.lse) p.lse[b * p.queries + i] = static_cast<float>(row_max + std::log(total));
    }
  }
}

}  // namespace attnkit::kernels
