#include "attnkit/ops/embedding.h"

#include <cstring>

#include "attnkit/core/autograd.h"

namespace attnkit {

namespace {
// Indices as int64, checked against the table size.
Tensor checked_indices(const Tensor& indices, int64_t num_embeddings) {
  AK_CHECK(indices.dtype() == kInt64 || indices.dtype() == kInt32,
           "embedding: expected indices of dtype int64 or int32, got ", dtype_name(indices.dtype()));
  Tensor idx = indices.detach().to(kInt64).contiguous();
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i) {
    AK_CHECK(p[i] >= 0 && p[i] < num_embeddings, "embedding: index ", p[i],
             " is out of range for a table of ", num_embeddings, " rows");
  }
  return idx;
}
}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  AK_CHECK(weight.dim() == 2, "embedding: expected weight of shape (num_embeddings, embedding_dim), got ",
           shape_str(weight.shape()));
  AK_CHECK(is_floating(weight.dtype()), "embedding: expected a floating point weight, got ",
           dtype_name(weight.dtype()));
  const int64_t rows = weight.size(0), dim = weight.size(1);
  if (padding_idx) {
    AK_CHECK(*padding_idx >= -rows && *padding_idx < rows, "embedding: padding_idx ", *padding_idx,
             " is out of range for a table of ", rows, " rows");
    if (*padding_idx < 0) *padding_idx += rows;
  }
  Tensor idx = checked_indices(indices, rows);
  Tensor table = weight.detach().to(kFloat32).contiguous();
  Shape out_shape = indices.shape();
  out_shape.push_back(dim);
  Tensor out = empty(out_shape, kFloat32);
  const int64_t n = idx.numel();
  const int64_t* pi = idx.data<int64_t>();
  const float* pw = table.data<float>();
  float* po = out.data<float>();
#pragma omp parallel for schedule(static) if (n * dim > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(po + i * dim, pw + pi[i] * dim, static_cast<size_t>(dim) * sizeof(float));
  }
  if (autograd::needs_grad({&weight})) {
    int64_t pad = padding_idx.value_or(-1);
    autograd::record("embedding", out, {weight}, [idx, rows, dim, pad](const Tensor& g, const std::vector<bool>&) {
      // Scatter-add each output row's gradient into its table row (serial:
      // rows repeat, and the table gradient is small next to the lookups).
      Tensor grad = zeros({rows, dim});
      Tensor gc = g.contiguous();
      const int64_t* p = idx.data<int64_t>();
      const float* pg = gc.data<float>();
      float* pd = grad.data<float>();
      for (int64_t i = 0; i < idx.numel(); ++i) {
        if (p[i] == pad) continue;
        float* row = pd + p[i] * dim;
        const float* src = pg + i * dim;
        for (int64_t j = 0; j < dim; ++j) row[j] += src[j];
      }
      return std::vector<Tensor>{grad};
    });
  }
  return out;
}

}  // namespace attnkit
