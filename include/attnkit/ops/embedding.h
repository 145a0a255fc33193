#pragma once
// Embedding lookup: out[..., :] = weight[indices[...], :].
// indices: int64 or int32 of any shape; weight: (num_embeddings, dim).
// Out-of-range indices throw. Rows equal to padding_idx (if >= 0) get no
// gradient, as in torch.nn.functional.embedding.

#include <optional>

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<int64_t> padding_idx = std::nullopt);

}  // namespace attnkit
