#pragma once
// Joining and splitting along a dim: cat, stack, split, chunk.
// split/chunk return views (differentiable) of the input.

#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Pieces of split_size along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
// Pieces of the given sizes, which must add up to x.size(dim).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& split_sizes, int64_t dim = 0);
// `chunks` pieces of ceil(size / chunks) (fewer if the size runs out), as torch.chunk.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

}  // namespace attnkit
