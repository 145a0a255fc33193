// Views: new shape/strides over the same storage, each differentiable.
// Backward of a view maps the gradient back to the input's layout: the
// inverse permutation, a reshape, or a scatter into zeros for slice/select.
#include <algorithm>
#include <numeric>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/reduce.h"

namespace attnkit {

namespace {

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->offset = offset;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// Gradient of a reshape-like view: the same numbers in the input's shape.
void record_reshape(const char* name, Tensor& out, const Tensor& input) {
  if (!autograd::needs_grad({&input})) return;
  Shape input_shape = input.shape();
  autograd::record(name, out, {input}, [input_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.reshape(input_shape)};
  });
}

// Resolves one -1 in a requested shape against numel.
Shape infer_shape(const Shape& requested, int64_t numel, const char* op) {
  Shape shape = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      AK_CHECK(infer_at < 0, op, ": only one dimension can be -1, got ", shape_str(requested));
      infer_at = static_cast<int64_t>(i);
    } else {
      AK_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in shape ", shape_str(requested));
      if (__builtin_mul_overflow(known, shape[i], &known)) {
        throw ValueError(detail::concat(op, ": shape ", shape_str(requested), " has too many elements"));
      }
    }
  }
  if (infer_at >= 0) {
    AK_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(requested),
             " is invalid for input of size ", numel);
    shape[infer_at] = numel / known;
  } else {
    AK_CHECK(known == numel, op, ": shape ", shape_str(requested), " is invalid for input of size ",
             numel);
  }
  return shape;
}

// Strides that view `old` data as `shape` without a copy, if any exist
// (the algorithm of NumPy's attempt_nocopy_reshape: match groups of dims
// with equal element counts; within a group the old dims must be contiguous).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides,
                                  const Shape& shape) {
  Shape strides(shape.size());
  if (shape_numel(old_shape) == 0 || shape.empty()) return contiguous_strides(shape);
  // Drop size-1 dims of the old shape: they constrain nothing.
  Shape os, ost;
  for (size_t i = 0; i < old_shape.size(); ++i) {
    if (old_shape[i] != 1) {
      os.push_back(old_shape[i]);
      ost.push_back(old_strides[i]);
    }
  }
  size_t oi = 0, ni = 0;
  const size_t on = os.size(), nn = shape.size();
  while (oi < on || ni < nn) {
    if (ni < nn && shape[ni] == 1) {  // size-1 new dims: any stride works
      strides[ni] = (ni + 1 < nn) ? 0 : 1;
      ++ni;
      continue;
    }
    if (oi >= on || ni >= nn) return std::nullopt;
    size_t oj = oi + 1, nj = ni + 1;
    int64_t np = shape[ni], op = os[oi];
    while (np != op) {
      if (np < op) {
        if (nj >= nn) return std::nullopt;
        np *= shape[nj++];
      } else {
        if (oj >= on) return std::nullopt;
        op *= os[oj++];
      }
    }
    for (size_t k = oi; k + 1 < oj; ++k) {
      if (ost[k] != ost[k + 1] * os[k + 1]) return std::nullopt;
    }
    strides[nj - 1] = ost[oj - 1];
    for (size_t k = nj - 1; k > ni; --k) strides[k - 1] = strides[k] * shape[k];
    oi = oj;
    ni = nj;
  }
  // Give size-1 dims a sensible stride (next dim's stride × size).
  for (size_t k = nn; k-- > 0;) {
    if (shape[k] == 1) strides[k] = (k + 1 < nn) ? strides[k + 1] * shape[k + 1] : 1;
  }
  return strides;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape shape = infer_shape(requested, numel(), "view");
  auto strides = view_strides(this->shape(), this->strides(), shape);
  AK_CHECK(strides.has_value(), "view: size ", shape_str(shape), " is not compatible with the ",
           "input's layout (shape ", shape_str(this->shape()), ", strides ",
           shape_str(this->strides()), "); use reshape(), which copies when needed");
  Tensor out = make_view(*this, shape, *strides, offset());
  record_reshape("view", out, *this);
  return out;
}

Tensor Tensor::reshape(const Shape& requested) const {
  Shape shape = infer_shape(requested, numel(), "reshape");
  if (auto strides = view_strides(this->shape(), this->strides(), shape)) {
    Tensor out = make_view(*this, shape, *strides, offset());
    record_reshape("reshape", out, *this);
    return out;
  }
  return contiguous().view(shape);  // contiguous() records its own node
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  AK_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: expected ", dim(),
           " dims for a tensor of shape ", shape_str(shape()), ", got ", dims.size());
  Shape shape(dims.size()), strides(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    AK_CHECK(inverse[d] < 0, "permute: dim ", dims[i], " appears twice in ", shape_str(dims));
    inverse[d] = static_cast<int64_t>(i);
    shape[i] = this->shape()[d];
    strides[i] = this->strides()[d];
  }
  Tensor out = make_view(*this, shape, strides, offset());
  if (autograd::needs_grad({this})) {
    autograd::record("permute", out, {*this}, [inverse](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{g.permute(inverse)};
    });
  }
  return out;
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  std::vector<int64_t> dims(static_cast<size_t>(dim()));
  std::iota(dims.begin(), dims.end(), 0);
  if (dim() == 0) return permute({});
  std::swap(dims[wrap_dim(dim0, dim(), "transpose")], dims[wrap_dim(dim1, dim(), "transpose")]);
  return permute(dims);
}

