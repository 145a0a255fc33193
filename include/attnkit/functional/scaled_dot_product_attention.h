#pragma once
// scaled_dot_product_attention with torch.nn.functional's semantics:
//
//   q (..., Hq, L, E), k (..., Hkv, S, E), v (..., Hkv, S, Ev) -> (..., Hq, L, Ev)
//   out = dropout(softmax(q kᵀ · scale + mask)) v,   scale = 1/√E by default
//
// attn_mask: bool (true = take part) or float (added to the scores),
// broadcast to (..., Hq, L, S). is_causal: query i sees keys j <= i (the mask
// is aligned top-left, as PyTorch's); it cannot be combined with attn_mask.
// enable_gqa: Hkv may divide Hq; each group of Hq/Hkv query heads shares one
// key/value head (grouped-query attention). dropout_p > 0 drops attention
// weights (kept ones scaled by 1/(1-p)); whether entry (problem, i, j) is
// dropped is a pure function of the generator's seed and position (Philox),
// the same on the fused and the composed path, and the fused backward
// regenerates it instead of storing an L x S mask.
//
// Paths: fp32 inputs of rank >= 3 run on the fused FlashAttention-2 kernels,
// forward and backward, in O(N·d) memory; other calls (fp64, 2-D inputs, an
// attn_mask that requires grad, return_weights) run composed from ops. The
// environment variable ATTNKIT_SDPA=reference|fused forces one.
//
// Unlike PyTorch, a query row whose every key is masked gives zeros, not NaN.
// Extras PyTorch lacks: the attention weights (after masking, before dropout)
// and the log-sum-exp of each row's scaled, masked scores (-inf for a fully
// masked row), on request. Weights can be limited to some heads (dim -3),
// e.g. the ones a visualisation shows; on the fused path they are recomputed
// from the saved log-sum-exp, so asking for them costs one L x S pass for the
// chosen heads, not the slow path. Weights are differentiable only on the
// composed path, which a call needing both weights and gradients takes.

#include <optional>
#include <vector>

#include "attnkit/core/rng.h"
#include "attnkit/core/tensor.h"

namespace attnkit::functional {

struct SdpaOptions {
  Tensor attn_mask;                  // undefined = none
  double dropout_p = 0.0;
  bool is_causal = false;
  // With is_causal: align the mask bottom-right, query i seeing keys
  // j <= i + S - L (torch.nn.attention.bias.causal_lower_right): the last L
  // positions of a sequence whose keys are all present, as in decoding with
  // a KV cache.
  bool causal_lower_right = false;
  std::optional<double> scale;       // default 1/√E
  bool enable_gqa = false;
  bool return_weights = false;
  std::vector<int64_t> weights_heads;  // with return_weights: heads (dim -3) to return; empty = all
  bool return_lse = false;
  Generator* generator = nullptr;    // for dropout; default generator if null
};

struct SdpaOutput {
  Tensor output;   // (..., Hq, L, Ev)
  Tensor weights;  // (..., Hq, L, S) if return_weights; (..., len(weights_heads), L, S) if chosen
  Tensor lse;      // (..., Hq, L) if return_lse
};

SdpaOutput scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                        const SdpaOptions& options = {});

}  // namespace attnkit::functional
