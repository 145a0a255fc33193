#pragma once
// Converting Python arguments to the C++ API's types, with PyTorch's rules.
//
// Everything here throws nb::type_error / nb::value_error / nb::index_error
// for bad Python input, so a wrong argument is a Python exception, never a
// crash.

#include <optional>

#include "bindings.h"

namespace attnkit::python {

// ---- Python numbers as tensor operands ----

// What kind of Python number a scalar was. PyTorch decides result dtypes by
// it: int_tensor + 2.5 and int_tensor + 2.0 are both float32.
enum class ScalarKind { Bool, Int, Float };

struct PyScalar {
  double value;
  ScalarKind kind;
};

// A Python bool/int/float or NumPy scalar; nullopt for anything else.
std::optional<PyScalar> to_scalar(nb::handle obj);

// The tensor an arithmetic op with a scalar of `kind` runs on, as PyTorch
// promotes: a float scalar makes an integral or bool tensor float32, an int
// scalar makes a bool tensor int64. Floating tensors are returned unchanged.
Tensor promote_for_scalar(const Tensor& tensor, ScalarKind kind);

// A 0-d tensor for `scalar` as the operand of an op with `like`, of the dtype
// the pair promotes to (used for scalar-on-the-left: 2 - t, 2 ** t).
Tensor scalar_operand(const PyScalar& scalar, const Tensor& like);

// `obj` as a tensor operand: a Tensor as is, a scalar as a 0-d tensor matching
// `like` (or float32/int64/bool by its kind when there is no `like`).
Tensor tensor_operand(nb::handle obj, const Tensor* like, const char* op);

// ---- shapes, dims, integers ----

// A Python int (or anything with __index__, but not a float) as int64.
int64_t to_int(nb::handle obj, const char* op, const char* what);

// A shape given as an int or a sequence of ints.
Shape to_shape(nb::handle obj, const char* op);
// A shape given as f(*sizes) or f(sizes): zeros(2, 3) and zeros((2, 3)).
Shape shape_from_args(const nb::args& args, const char* op);
// Dims given as None (nullopt), an int or a sequence of ints.
std::optional<Shape> to_dims(nb::handle obj, const char* op);

// The dims 0 .. ndim-1 (reducing "all" with keepdim=True).
Shape all_dims(const Tensor& tensor);
// A shape as a Python tuple of ints.
nb::tuple to_tuple(const Shape& shape);

// ---- in-place writes ----

// fill_, copy_, t[i] = v are not recorded by autograd, so they are refused on
// a tensor that requires grad while grad mode is on (the gradient would be
// silently wrong), as PyTorch refuses them on leaves.
void check_inplace_allowed(const Tensor& tensor, const char* op);

}  // namespace attnkit::python
