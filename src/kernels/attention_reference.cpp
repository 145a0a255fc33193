// The plain attention forward and backward that the fused kernels are tested
// against: one query row at a time, all its scores kept, every sum in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/flash_attention.h"

namespace attnkit::kernels {

namespace {

// Row i of problem b: its scaled, masked scores (-inf where a key takes no
// part); returns their maximum.
double score_row(const FlashAttentionParams& p, int64_t b, int64_t i, std::vector<double>& scores) {
  const double neg_inf = -std::numeric_limits<double>::infinity();
  const float* q = p.q + p.q_offsets[b] + i * p.q_row_stride;
  const float* k = p.k + p.k_offsets[b];
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
  return row_max;
}

double dropout_factor(const FlashAttentionParams& p, int64_t b, int64_t i, int64_t j) {
  if (p.dropout.p <= 0.0f) return 1.0;
  return attention_dropout_factor(p.dropout, b * p.queries + i, p.keys, j);
}

}  // namespace

void attention_backward_reference(const FlashAttentionParams& p, const FlashAttentionGrads& g) {
  const int64_t L = p.queries, S = p.keys, E = p.head_dim, Ev = p.value_dim;
  std::vector<double> probs(static_cast<size_t>(S)), dprobs(static_cast<size_t>(S));
  for (int64_t b = 0; b < p.batch_heads; ++b) {
    const float* k = p.k + p.k_offsets[b];
    const float* v = p.v + p.v_offsets[b];
    std::vector<double> dk(static_cast<size_t>(S * E), 0.0), dv(static_cast<size_t>(S * Ev), 0.0);
    for (int64_t i = 0; i < L; ++i) {
      const float* q = p.q + p.q_offsets[b] + i * p.q_row_stride;
      const float* dout = g.dout + g.dout_offsets[b] + i * g.dout_row_stride;
      float* dq = g.dq + (b * L + i) * E;
      std::fill(dq, dq + E, 0.0f);
      const double row_max = score_row(p, b, i, probs);
      if (row_max == -std::numeric_limits<double>::infinity()) continue;  // saw nothing: no gradient
      double total = 0.0;
      for (double& x : probs) total += (x = std::exp(x - row_max));
      // With dropout factors z_j: out = Σ_j P_j z_j v_j, so dP_j = z_j (dO · v_j), D = Σ_j P_j dP_j.
      double dot = 0.0;
      for (int64_t j = 0; j < S; ++j) {
        probs[static_cast<size_t>(j)] /= total;
        double dp = 0.0;
        for (int64_t d = 0; d < Ev; ++d) dp += static_cast<double>(dout[d]) * v[j * p.v_row_stride + d];
        dprobs[static_cast<size_t>(j)] = dp * dropout_factor(p, b, i, j);
        dot += probs[static_cast<size_t>(j)] * dprobs[static_cast<size_t>(j)];
      }
      std::vector<double> dq_row(static_cast<size_t>(E), 0.0);
      for (int64_t j = 0; j < S; ++j) {
        const double pj = probs[static_cast<size_t>(j)];
        const double ds = pj * (dprobs[static_cast<size_t>(j)] - dot) * p.scale;
        for (int64_t e = 0; e < E; ++e) {
          dq_row[static_cast<size_t>(e)] += ds * k[j * p.k_row_stride + e];
          dk[static_cast<size_t>(j * E + e)] += ds * q[e];
        }
        const double kept = pj * dropout_factor(p, b, i, j);
        for (int64_t d = 0; d < Ev; ++d) dv[static_cast<size_t>(j * Ev + d)] += kept * dout[d];
      }
      for (int64_t e = 0; e < E; ++e) dq[e] = static_cast<float>(dq_row[static_cast<size_t>(e)]);
    }
    for (int64_t x = 0; x < S * E; ++x) g.dk[b * S * E + x] = static_cast<float>(dk[static_cast<size_t>(x)]);
    for (int64_t x = 0; x < S * Ev; ++x) g.dv[b * S * Ev + x] = static_cast<float>(dv[static_cast<size_t>(x)]);
  }
}

void attention_forward_reference(const FlashAttentionParams& p) {
  std::vector<double> scores(static_cast<size_t>(p.keys));
  for (int64_t b = 0; b < p.batch_heads; ++b) {
    const float* v = p.v + p.v_offsets[b];
    for (int64_t i = 0; i < p.queries; ++i) {
      const double row_max = score_row(p, b, i, scores);
      float* out = p.out + p.out_offsets[b] + i * p.out_row_stride;
      if (row_max == -std::numeric_limits<double>::infinity()) {  // nothing to attend to: zeros, lse -inf
        std::fill(out, out + p.value_dim, 0.0f);
        if (p.lse) p.lse[b * p.queries + i] = -std::numeric_limits<float>::infinity();
        continue;
      }
      double total = 0.0;
      for (double& s : scores) {
        s = std::exp(s - row_max);
        total += s;
      }
      for (int64_t j = 0; j < p.keys; ++j) scores[static_cast<size_t>(j)] *= dropout_factor(p, b, i, j);
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
