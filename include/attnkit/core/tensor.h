#pragma once
// Tensor: a strided view of shared storage, with an optional autograd history.
//
// A Tensor is a cheap handle (one shared_ptr); copies alias the same data, as
// in PyTorch. Views (reshape of contiguous data, permute, transpose, slice,
// select, expand, squeeze, unsqueeze) share storage and record autograd nodes
// like any other op. Strides and offsets are counted in elements.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attnkit/core/dtype.h"
#include "attnkit/core/error.h"
#include "attnkit/core/storage.h"

namespace attnkit {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);  // "(2, 3)"
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
// Wraps a possibly negative dim into [0, ndim); names `op` in the error.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

namespace autograd {
class Node;
}

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::Float32;

  // Autograd state. A leaf that requires grad receives `.grad` on backward;
  // a non-leaf result carries the node that produced it.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t numel() const { return shape_numel(impl().shape); }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  // Whether two tensors view the same memory block.
  bool shares_storage_with(const Tensor& other) const;

  // Address of element [0, 0, ...]. data<T>() checks that T matches dtype().
  void* data_ptr() const;
  template <typename T>
  T* data() const {
    check_dtype(dtype_of<T>(), "data");
    return static_cast<T*>(data_ptr());
  }
  // The value of a one-element tensor, converted to double.
  double item() const;
  // Element at a multi-index, converted to double (for tests and printing).
  double at(const std::vector<int64_t>& index) const;
  std::string to_string() const;

  // ---- views (no copy; differentiable) ----
  // One size may be -1 (inferred). Negative dims and indices count from the
  // end; slice bounds are clamped like Python's; squeeze(dim) of a dim that
  // is not 1 returns the tensor unchanged (all as PyTorch).
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy
  Tensor view(const Shape& shape) const;     // error if not viewable
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // transpose of a matrix (ndim <= 2)
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // ---- copies ----
  Tensor contiguous() const;  // self if already contiguous
  Tensor clone() const;
  // Self if already that dtype. A dtype change is not recorded by autograd
  // (gradients are float32 only): the result has no history.
  Tensor to(DType dtype) const;

  // ---- in place (not recorded by autograd; for optimisers and init) ----
  // Writing into a tensor that autograd saved for backward is not detected
  // (PyTorch raises via a version counter): the gradient is then wrong.
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // src broadcast to this shape

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool requires_grad);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const;  // undefined until a backward reached this leaf
  void set_grad(const Tensor& grad);
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  // Backpropagates from this tensor. With no gradient, it must hold one element.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same data, no history

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  void check_dtype(DType expected, const char* op) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation ----
Tensor empty(const Shape& shape, DType dtype = kFloat32);
Tensor zeros(const Shape& shape, DType dtype = kFloat32);
Tensor ones(const Shape& shape, DType dtype = kFloat32);
Tensor full(const Shape& shape, double value, DType dtype = kFloat32);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor scalar_tensor(double value, DType dtype = kFloat32);
// arange(end), arange(start, end, step); int64 unless dtype says otherwise.
Tensor arange(double end, DType dtype = kInt64);
Tensor arange(double start, double end, double step = 1.0, DType dtype = kInt64);
// Copies `values` into a new tensor of `shape`.
Tensor from_vector(const std::vector<float>& values, const Shape& shape);
Tensor from_vector_i64(const std::vector<int64_t>& values, const Shape& shape);
// Wraps existing memory without a copy; `release` (may be empty) runs when the
// last view is gone. Strides default to contiguous.
Tensor from_blob(void* data, const Shape& shape, DType dtype,
                 std::function<void(void*)> release = {},
                 std::optional<Shape> strides = std::nullopt);

}  // namespace attnkit
