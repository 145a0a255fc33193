#include "attnkit/functional/hard_attention.h"

#include <cmath>
#include <limits>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/matmul.h"
#include "attnkit/ops/reduce.h"
#include "attnkit/ops/softmax.h"

namespace attnkit::functional {

namespace {

// (..., M) indices into the last dim of a (..., M, N) tensor -> one-hot float.
Tensor one_hot(const Tensor& index, int64_t classes) {
  Shape shape = index.shape();
  shape.push_back(classes);
  Tensor out = zeros(shape);
  const Tensor idx = index.contiguous();
  const int64_t* pi = idx.data<int64_t>();
  float* po = out.data<float>();
  for (int64_t r = 0; r < idx.numel(); ++r) po[r * classes + pi[r]] = 1.0f;
  return out;
}

// One draw per row from the categorical distribution in each row of
// `weights` (..., N) (rows summing to 1, or all zero: index 0).
Tensor sample_rows(const Tensor& weights, Generator* generator) {
  const int64_t n = weights.size(-1);
  Shape rows_shape(weights.shape().begin(), weights.shape().end() - 1);
  Tensor u = rand(rows_shape, generator).contiguous();
  Tensor w = weights.detach().contiguous();
  Tensor out = empty(rows_shape, kInt64);
  const float* pw = w.data<float>();
  const float* pu = u.data<float>();
  int64_t* po = out.data<int64_t>();
  for (int64_t r = 0; r < u.numel(); ++r) {
    const float* row = pw + r * n;
    double total = 0.0;
    for (int64_t j = 0; j < n; ++j) total += row[j];
    // Inverse CDF; the last position with positive weight absorbs rounding.
    const double target = pu[r] * total;
    double cumulative = 0.0;
    int64_t chosen = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (row[j] <= 0.0f) continue;
      chosen = j;
      cumulative += row[j];
      if (cumulative > target) break;
    }
    po[r] = chosen;
  }
  return out;
}

}  // namespace

HardAttentionOutput hard_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const ScoreFn& score, const Tensor& mask, HardMode mode,
                                   Generator* generator) {
  AK_CHECK(static_cast<bool>(score), "hard_attention: no score function given");
  AK_CHECK(query.dim() >= 2 && key.dim() >= 2, "hard_attention: expected query (..., M, Dq) and key ",
           "(..., N, Dk), got ", shape_str(query.shape()), " and ", shape_str(key.shape()));
  const Tensor& values = value.defined() ? value : key;
  AK_CHECK(values.dim() >= 2 && values.size(-2) == key.size(-2), "hard_attention: value ",
           shape_str(values.shape()), " must have one row per key (", key.size(-2), " keys)");
  Tensor scores = score(query, key);
  AK_CHECK(scores.dim() >= 2 && scores.size(-2) == query.size(-2) && scores.size(-1) == key.size(-2),
           "hard_attention: the score function gave shape ", shape_str(scores.shape()),
           ", expected (..., ", query.size(-2), ", ", key.size(-2), ")");
  const double neg_inf = -std::numeric_limits<double>::infinity();
  Tensor masked = scores;
  if (mask.defined()) {
    AK_CHECK(mask.dtype() == kBool, "hard_attention: expected a bool mask (true = attend), got ",
             dtype_name(mask.dtype()));
    Shape shape = broadcast_shapes(scores.shape(), mask.shape(), "hard_attention");
    masked = masked_fill(scores.expand(shape), logical_not(mask).expand(shape), neg_inf);
  }
  HardAttentionOutput out;
  out.weights = masked_softmax(masked);  // α (..., M, N)
  Tensor dead;                           // (..., M) bool: nothing to attend to
  {
    NoGradGuard no_grad;
    dead = eq(max(masked.detach(), -1).values, neg_inf);
    out.index = mode == HardMode::Argmax ? argmax(out.weights.detach(), -1)
                                         : sample_rows(out.weights, generator);
  }
  const int64_t keys = key.size(-2);
  Tensor choice = one_hot(out.index, keys);  // (..., M, N)
  // log α = log_softmax of the masked scores, with dead rows made finite
  // first (their log-probability is defined as 0 and carries no gradient).
  Tensor zero = zeros({});
  Tensor dead_rows = dead.unsqueeze(-1);
  Tensor log_alpha = log_softmax(where(dead_rows, zero, masked), -1);
  Tensor chosen = gt(choice, 0.0);
  out.log_prob = where(dead, zero, sum(where(chosen, log_alpha, zero), {-1}));
  out.output = matmul(where(dead_rows, zero, choice), values);  // the chosen row of values
  return out;
}

Tensor gumbel_softmax(const Tensor& logits, double tau, bool hard, Generator* generator) {
  AK_CHECK(tau > 0.0, "gumbel_softmax: tau must be positive, got ", tau);
  AK_CHECK(logits.dim() >= 1 && is_floating(logits.dtype()),
           "gumbel_softmax: expected floating point logits with at least 1 dim, got ",
           shape_str(logits.shape()), " ", dtype_name(logits.dtype()));
  Tensor gumbels;
  {
    NoGradGuard no_grad;
    // u in [0, 1): clamp away from 0 so -log(-log(u)) stays finite.
    Tensor u = maximum(rand(logits.shape(), generator), scalar_tensor(1e-10));
    gumbels = neg(log(neg(log(u))));
  }
  Tensor soft = softmax(div(add(logits, gumbels), tau), -1);
  if (!hard) return soft;
  // Straight-through: the value of the one-hot, the gradient of `soft`.
  Tensor hard_one_hot = one_hot(argmax(soft.detach(), -1), logits.size(-1));
  return add(sub(hard_one_hot, soft.detach()), soft);
}

}  // namespace attnkit::functional