Tensor Tensor::t() const {
  AK_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dimensions, got ", dim(), "; use transpose()");
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  AK_CHECK(dim() > 0, "slice: cannot slice a 0-d tensor");
  d = wrap_dim(d, dim(), "slice");
  AK_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t size = shape()[d];
  // Python-style clamping of start and end.
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Shape new_shape = shape(), new_strides = strides();
  new_shape[d] = (end - start + step - 1) / step;
  new_strides[d] *= step;
  Tensor out = make_view(*this, new_shape, new_strides, offset() + start * strides()[d]);
  if (autograd::needs_grad({this})) {
    Shape input_shape = shape();
    autograd::record("slice", out, {*this},
                     [input_shape, d, start, end, step](const Tensor& g, const std::vector<bool>&) {
                       Tensor grad = zeros(input_shape);
                       grad.slice(d, start, end, step).copy_(g);
                       return std::vector<Tensor>{grad};
                     });
  }
  return out;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  AK_CHECK(dim() > 0, "narrow: cannot narrow a 0-d tensor");
  d = wrap_dim(d, dim(), "narrow");
  AK_CHECK(start >= -size(d) && start <= size(d), "narrow: start ", start,
           " is out of range for dim ", d, " of size ", size(d));
  if (start < 0) start += size(d);
  AK_CHECK(length >= 0 && start + length <= size(d), "narrow: start (", start, ") + length (",
           length, ") exceeds dimension size (", size(d), ")");
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  AK_CHECK(dim() > 0, "select: cannot select from a 0-d tensor");
  d = wrap_dim(d, dim(), "select");
  const int64_t size = shape()[d];
  AK_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for dim ", d,
           " of size ", size);
  if (index < 0) index += size;
  Shape new_shape = shape(), new_strides = strides();
  new_shape.erase(new_shape.begin() + d);
  new_strides.erase(new_strides.begin() + d);
  Tensor out = make_view(*this, new_shape, new_strides, offset() + index * strides()[d]);
  if (autograd::needs_grad({this})) {
    Shape input_shape = shape();
    autograd::record("select", out, {*this},
                     [input_shape, d, index](const Tensor& g, const std::vector<bool>&) {
                       Tensor grad = zeros(input_shape);
                       grad.select(d, index).copy_(g);
                       return std::vector<Tensor>{grad};
                     });
  }
  return out;
}

Tensor Tensor::expand(const Shape& requested) const {
  const int64_t n = static_cast<int64_t>(requested.size());
  AK_CHECK(n >= dim(), "expand: the number of sizes provided (", n, ") must be at least the number ",
           "of dimensions of the tensor (", dim(), "); shape ", shape_str(shape()));
  Shape new_shape(requested.size()), new_strides(requested.size());
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t src = i - (n - dim());
    int64_t want = requested[i];
    if (src >= 0) {
      int64_t have = shape()[src];
      if (want == -1) want = have;
      AK_CHECK(want >= 0, "expand: invalid size ", want, " at dimension ", i, " of ", shape_str(requested));
      AK_CHECK(have == want || have == 1, "expand: the expanded size of the tensor (", want,
               ") must match the existing size (", have, ") at non-singleton dimension ", i,
               ": target ", shape_str(requested), ", tensor ", shape_str(shape()));
      new_shape[i] = want;
      new_strides[i] = (have == want) ? strides()[src] : 0;
    } else {
      AK_CHECK(want >= 0, "expand: -1 is not allowed in a leading, new dimension: ",
               shape_str(requested));
      new_shape[i] = want;
      new_strides[i] = 0;
    }
  }
  if (new_shape == shape()) return *this;
  Tensor out = make_view(*this, new_shape, new_strides, offset());
  if (autograd::needs_grad({this})) {
    Shape input_shape = shape();
    autograd::record("expand", out, {*this}, [input_shape](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{sum_to_shape(g, input_shape)};
    });
  }
  return out;
}

Tensor Tensor::squeeze() const {
  Shape new_shape;
  for (int64_t s : shape())
    if (s != 1) new_shape.push_back(s);
  return view_strides(shape(), strides(), new_shape) ? view(new_shape) : reshape(new_shape);
}

Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) return *this;
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape new_shape = shape(), new_strides = strides();
  new_shape.erase(new_shape.begin() + d);
  new_strides.erase(new_strides.begin() + d);
  Tensor out = make_view(*this, new_shape, new_strides, offset());
  record_reshape("squeeze", out, *this);
  return out;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape new_shape = shape(), new_strides = strides();
  int64_t stride = d < dim() ? strides()[d] * shape()[d] : 1;
  new_shape.insert(new_shape.begin() + d, 1);
  new_strides.insert(new_strides.begin() + d, stride);
  Tensor out = make_view(*this, new_shape, new_strides, offset());
  record_reshape("unsqueeze", out, *this);
  return out;
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  AK_CHECK(start_dim <= end_dim, "flatten: start_dim (", start_dim, ") must not come after end_dim (",
           end_dim, ")");
  Shape new_shape(shape().begin(), shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) merged *= shape()[d];
  new_shape.push_back(merged);
  new_shape.insert(new_shape.end(), shape().begin() + end_dim + 1, shape().end());
  return reshape(new_shape);
}

}  // namespace attnkit
