#include "attnkit/nn/embedding.h"

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/embedding.h"

namespace attnkit::nn {

Embedding::Embedding(int64_t num, int64_t dim, std::optional<int64_t> padding, Generator* generator)
    : num_embeddings(num), embedding_dim(dim), padding_idx(padding) {
  AK_CHECK(num > 0 && dim > 0, "Embedding: num_embeddings and embedding_dim must be positive, got ", num, " and ",
           dim);
  if (padding_idx && *padding_idx < 0) *padding_idx += num;  // torch accepts -1 for the last row
  AK_CHECK(!padding_idx || (*padding_idx >= 0 && *padding_idx < num), "Embedding: padding_idx must be within ",
           "num_embeddings (", num, ")");
  weight = register_parameter("weight", empty({num, dim}));
  init::normal_(weight, 0.0, 1.0, generator);
  if (padding_idx) {
    NoGradGuard no_grad;
    weight.select(0, *padding_idx).fill_(0.0);
  }
}

Tensor Embedding::forward(const Tensor& indices) const { return embedding(indices, weight, padding_idx); }

std::string Embedding::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim) +
         (padding_idx ? ", padding_idx=" + std::to_string(*padding_idx) : std::string());
}

}  // namespace attnkit::nn
