#include "attnkit/functional/scores.h"

#include <cmath>

#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/matmul.h"

namespace attnkit::functional {

namespace {
// query (..., M, Dq) and key (..., N, Dk): both at least matrices.
void check_pair(const Tensor& query, const Tensor& key, const char* op) {
  AK_CHECK(query.dim() >= 2 && key.dim() >= 2, op, ": expected query (..., M, Dq) and key (..., N, Dk) ",
           "with at least 2 dims, got ", shape_str(query.shape()), " and ", shape_str(key.shape()));
}
}  // namespace

Tensor dot_score(const Tensor& query, const Tensor& key) {
  check_pair(query, key, "dot_score");
  AK_CHECK(query.size(-1) == key.size(-1), "dot_score: query feature size ", query.size(-1),
           " != key feature size ", key.size(-1), " (query ", shape_str(query.shape()), ", key ",
           shape_str(key.shape()), ")");
  return matmul(query, key.transpose(-2, -1));  // (..., M, N)
}

Tensor scaled_dot_score(const Tensor& query, const Tensor& key) {
  check_pair(query, key, "scaled_dot_score");
  AK_CHECK(query.size(-1) == key.size(-1), "scaled_dot_score: query feature size ", query.size(-1),
           " != key feature size ", key.size(-1));
  return div(dot_score(query, key), std::sqrt(static_cast<double>(key.size(-1))));
}

Tensor bilinear_score(const Tensor& query, const Tensor& key, const Tensor& weight) {
  check_pair(query, key, "bilinear_score");
  AK_CHECK(weight.dim() == 2 && weight.size(0) == key.size(-1) && weight.size(1) == query.size(-1),
           "bilinear_score: expected weight of shape (Dk, Dq) = (", key.size(-1), ", ", query.size(-1),
           "), got ", shape_str(weight.shape()));
  // s[m, n] = x_n W q_m  =>  S = (Q Wᵀ) Xᵀ
  return matmul(matmul(query, weight.t()), key.transpose(-2, -1));
}

Tensor additive_score(const Tensor& query, const Tensor& key, const Tensor& w_key,
                      const Tensor& w_query, const Tensor& v) {
  check_pair(query, key, "additive_score");
  AK_CHECK(w_key.dim() == 2 && w_key.size(1) == key.size(-1), "additive_score: expected w_key of shape ",
           "(H, Dk) with Dk = ", key.size(-1), ", got ", shape_str(w_key.shape()));
  const int64_t hidden = w_key.size(0);
  AK_CHECK(w_query.dim() == 2 && w_query.size(0) == hidden && w_query.size(1) == query.size(-1),
           "additive_score: expected w_query of shape (H, Dq) = (", hidden, ", ", query.size(-1),
           "), got ", shape_str(w_query.shape()));
  AK_CHECK(v.dim() == 1 && v.size(0) == hidden, "additive_score: expected v of shape (H) = (", hidden,
           ",), got ", shape_str(v.shape()));
  Tensor projected_keys = matmul(key, w_key.t()).unsqueeze(-3);         // (..., 1, N, H)
  Tensor projected_queries = matmul(query, w_query.t()).unsqueeze(-2);  // (..., M, 1, H)
  return matmul(tanh(add(projected_keys, projected_queries)), v);      // (..., M, N)
}

}  // namespace attnkit::functional
