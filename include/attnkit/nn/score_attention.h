#pragma once
// Soft attention with a learned score function (SPEC A1, A4), as modules:
//
//   AdditiveAttention  s(x, q) = vᵀ tanh(W x + U q)   (Bahdanau 2015)
//   BilinearAttention  s(x, q) = xᵀ W q               (Luong 2015, "general")
//
// forward(query (..., M, Dq), key (..., N, Dk), value (..., N, Dv) or
// undefined for plain mode (key = value), mask (bool, true = may attend))
// returns the read-out (..., M, Dv) and the distribution α (..., M, N), as
// functional::attention. Parameters are initialised as torch.nn.Linear's.

#include "attnkit/core/rng.h"
#include "attnkit/functional/attention.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn {

// A module whose score function feeds functional::attention.
class ScoreAttention : public Module {
 public:
  virtual Tensor score(const Tensor& query, const Tensor& key) const = 0;
  functional::AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value = Tensor(),
                                      const Tensor& mask = Tensor()) const;
};

class AdditiveAttention : public ScoreAttention {
 public:
  AdditiveAttention(int64_t query_dim, int64_t key_dim, int64_t hidden_dim, Generator* generator = nullptr);
  std::string name() const override { return "AdditiveAttention"; }
  std::string extra_repr() const override;
  Tensor score(const Tensor& query, const Tensor& key) const override;

  Tensor w_key;    // W (hidden, Dk)
  Tensor w_query;  // U (hidden, Dq)
  Tensor v;        // (hidden)
};

class BilinearAttention : public ScoreAttention {
 public:
  BilinearAttention(int64_t query_dim, int64_t key_dim, Generator* generator = nullptr);
  std::string name() const override { return "BilinearAttention"; }
  std::string extra_repr() const override;
  Tensor score(const Tensor& query, const Tensor& key) const override;

  Tensor weight;  // W (Dk, Dq)
};

}  // namespace attnkit::nn
