#pragma once
// Hard attention as a module (SPEC A7): reads one value per query, chosen
// from α = softmax(s(key, query)). In training mode the choice is sampled
// from α (exploration, for REINFORCE through log_prob); in eval mode it is
// the arg-max. See functional/hard_attention.h for how each variant trains.
//
// score: "dot", "scaled_dot" (no parameters), or a learned one, "bilinear"
// or "additive", held as the child module `score_fn`.

#include <memory>
#include <string>

#include "attnkit/core/rng.h"
#include "attnkit/functional/hard_attention.h"
#include "attnkit/nn/score_attention.h"

namespace attnkit::nn {

struct HardAttentionOptions {
  std::string score = "scaled_dot";  // dot | scaled_dot | bilinear | additive
  int64_t query_dim = 0, key_dim = 0;  // needed by bilinear and additive
  int64_t hidden_dim = 0;              // needed by additive
};

class HardAttention : public Module {
 public:
  explicit HardAttention(const HardAttentionOptions& options = {}, Generator* generator = nullptr);
  std::string name() const override { return "HardAttention"; }
  std::string extra_repr() const override { return "score=" + options_.score; }

  // The sampling generator of training mode is `generator` (the default one if null).
  functional::HardAttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value = Tensor(),
                                          const Tensor& mask = Tensor(), Generator* generator = nullptr) const;
  Tensor score(const Tensor& query, const Tensor& key) const;

  std::shared_ptr<ScoreAttention> score_fn;  // for bilinear and additive scores

 private:
  HardAttentionOptions options_;
};

}  // namespace attnkit::nn
