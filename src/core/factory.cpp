// Tensor creation: empty, zeros, ones, full, arange, from memory.
#include <cmath>

#include "attnkit/core/tensor.h"
#include "kernels/copy.h"

namespace attnkit {

namespace {
void check_shape(const Shape& shape, const char* op) {
  for (int64_t s : shape) {
    AK_CHECK(s >= 0, op, ": negative dimension in shape ", shape_str(shape));
  }
}
}  // namespace

Tensor empty(const Shape& shape, DType dtype) {
  check_shape(shape, "empty");
  int64_t nbytes;
  if (__builtin_mul_overflow(shape_numel(shape), static_cast<int64_t>(dtype_size(dtype)), &nbytes)) {
    throw ValueError(detail::concat("empty: shape ", shape_str(shape), " of ", dtype_name(dtype),
                                    " needs more bytes than can be addressed"));
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(static_cast<size_t>(nbytes));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor out = empty(shape, dtype);
  kernels::fill(out, value);
  return out;
}

Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), like.dtype()); }
Tensor ones_like(const Tensor& like) { return ones(like.shape(), like.dtype()); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(double end, DType dtype) { return arange(0.0, end, 1.0, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  AK_CHECK(step != 0.0, "arange: step must be nonzero");
  AK_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
           "arange: expected finite start, end and step");
  AK_CHECK((end - start) / step >= 0, "arange: the range [", start, ", ", end,
           ") is empty or points the wrong way for step ", step);
  const double count = std::ceil((end - start) / step);
  AK_CHECK(count < 4.6e18, "arange: the range [", start, ", ", end, ") with step ", step,
           " has too many elements");
  const int64_t n = static_cast<int64_t>(count);
  if (dtype == kInt64 || dtype == kInt32) {
    Tensor out = empty({n}, dtype);
    for (int64_t i = 0; i < n; ++i) {
      if (dtype == kInt64) out.data<int64_t>()[i] = static_cast<int64_t>(start + i * step);
      else out.data<int32_t>()[i] = static_cast<int32_t>(start + i * step);
    }
    return out;
  }
  Tensor values = empty({n}, kFloat32);
  for (int64_t i = 0; i < n; ++i) values.data<float>()[i] = static_cast<float>(start + i * step);
  return values.to(dtype);
}

Tensor from_vector(const std::vector<float>& values, const Shape& shape) {
  AK_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
           " values do not fill shape ", shape_str(shape));
  Tensor out = empty(shape, kFloat32);
  std::copy(values.begin(), values.end(), out.data<float>());
  return out;
}

Tensor from_vector_i64(const std::vector<int64_t>& values, const Shape& shape) {
  AK_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
           " values do not fill shape ", shape_str(shape));
  Tensor out = empty(shape, kInt64);
  std::copy(values.begin(), values.end(), out.data<int64_t>());
  return out;
}

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> release,
                 std::optional<Shape> strides) {
  check_shape(shape, "from_blob");
  AK_CHECK(data != nullptr || shape_numel(shape) == 0, "from_blob: null data pointer");
  Shape actual_strides = strides ? *strides : contiguous_strides(shape);
  AK_CHECK(actual_strides.size() == shape.size(), "from_blob: ", actual_strides.size(),
           " strides for a shape of ", shape.size(), " dims");
  // The extent of memory the view may touch, for the storage's byte count.
  int64_t extent = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    AK_CHECK(actual_strides[d] >= 0, "from_blob: negative strides are not supported, got ",
             shape_str(actual_strides));
    if (shape[d] > 0) extent += (shape[d] - 1) * actual_strides[d];
  }
  if (shape_numel(shape) == 0) extent = 0;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::borrow(data, static_cast<size_t>(extent) * dtype_size(dtype),
                                  std::move(release));
  impl->shape = shape;
  impl->strides = std::move(actual_strides);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace attnkit
