#pragma once
// Attention score functions s(x, q) of SPEC A1-A4: how well each key x_i
// matches a query q. All take queries (..., M, Dq) and keys (..., N, Dk) and
// give scores (..., M, N); batch dims broadcast. Differentiable.

#include "attnkit/core/tensor.h"

namespace attnkit::functional {

// A2 (dot product, Luong 2015): s = xᵀ q. Needs Dq == Dk.
Tensor dot_score(const Tensor& query, const Tensor& key);

// A3 (scaled dot product, Vaswani 2017): s = xᵀ q / √d, d = Dk.
Tensor scaled_dot_score(const Tensor& query, const Tensor& key);

// A4 (bilinear / "general", Luong 2015): s = xᵀ W q with W: (Dk, Dq).
Tensor bilinear_score(const Tensor& query, const Tensor& key, const Tensor& weight);

// A1 (additive, Bahdanau 2015): s = vᵀ tanh(W x + U q), with
// w_key W: (H, Dk), w_query U: (H, Dq), v: (H). Builds an (..., M, N, H)
// intermediate: meant for the small sizes additive attention is used at.
Tensor additive_score(const Tensor& query, const Tensor& key, const Tensor& w_key,
                      const Tensor& w_query, const Tensor& v);

}  // namespace attnkit::functional
