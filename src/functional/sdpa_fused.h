#pragma once
// The fused path of scaled_dot_product_attention: the FlashAttention-2
// kernels (kernels/flash_attention.h) behind one autograd node, so training
// too needs O(N·d) memory. Internal to the library.

#include <cstdint>

#include "attnkit/core/rng.h"
#include "attnkit/functional/scaled_dot_product_attention.h"
#include "kernels/flash_attention.h"

namespace attnkit::functional::detail {

struct FusedSdpaCall {
  Tensor mask;                 // bool or float, broadcastable to (..., L, S); undefined = none
  bool causal = false;
  int64_t causal_offset = 0;   // query i sees keys j <= i + causal_offset
  double scale = 1.0;
  bool gqa = false;            // key/value heads divide the query heads
  bool want_lse = false;
  double dropout_p = 0.0;
  Generator* generator = nullptr;  // for dropout; the default generator if null
};

// The weights of heads `heads` (dim -3 of query; every head if empty) from
// the lse of a fused forward of the same call, without gradient:
// (..., len(heads), L, S).
Tensor fused_attention_weights(const Tensor& query, const Tensor& key, const FusedSdpaCall& call,
                               const Tensor& lse, const std::vector<int64_t>& heads);

// Reserves one call's dropout stream from the generator (kernels/flash_attention.h).
kernels::AttentionDropout reserve_attention_dropout(double p, int64_t problems, int64_t queries, int64_t keys,
                                                    Generator* generator);

// The kernels' dropout as a tensor of factors (batch..., L, S), 0 or 1/(1-p),
// for the composed path: both paths drop the same entries for the same seed.
Tensor attention_dropout_factors(const kernels::AttentionDropout& dropout, const Shape& batch, int64_t queries,
                                 int64_t keys);

// Fills out.output (and out.lse) and returns true when the call fits the
// kernels: fp32 q/k/v of equal rank >= 3 whose K/V batch broadcasts into the
// query's, a mask that needs no gradient.
// Returns false, touching nothing, when the composed path must run instead.
bool fused_attention(const Tensor& query, const Tensor& key, const Tensor& value, const FusedSdpaCall& call,
                     SdpaOutput& out);

}  // namespace attnkit::functional::detail
