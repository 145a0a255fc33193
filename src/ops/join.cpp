#include "attnkit/ops/join.h"

#include "attnkit/core/autograd.h"
#include "kernels/copy.h"

namespace attnkit {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  AK_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors.front();
  AK_CHECK(first.dim() > 0, "cat: zero-dimensional tensor cannot be concatenated; use stack");
  dim = wrap_dim(dim, first.dim(), "cat");
  DType dtype = first.dtype();
  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    AK_CHECK(t.dtype() == dtype, "cat: expected all tensors to have dtype ", dtype_name(dtype),
             ", got ", dtype_name(t.dtype()), " for tensor ", i);
    AK_CHECK(t.dim() == first.dim(), "cat: tensor ", i, " has ", t.dim(), " dims, expected ",
             first.dim(), " like tensor 0");
    for (int64_t d = 0; d < t.dim(); ++d) {
      AK_CHECK(d == dim || t.size(d) == first.size(d), "cat: sizes of tensors must match except in ",
               "dim ", dim, ": tensor 0 has shape ", shape_str(first.shape()), ", tensor ", i,
               " has shape ", shape_str(t.shape()));
    }
    out_shape[dim] += t.size(dim);
  }
  Tensor out = empty(out_shape, dtype);
  std::vector<int64_t> sizes;
  int64_t offset = 0;
  {
    NoGradGuard no_grad;
    for (const Tensor& t : tensors) {
      kernels::copy_into(out.narrow(dim, offset, t.size(dim)), t);
      sizes.push_back(t.size(dim));
      offset += t.size(dim);
    }
  }
  if (autograd::needs_grad(tensors)) {
    autograd::record("cat", out, tensors, [sizes, dim](const Tensor& g, const std::vector<bool>& need) {
      std::vector<Tensor> grads;
      int64_t start = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        grads.push_back(need[i] ? g.narrow(dim, start, sizes[i]) : Tensor());
        start += sizes[i];
      }
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  AK_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  dim = wrap_dim(dim, tensors.front().dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (size_t i = 0; i < tensors.size(); ++i) {
    AK_CHECK(tensors[i].dtype() == tensors.front().dtype(), "stack: expected all tensors to have dtype ",
             dtype_name(tensors.front().dtype()), ", got ", dtype_name(tensors[i].dtype()), " for tensor ", i);
    AK_CHECK(tensors[i].shape() == tensors.front().shape(), "stack: expects each tensor to be equal ",
             "size, but got ", shape_str(tensors.front().shape()), " at entry 0 and ",
             shape_str(tensors[i].shape()), " at entry ", i);
    expanded.push_back(tensors[i].unsqueeze(dim));
  }
  return cat(expanded, dim);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  AK_CHECK(x.dim() > 0, "split: expected at least a 1-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  AK_CHECK(split_size > 0 || (split_size == 0 && x.size(dim) == 0), "split: split_size must be ",
           "positive, got ", split_size);
  std::vector<Tensor> pieces;
  const int64_t size = x.size(dim);
  if (size == 0) return {x};
  for (int64_t start = 0; start < size; start += split_size) {
    pieces.push_back(x.narrow(dim, start, std::min(split_size, size - start)));
  }
  return pieces;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& split_sizes, int64_t dim) {
  AK_CHECK(x.dim() > 0, "split: expected at least a 1-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : split_sizes) {
    AK_CHECK(s >= 0, "split: split sizes must be non-negative, got ", shape_str(split_sizes));
    total += s;
  }
  AK_CHECK(total == x.size(dim), "split: split sizes ", shape_str(split_sizes), " sum to ", total,
           ", but the input has size ", x.size(dim), " in dim ", dim);
  std::vector<Tensor> pieces;
  int64_t start = 0;
  for (int64_t s : split_sizes) {
    pieces.push_back(x.narrow(dim, start, s));
    start += s;
  }
  return pieces;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  AK_CHECK(chunks > 0, "chunk: expected a positive number of chunks, got ", chunks);
  AK_CHECK(x.dim() > 0, "chunk: expected at least a 1-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "chunk");
  const int64_t size = x.size(dim);
  const int64_t piece = std::max<int64_t>((size + chunks - 1) / chunks, 1);
  return split(x, piece, dim);
}

}  // namespace attnkit
