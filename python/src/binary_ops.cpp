// Binary ops with a Tensor or a Python number; see binary_ops.h.
#include "binary_ops.h"

namespace attnkit::python {

namespace {

// A NumPy array operand as a tensor (attnkit.as_tensor: shared when its dtype
// is supported, else converted). Tensor defines __array_priority__, so NumPy
// hands `array + t` and `np.float32(2) * t` to the Tensor's operators instead
// of converting the tensor and returning an array, as with torch.Tensor.
std::optional<Tensor> array_operand(nb::handle obj) {
  PyObject* numpy = PyImport_GetModule(nb::str("numpy").ptr());
  if (numpy == nullptr) {
    PyErr_Clear();
    return std::nullopt;  // NumPy not loaded: obj cannot be an array
  }
  nb::object np = nb::steal(numpy);
  if (!nb::isinstance(obj, np.attr("ndarray"))) return std::nullopt;
  return nb::cast<Tensor>(nb::module_::import_("attnkit._creation").attr("as_tensor")(obj));
}

}  // namespace

std::optional<Tensor> apply_binary(const BinaryOp& op, const Tensor& a, nb::handle b) {
  if (nb::isinstance<Tensor>(b)) return op.tensors(a, nb::cast<const Tensor&>(b));
  std::optional<PyScalar> scalar = to_scalar(b);
  if (!scalar) {
    if (std::optional<Tensor> array = array_operand(b)) return op.tensors(a, *array);
    return std::nullopt;
  }
  if (op.scalar == nullptr) return op.tensors(a, scalar_operand(*scalar, a));
  return op.scalar(op.promotes ? promote_for_scalar(a, scalar->kind) : a, scalar->value);
}

std::optional<Tensor> apply_binary_reversed(const BinaryOp& op, nb::handle a, const Tensor& b) {
  std::optional<PyScalar> scalar = to_scalar(a);
  if (!scalar) {
    if (std::optional<Tensor> array = array_operand(a)) return op.tensors(*array, b);
    return std::nullopt;
  }
  return op.tensors(scalar_operand(*scalar, b), b);
}

Tensor apply_binary_or_throw(const BinaryOp& op, const Tensor& a, nb::handle b) {
  if (std::optional<Tensor> out = apply_binary(op, a, b)) return std::move(*out);
  throw nb::type_error(detail::concat(op.name, ": expected a Tensor or a number as the second "
                                      "operand, got ", Py_TYPE(b.ptr())->tp_name)
                           .c_str());
}

}  // namespace attnkit::python

namespace attnkit::python {

Tensor matmul_without_gil(const Tensor& a, const Tensor& b) {
  nb::gil_scoped_release release;
  return matmul(a, b);
}

nb::object scale_operand(nb::handle other, double alpha, const char* op) {
  if (nb::isinstance<Tensor>(other)) return nb::cast(mul(nb::cast<const Tensor&>(other), alpha));
  std::optional<PyScalar> scalar = to_scalar(other);
  if (!scalar) {
    throw nb::type_error(detail::concat(op, ": expected a Tensor or a number as the second operand, got ",
                                        Py_TYPE(other.ptr())->tp_name).c_str());
  }
  const double scaled = scalar->value * alpha;
  if (scalar->kind == ScalarKind::Float || scaled != static_cast<double>(static_cast<int64_t>(scaled))) {
    return nb::float_(scaled);
  }
  return nb::int_(static_cast<int64_t>(scaled));
}

nb::object apply_inplace(const BinaryOp& op, nb::handle self, nb::handle other, bool for_operator) {
  Tensor& t = nb::cast<Tensor&>(self);
  std::optional<Tensor> result = apply_binary(op, t, other);
  if (!result) {
    if (for_operator) return nb::borrow(Py_NotImplemented);
    return nb::cast(apply_binary_or_throw(op, t, other));  // throws the TypeError
  }
  if (t.requires_grad() && autograd::grad_mode_enabled()) {
    if (t.is_leaf()) {
      throw StateError(detail::concat(
          op.name, "_: a leaf tensor that requires grad cannot be modified in place while grad "
                   "mode is on; do it inside `with attnkit.no_grad():`"));
    }
    // A non-leaf inside a recorded computation: the write could not be
    // differentiated, so x += y falls back to x = x + y (same values and
    // gradients; only other views of the old x do not see the change).
    if (for_operator) return nb::cast(std::move(*result));
    throw StateError(detail::concat(op.name, "_: in-place ops on a tensor that requires grad are "
                                             "not supported while grad mode is on; use ", op.name,
                                    "() instead"));
  }
  if (result->shape() != t.shape()) {
    throw ValueError(detail::concat(op.name, "_: the result shape ", shape_str(result->shape()),
                                    " does not match the shape ", shape_str(t.shape()),
                                    " of the tensor written in place"));
  }
  if (is_floating(result->dtype()) && !is_floating(t.dtype())) {
    throw nb::type_error(detail::concat(op.name, "_: the result type ", dtype_name(result->dtype()),
                                        " cannot be written into a ", dtype_name(t.dtype()),
                                        " tensor in place").c_str());
  }
  t.copy_(*result);
  return nb::borrow(self);
}

}  // namespace attnkit::python
