#pragma once
// Asking a model for its attention weights (transformers' output_attentions)
// for some layers and heads only. The model keeps its fused attention: the
// weights of the chosen heads are recomputed from the log-sum-exp the fused
// forward saved, one L x S pass per chosen head, so asking costs that pass
// and nothing else.
//
//   models::AttentionCapture capture{.layers = {0, 5}, .heads = {2}};
//   model.forward(ids, ..., &capture);
//   capture.weights[1]   // layer 5, head 2: (B, 1, T, S)

#include <cstdint>
#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit::models {

struct AttentionCapture {
  std::vector<int64_t> layers;  // which layers (empty = all); negative counts from the end
  std::vector<int64_t> heads;   // which heads of each (empty = all)
  // Filled by forward: one tensor per captured layer, in layer order,
  // (B, len(heads), T, S), rows summing to 1 over the keys each query sees.
  std::vector<Tensor> weights;

  // Whether layer `layer` of `layer_count` is captured; throws when a chosen
  // layer is not in [-layer_count, layer_count).
  bool wants(int64_t layer, int64_t layer_count) const;
};

}  // namespace attnkit::models
