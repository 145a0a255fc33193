#include "attnkit/nn/score_attention.h"

#include <cmath>

#include "attnkit/core/error.h"
#include "attnkit/functional/scores.h"
#include "attnkit/nn/init.h"

namespace attnkit::nn {

namespace {

// U(-1/√fan_in, 1/√fan_in), torch.nn.Linear's initialisation.
Tensor linear_init(const Shape& shape, int64_t fan_in, Generator* generator) {
  Tensor t = empty(shape);
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  init::uniform_(t, -bound, bound, generator);
  return t;
}

}  // namespace

functional::AttentionOutput ScoreAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                    const Tensor& mask) const {
  return functional::attention(
      query, key, value, [this](const Tensor& q, const Tensor& k) { return score(q, k); }, mask);
}

AdditiveAttention::AdditiveAttention(int64_t query_dim, int64_t key_dim, int64_t hidden_dim,
                                     Generator* generator) {
  AK_CHECK(query_dim > 0 && key_dim > 0 && hidden_dim > 0,
           "AdditiveAttention: query_dim, key_dim and hidden_dim must be positive, got ", query_dim, ", ", key_dim,
           " and ", hidden_dim);
  w_key = register_parameter("w_key", linear_init({hidden_dim, key_dim}, key_dim, generator));
  w_query = register_parameter("w_query", linear_init({hidden_dim, query_dim}, query_dim, generator));
  v = register_parameter("v", linear_init({hidden_dim}, hidden_dim, generator));
}

std::string AdditiveAttention::extra_repr() const {
  return "query_dim=" + std::to_string(w_query.size(1)) + ", key_dim=" + std::to_string(w_key.size(1)) +
         ", hidden_dim=" + std::to_string(v.size(0));
}

Tensor AdditiveAttention::score(const Tensor& query, const Tensor& key) const {
  return functional::additive_score(query, key, w_key, w_query, v);
}

BilinearAttention::BilinearAttention(int64_t query_dim, int64_t key_dim, Generator* generator) {
  AK_CHECK(query_dim > 0 && key_dim > 0, "BilinearAttention: query_dim and key_dim must be positive, got ",
           query_dim, " and ", key_dim);
  weight = register_parameter("weight", linear_init({key_dim, query_dim}, query_dim, generator));
}

std::string BilinearAttention::extra_repr() const {
  return "query_dim=" + std::to_string(weight.size(1)) + ", key_dim=" + std::to_string(weight.size(0));
}

Tensor BilinearAttention::score(const Tensor& query, const Tensor& key) const {
  return functional::bilinear_score(query, key, weight);
}

}  // namespace attnkit::nn
