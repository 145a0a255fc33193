#include "attnkit/core/tensor.h"

#include <cmath>
#include <sstream>

#include "attnkit/core/autograd.h"
#include "kernels/copy.h"
#include "kernels/dispatch.h"

namespace attnkit {

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '(';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) out << ',';
  out << ')';
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) {
    if (__builtin_mul_overflow(n, s, &n)) {
      throw ValueError("shape " + shape_str(shape) + " has more elements than a tensor can hold");
    }
  }
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t range = std::max<int64_t>(ndim, 1);  // a 0-d tensor accepts dim 0 / -1
  if (dim < -range || dim >= range) {
    throw ValueError(detail::concat(op, ": dim ", dim, " is out of range for a tensor of ", ndim,
                                    " dimension", ndim == 1 ? "" : "s", " (expected ", -range,
                                    " <= dim < ", range, ")"));
  }
  return dim < 0 ? dim + range : dim;
}

TensorImpl& Tensor::impl() const {
  if (!impl_) throw ValueError("tensor: operation on an undefined tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const {
  AK_CHECK(dim() > 0, "size: dimension specified as ", d, " but the tensor has no dimensions");
  return shape()[wrap_dim(d, dim(), "size")];
}
int64_t Tensor::stride(int64_t d) const {
  AK_CHECK(dim() > 0, "stride: dimension specified as ", d, " but the tensor has no dimensions");
  return strides()[wrap_dim(d, dim(), "stride")];
}

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // no element to misplace (as PyTorch)
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (shape()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

bool Tensor::shares_storage_with(const Tensor& other) const {
  return defined() && other.defined() && storage() == other.storage();
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(impl().storage->data()) +
         impl().offset * static_cast<int64_t>(dtype_size(impl().dtype));
}

void Tensor::check_dtype(DType expected, const char* op) const {
  if (dtype() != expected) {
    throw ValueError(detail::concat(op, ": expected a ", dtype_name(expected), " tensor, got ",
                                    dtype_name(dtype())));
  }
}

double Tensor::item() const {
  AK_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", shape_str(shape()),
           " (", numel(), " elements)");
  return at(Shape(static_cast<size_t>(dim()), 0));
}

double Tensor::at(const std::vector<int64_t>& index) const {
  AK_CHECK(static_cast<int64_t>(index.size()) == dim(), "at: expected ", dim(),
           " indices, got ", index.size());
  int64_t offset = 0;
  for (int64_t d = 0; d < dim(); ++d) {
    int64_t i = index[d] < 0 ? index[d] + shape()[d] : index[d];
    AK_CHECK(i >= 0 && i < shape()[d], "at: index ", index[d], " is out of range for dim ", d,
             " of size ", shape()[d]);
    offset += i * strides()[d];
  }
  return kernels::visit_dtype(dtype(), [&]<typename T>() {
    return kernels::cast_value<double>(static_cast<const T*>(data_ptr())[offset]);
  });
}

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream out;
  out << "tensor(";
  Tensor flat = contiguous();
  const int64_t n = numel();
  const int64_t shown = std::min<int64_t>(n, 8);
  out << '[';
  for (int64_t i = 0; i < shown; ++i) {
    double v = kernels::visit_dtype(dtype(), [&]<typename T>() {
      return kernels::cast_value<double>(static_cast<const T*>(flat.data_ptr())[i]);
    });
    out << (i ? ", " : "") << v;
  }
  if (n > shown) out << ", ...";
  out << "], shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (requires_grad()) out << ", requires_grad=True";
  out << ')';
  return out.str();
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  kernels::copy_into(out, *this);
  if (autograd::needs_grad({this})) {
    autograd::record("clone", out, {*this},
                     [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
  }
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target);
  kernels::copy_into(out, *this);
  return out;  // a dtype change is not differentiable: gradients are float32 only
}

namespace {
// A destination in which two indices share one element (an expanded view)
// cannot be written elementwise: the writes would race and the result depend
// on their order.
void check_writable_layout(const Tensor& t, const char* op) {
  for (int64_t d = 0; d < t.dim(); ++d) {
    AK_CHECK(t.shape()[d] <= 1 || t.strides()[d] != 0, op, ": the destination (shape ",
             shape_str(t.shape()), ", strides ", shape_str(t.strides()),
             ") has several indices sharing one element; clone() it first");
  }
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  check_writable_layout(*this, "fill_");
  kernels::fill(*this, value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  bool broadcastable = src.dim() <= dim();
  for (int64_t i = 1; broadcastable && i <= src.dim(); ++i) {
    int64_t have = src.shape()[src.dim() - i];
    broadcastable = have == 1 || have == shape()[dim() - i];
  }
  AK_CHECK(broadcastable, "copy_: source of shape ", shape_str(src.shape()),
           " does not broadcast to the destination's shape ", shape_str(shape()));
  check_writable_layout(*this, "copy_");
  if (src.shares_storage_with(*this)) {  // t[1:] = t[:-1]: read everything before writing
    Tensor copy = src.detach().clone();
    kernels::copy_into(*this, copy.expand(shape()).detach());
    return *this;
  }
  kernels::copy_into(*this, src.expand(shape()).detach());
  return *this;
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  if (requires_grad) {
    AK_CHECK(dtype() == kFloat32, "requires_grad: only float32 tensors can require gradients, got ",
             dtype_name(dtype()));
  }
  AK_CHECK(is_leaf() || requires_grad, "requires_grad: cannot turn off requires_grad on a non-leaf ",
           "tensor; use detach()");
  impl().requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  std::lock_guard lock(autograd::leaf_grad_mutex());
  return impl().grad ? Tensor(impl().grad) : Tensor();
}

void Tensor::set_grad(const Tensor& grad) {
  if (grad.defined()) {
    AK_CHECK(grad.shape() == shape(), "set_grad: gradient shape ", shape_str(grad.shape()),
             " does not match tensor shape ", shape_str(shape()));
  }
  std::lock_guard lock(autograd::leaf_grad_mutex());
  impl().grad = grad.defined() ? grad.impl_ptr() : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor g = gradient;
  if (!g.defined()) {
    AK_CHECK(numel() == 1, "backward: grad can be implicitly created only for a tensor with one ",
             "element, got shape ", shape_str(shape()));
    g = ones(shape());
  }
  autograd::backward(*this, g.to(kFloat32), retain_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->offset = offset();
  impl->shape = shape();
  impl->strides = strides();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

}  // namespace attnkit
