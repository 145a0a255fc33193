#include "attnkit/functional/attention.h"

#include <limits>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/matmul.h"
#include "attnkit/ops/reduce.h"
#include "attnkit/ops/softmax.h"

namespace attnkit::functional {

Tensor masked_softmax(const Tensor& scores, const Tensor& mask) {
  AK_CHECK(scores.dim() >= 1, "masked_softmax: expected scores with at least 1 dim");
  Tensor s = scores;
  if (mask.defined()) {
    AK_CHECK(mask.dtype() == kBool, "masked_softmax: expected a bool mask (true = attend), got ",
             dtype_name(mask.dtype()));
    Shape shape = broadcast_shapes(scores.shape(), mask.shape(), "masked_softmax");
    s = masked_fill(scores.expand(shape), logical_not(mask).expand(shape),
                    -std::numeric_limits<double>::infinity());
  }
  // Rows with nothing to attend to: their max is -inf.
  Tensor dead;  // (..., 1) bool
  bool any_dead = false;
  {
    NoGradGuard no_grad;
    dead = eq(max(s.detach(), -1, true).values, -std::numeric_limits<double>::infinity());
    any_dead = sum(dead).item() > 0;
  }
  if (!any_dead) return softmax(s, -1);
  // Give dead rows finite scores, so softmax and its backward stay finite,
  // then zero their weights (where() passes them no gradient).
  Tensor zero = zeros({});
  return where(dead, zero, softmax(where(dead, zero, s), -1));
}

AttentionOutput attention(const Tensor& query, const Tensor& key, const Tensor& value,
                          const ScoreFn& score, const Tensor& mask) {
  AK_CHECK(static_cast<bool>(score), "attention: no score function given");
  AK_CHECK(query.dim() >= 2 && key.dim() >= 2, "attention: expected query (..., M, Dq) and key ",
           "(..., N, Dk), got ", shape_str(query.shape()), " and ", shape_str(key.shape()));
  const Tensor& values = value.defined() ? value : key;  // plain mode reads out the keys
  AK_CHECK(values.dim() >= 2 && values.size(-2) == key.size(-2), "attention: value ",
           shape_str(values.shape()), " must have one row per key (", key.size(-2), " keys)");
  Tensor scores = score(query, key);
  AK_CHECK(scores.dim() >= 2 && scores.size(-2) == query.size(-2) && scores.size(-1) == key.size(-2),
           "attention: the score function gave shape ", shape_str(scores.shape()), ", expected (..., ",
           query.size(-2), ", ", key.size(-2), ") for ", query.size(-2), " queries and ", key.size(-2),
           " keys");
  Tensor weights = masked_softmax(scores, mask);  // α: (..., M, N)
  return {matmul(weights, values), weights};
}

}  // namespace attnkit::functional
