#pragma once
// A lookup table of learned vectors, as torch.nn.Embedding: weight
// (num_embeddings, embedding_dim) ~ N(0, 1), the padding_idx row zeroed and
// given no gradient.

#include <optional>

#include "attnkit/core/rng.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            Generator* generator = nullptr);
  std::string name() const override { return "Embedding"; }
  std::string extra_repr() const override;

  Tensor forward(const Tensor& indices) const;  // int (...) -> (..., embedding_dim)

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;
  Tensor weight;
};

}  // namespace attnkit::nn
