#pragma once
// Soft attention as addressing (SPEC A5, A6): the distribution
//   α = softmax_i(s(x_i, q))
// over the keys, and the read-out Σ_i α_i v_i.
//
// query (..., M, Dq), key (..., N, Dk), value (..., N, Dv) -> output
// (..., M, Dv) and weights α (..., M, N). With no value (an undefined
// Tensor) the keys are read out themselves (plain mode, A5: key = value).
// mask (bool, broadcast to (..., M, N)): true where a key may be attended.
// A query whose every key is masked out gets all-zero weights and a zero
// output (not NaN), and no gradient.

#include <functional>

#include "attnkit/core/tensor.h"

namespace attnkit::functional {

// s(query, key) -> scores (..., M, N); see scores.h.
using ScoreFn = std::function<Tensor(const Tensor& query, const Tensor& key)>;

struct AttentionOutput {
  Tensor output;   // (..., M, Dv)
  Tensor weights;  // (..., M, N), rows sum to 1 (or 0 when fully masked)
};

AttentionOutput attention(const Tensor& query, const Tensor& key, const Tensor& value,
                          const ScoreFn& score, const Tensor& mask = Tensor());

// softmax over the last dim of `scores` where `mask` (bool, broadcast; may be
// undefined) is true; rows with nothing to attend to (all masked, or all
// -inf) become zeros instead of NaN, with zero gradient.
Tensor masked_softmax(const Tensor& scores, const Tensor& mask = Tensor());

}  // namespace attnkit::functional
