#include "attnkit/nn/hard_attention.h"

#include "attnkit/core/error.h"
#include "attnkit/functional/scores.h"

namespace attnkit::nn {

HardAttention::HardAttention(const HardAttentionOptions& options, Generator* generator) : options_(options) {
  const std::string& s = options.score;
  if (s == "bilinear") {
    score_fn = register_module("score_fn", std::make_shared<BilinearAttention>(options.query_dim, options.key_dim,
                                                                              generator));
  } else if (s == "additive") {
    score_fn = register_module("score_fn", std::make_shared<AdditiveAttention>(options.query_dim, options.key_dim,
                                                                              options.hidden_dim, generator));
  } else {
    AK_CHECK(s == "dot" || s == "scaled_dot", "HardAttention: score must be dot, scaled_dot, bilinear or ",
             "additive, got \"", s, "\"");
  }
}

Tensor HardAttention::score(const Tensor& query, const Tensor& key) const {
  if (score_fn) return score_fn->score(query, key);
  return options_.score == "dot" ? functional::dot_score(query, key) : functional::scaled_dot_score(query, key);
}

functional::HardAttentionOutput HardAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                       const Tensor& mask, Generator* generator) const {
  return functional::hard_attention(
      query, key, value, [this](const Tensor& q, const Tensor& k) { return score(q, k); }, mask,
      is_training() ? functional::HardMode::Sample : functional::HardMode::Argmax, generator);
}

}  // namespace attnkit::nn
