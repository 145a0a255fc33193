#pragma once
// Multi-head attention, torch.nn.MultiheadAttention's module: the same
// constructor options, forward arguments, parameter names and
// initialisation, so a PyTorch state_dict loads unchanged.
//
//   head_i = softmax((Q W_i^Q)(K W_i^K)ᵀ / √d + mask) (V W_i^V),  d = E / H
//   out    = concat(head_1, ..., head_H) W^O
//
// Self-attention passes one tensor as query, key and value (its three
// projections then run as one GEMM); cross-attention passes the other
// sequence as key and value. The heads run on
// functional::scaled_dot_product_attention, fused.
//
// Differences from PyTorch: a query whose every key is masked gives zeros,
// not NaN; with is_causal and no attn_mask a causal mask is applied (PyTorch
// demands the mask); need_weights returns the weights before dropout.

#include <memory>

#include "attnkit/core/rng.h"
#include "attnkit/nn/linear.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn {

struct MultiheadAttentionOptions {
  int64_t embed_dim = 0;
  int64_t num_heads = 1;
  double dropout = 0.0;        // on the attention weights, in training mode
  bool bias = true;            // in_proj_bias and out_proj.bias
  bool add_bias_kv = false;    // learned bias_k, bias_v appended to the keys and values
  bool add_zero_attn = false;  // a zero key and value appended after the projections
  int64_t kdim = 0;            // key features; 0 = embed_dim
  int64_t vdim = 0;            // value features; 0 = embed_dim
  bool batch_first = false;    // (N, L, E) instead of (L, N, E)
};

// forward's optional arguments, with torch's names and defaults.
struct MultiheadAttentionCall {
  // (N, S) or (S) unbatched: true (or -inf as float) = this key is padding.
  Tensor key_padding_mask;
  bool need_weights = true;
  // (L, S) or (N·H, L, S): true (or -inf) = may NOT attend (PyTorch's
  // convention here, the opposite of scaled_dot_product_attention's), float = added.
  Tensor attn_mask;
  bool average_attn_weights = true;
  bool is_causal = false;
};

struct MultiheadAttentionOutput {
  Tensor output;   // (L, N, E), (N, L, E) with batch_first, (L, E) unbatched
  Tensor weights;  // (N, L, S) averaged over heads, (N, H, L, S) if not; undefined without need_weights
};

class MultiheadAttention : public Module {
 public:
  explicit MultiheadAttention(const MultiheadAttentionOptions& options, Generator* generator = nullptr);
  MultiheadAttention(int64_t embed_dim, int64_t num_heads)
      : MultiheadAttention(MultiheadAttentionOptions{embed_dim, num_heads}) {}
  std::string name() const override { return "MultiheadAttention"; }

  MultiheadAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const MultiheadAttentionCall& call = {}) const;

  const MultiheadAttentionOptions& options() const { return options_; }
  int64_t head_dim() const { return options_.embed_dim / options_.num_heads; }

  // Parameters with torch's names; undefined where torch has None.
  Tensor in_proj_weight;                               // (3E, E) when kdim = vdim = E
  Tensor q_proj_weight, k_proj_weight, v_proj_weight;  // (E, E), (E, kdim), (E, vdim) otherwise
  Tensor in_proj_bias;                                 // (3E)
  Tensor bias_k, bias_v;                               // (1, 1, E) with add_bias_kv
  std::shared_ptr<Linear> out_proj;                    // E -> E

 private:
  MultiheadAttentionOptions options_;
};

}  // namespace attnkit::nn
