// Python argument conversion; see convert.h.
#include "convert.h"

#include <string>

namespace attnkit::python {

namespace {

std::string py_type_name(nb::handle obj) { return Py_TYPE(obj.ptr())->tp_name; }

[[noreturn]] void raise_type_error(const std::string& message) {
  throw nb::type_error(message.c_str());
}

// NumPy scalar types, looked up once NumPy has been imported by someone.
// NumPy is not imported here: if it is not loaded, `obj` cannot be one of its
// scalars, and `import attnkit` stays cheap. The references are kept for the
// life of the process (NumPy cannot be unloaded).
struct NumpyScalarTypes {
  PyObject* bool_ = nullptr;
  PyObject* integer = nullptr;
  PyObject* floating = nullptr;
};

const NumpyScalarTypes* numpy_scalar_types() {
  static NumpyScalarTypes types;
  if (types.bool_ != nullptr) return &types;
  PyObject* numpy = PyImport_GetModule(nb::str("numpy").ptr());
  if (numpy == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  nb::object np = nb::steal(numpy);
  types.integer = nb::object(np.attr("integer")).release().ptr();
  types.floating = nb::object(np.attr("floating")).release().ptr();
  types.bool_ = nb::object(np.attr("bool_")).release().ptr();
  return &types;
}

std::optional<PyScalar> numpy_scalar(nb::handle obj) {
  const NumpyScalarTypes* np = numpy_scalar_types();
  if (np == nullptr) return std::nullopt;
  PyObject* p = obj.ptr();
  auto as_double = [&]() {
    double v = PyFloat_AsDouble(p);
    if (v == -1.0 && PyErr_Occurred()) throw nb::python_error();
    return v;
  };
  if (PyObject_IsInstance(p, np->floating) == 1) return PyScalar{as_double(), ScalarKind::Float};
  if (PyObject_IsInstance(p, np->integer) == 1) return PyScalar{as_double(), ScalarKind::Int};
  if (PyObject_IsInstance(p, np->bool_) == 1) {
    return PyScalar{PyObject_IsTrue(p) == 1 ? 1.0 : 0.0, ScalarKind::Bool};
  }
  return std::nullopt;
}

}  // namespace

std::optional<PyScalar> to_scalar(nb::handle obj) {
  PyObject* p = obj.ptr();
  if (PyFloat_Check(p)) return PyScalar{PyFloat_AS_DOUBLE(p), ScalarKind::Float};
  if (PyBool_Check(p)) return PyScalar{p == Py_True ? 1.0 : 0.0, ScalarKind::Bool};
  if (PyLong_Check(p)) {
    double v = PyLong_AsDouble(p);
    if (v == -1.0 && PyErr_Occurred()) throw nb::python_error();
    return PyScalar{v, ScalarKind::Int};
  }
  if (nb::isinstance<Tensor>(obj)) return std::nullopt;  // the common miss, answered fast
  return numpy_scalar(obj);
}

Tensor promote_for_scalar(const Tensor& tensor, ScalarKind kind) {
  const DType dtype = tensor.dtype();
  if (is_floating(dtype)) return tensor;
  if (kind == ScalarKind::Float) return tensor.to(kFloat32);
  if (kind == ScalarKind::Int && dtype == kBool) return tensor.to(kInt64);
  return tensor;
}

Tensor scalar_operand(const PyScalar& scalar, const Tensor& like) {
  const DType dtype = like.dtype();
  if (scalar.kind == ScalarKind::Float && !is_floating(dtype)) {
    return scalar_tensor(scalar.value, kFloat32);
  }
  if (scalar.kind == ScalarKind::Int && dtype == kBool) return scalar_tensor(scalar.value, kInt64);
  return scalar_like(scalar.value, like);
}

Tensor tensor_operand(nb::handle obj, const Tensor* like, const char* op) {
  if (nb::isinstance<Tensor>(obj)) return nb::cast<Tensor>(obj);
  if (auto scalar = to_scalar(obj)) {
    if (like != nullptr) return scalar_operand(*scalar, *like);
    switch (scalar->kind) {
      case ScalarKind::Float: return scalar_tensor(scalar->value, kFloat32);
      case ScalarKind::Int: return scalar_tensor(scalar->value, kInt64);
      case ScalarKind::Bool: return scalar_tensor(scalar->value, kBool);
    }
  }
  raise_type_error(detail::concat(op, ": expected a Tensor or a number, got ", py_type_name(obj)));
}

int64_t to_int(nb::handle obj, const char* op, const char* what) {
  PyObject* p = obj.ptr();
  if (PyLong_Check(p)) {
    long long v = PyLong_AsLongLong(p);
    if (v == -1 && PyErr_Occurred()) throw nb::python_error();
    return v;
  }
  // __index__ admits NumPy integers and one-element integer tensors, as in
  // PyTorch; floats are refused rather than truncated.
  if (!PyFloat_Check(p) && PyIndex_Check(p)) {
    nb::object index = nb::steal(PyNumber_Index(p));
    if (!index.is_valid()) throw nb::python_error();
    return to_int(index, op, what);
  }
  raise_type_error(detail::concat(op, ": ", what, " must be an int, got ", py_type_name(obj)));
}

Shape to_shape(nb::handle obj, const char* op) {
  PyObject* p = obj.ptr();
  if (PyLong_Check(p) || (PyIndex_Check(p) && !PyFloat_Check(p))) {
    return Shape{to_int(obj, op, "a size")};
  }
  if (PyTuple_Check(p) || PyList_Check(p) || (PySequence_Check(p) && !PyUnicode_Check(p) &&
                                               !PyBytes_Check(p))) {
    nb::object seq = nb::steal(PySequence_Fast(p, "expected a sequence"));
    if (!seq.is_valid()) throw nb::python_error();
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
    PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
    Shape shape(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) shape[i] = to_int(items[i], op, "each size");
    return shape;
  }
  raise_type_error(detail::concat(op, ": expected a shape (an int or a sequence of ints), got ",
                                  py_type_name(obj)));
}

Shape shape_from_args(const nb::args& args, const char* op) {
  if (args.size() == 1) {
    nb::handle first = args[0];
    PyObject* p = first.ptr();
    if (!PyLong_Check(p)) return to_shape(first, op);
  }
  Shape shape(args.size());
  for (size_t i = 0; i < args.size(); ++i) shape[i] = to_int(args[i], op, "each size");
  return shape;
}

std::optional<Shape> to_dims(nb::handle obj, const char* op) {
  if (obj.is_none()) return std::nullopt;
  return to_shape(obj, op);
}

Shape all_dims(const Tensor& tensor) {
  Shape dims(static_cast<size_t>(tensor.dim()));
  for (int64_t d = 0; d < tensor.dim(); ++d) dims[d] = d;
  return dims;
}

nb::tuple to_tuple(const Shape& shape) {
  PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(shape.size()));
  if (tuple == nullptr) throw nb::python_error();
  for (size_t i = 0; i < shape.size(); ++i) {
    PyObject* item = PyLong_FromLongLong(shape[i]);
    if (item == nullptr) {
      Py_DECREF(tuple);
      throw nb::python_error();
    }
    PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i), item);
  }
  return nb::steal<nb::tuple>(tuple);
}

void check_inplace_allowed(const Tensor& tensor, const char* op) {
  if (tensor.requires_grad() && autograd::grad_mode_enabled()) {
    throw StateError(detail::concat(
        op, ": cannot modify a tensor that requires grad in place while grad mode is on "
            "(in-place writes are not recorded by autograd); do it inside "
            "`with attnkit.no_grad():`"));
  }
}

}  // namespace attnkit::python
