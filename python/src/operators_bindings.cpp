// The number protocol of attnkit.Tensor: + - * / ** @ with tensors and Python
// numbers on either side, unary - + abs ~, comparisons giving bool tensors,
// & | ^ on bool masks, and the in-place forms (+= ... and add_ ...).
//
// An operand that is neither a Tensor nor a number gives NotImplemented, so
// Python tries the other operand and finally raises TypeError.
#include "binary_ops.h"

namespace attnkit::python {

namespace {

nb::object forward(const BinaryOp& op, const Tensor& a, nb::handle b) {
  if (std::optional<Tensor> out = apply_binary(op, a, b)) return nb::cast(std::move(*out));
  return nb::borrow(Py_NotImplemented);
}

nb::object reversed(const BinaryOp& op, const Tensor& self, nb::handle other) {
  if (std::optional<Tensor> out = apply_binary_reversed(op, other, self)) {
    return nb::cast(std::move(*out));
  }
  return nb::borrow(Py_NotImplemented);
}

// ---- logical ops on bool masks (no bitwise ops on integers in attnkit) ----

std::optional<Tensor> bool_operand(nb::handle obj) {
  if (nb::isinstance<Tensor>(obj)) return nb::cast<Tensor>(obj);
  if (PyBool_Check(obj.ptr())) return scalar_tensor(obj.ptr() == Py_True ? 1.0 : 0.0, kBool);
  return std::nullopt;
}

enum class Logical { And, Or, Xor };

nb::object logical(Logical kind, const Tensor& a, nb::handle b_obj) {
  std::optional<Tensor> b = bool_operand(b_obj);
  if (!b) return nb::borrow(Py_NotImplemented);
  if (a.dtype() != kBool || b->dtype() != kBool) {
    throw nb::type_error(detail::concat("&, |, ^: only bool tensors are supported (logical ops on "
                                        "masks), got ", dtype_name(a.dtype()), " and ",
                                        dtype_name(b->dtype())).c_str());
  }
  switch (kind) {
    case Logical::And: return nb::cast(where(a, *b, scalar_tensor(0.0, kBool)));
    case Logical::Or: return nb::cast(where(a, scalar_tensor(1.0, kBool), *b));
    case Logical::Xor: return nb::cast(ne(a, *b));
  }
  return nb::none();
}

}  // namespace

void bind_operators(TensorClass& cls) {
  using namespace nb::literals;
  // Above NumPy's, so NumPy defers mixed binary ops to the Tensor (see
  // array_operand in binary_ops.cpp); PyTorch uses the same value.
  cls.attr("__array_priority__") = 1000;
  // Each operator has a Tensor-Tensor overload first (the fast path: no
  // isinstance test) and a generic one for numbers.
  cls.def("__add__", static_cast<BinaryOp::TensorFn>(&add), nb::is_operator())
      .def("__add__", [](const Tensor& a, nb::handle b) { return forward(kAdd, a, b); }, nb::is_operator())
      .def("__radd__", [](const Tensor& a, nb::handle b) { return forward(kAdd, a, b); }, nb::is_operator())
      .def("__sub__", static_cast<BinaryOp::TensorFn>(&sub), nb::is_operator())
      .def("__sub__", [](const Tensor& a, nb::handle b) { return forward(kSub, a, b); }, nb::is_operator())
      .def("__rsub__", [](const Tensor& a, nb::handle b) { return reversed(kSub, a, b); }, nb::is_operator())
      .def("__mul__", static_cast<BinaryOp::TensorFn>(&mul), nb::is_operator())
      .def("__mul__", [](const Tensor& a, nb::handle b) { return forward(kMul, a, b); }, nb::is_operator())
      .def("__rmul__", [](const Tensor& a, nb::handle b) { return forward(kMul, a, b); }, nb::is_operator())
      .def("__truediv__", static_cast<BinaryOp::TensorFn>(&div), nb::is_operator())
      .def("__truediv__", [](const Tensor& a, nb::handle b) { return forward(kDiv, a, b); }, nb::is_operator())
      .def("__rtruediv__", [](const Tensor& a, nb::handle b) { return reversed(kDiv, a, b); }, nb::is_operator())
      .def("__pow__", static_cast<BinaryOp::TensorFn>(&pow), nb::is_operator())
      .def("__pow__", [](const Tensor& a, nb::handle b) { return forward(kPow, a, b); }, nb::is_operator())
      .def("__rpow__", [](const Tensor& a, nb::handle b) { return reversed(kPow, a, b); }, nb::is_operator())
      .def("__matmul__", &matmul_without_gil, nb::is_operator())
      .def("__rmatmul__", [](const Tensor& a, const Tensor& b) { return matmul_without_gil(b, a); },
           nb::is_operator());

  cls.def("__neg__", static_cast<Tensor (*)(const Tensor&)>(&neg))
      .def("__pos__", [](const Tensor& t) { return t; })
      .def("__abs__", static_cast<Tensor (*)(const Tensor&)>(&abs))
      .def("__invert__", [](const Tensor& t) {
        if (t.dtype() != kBool) {
          throw nb::type_error(detail::concat("~: only bool tensors are supported (logical not), got ",
                                              dtype_name(t.dtype())).c_str());
        }
        return logical_not(t);
      });

  cls.def("__and__", [](const Tensor& a, nb::handle b) { return logical(Logical::And, a, b); }, nb::is_operator())
      .def("__rand__", [](const Tensor& a, nb::handle b) { return logical(Logical::And, a, b); }, nb::is_operator())
      .def("__or__", [](const Tensor& a, nb::handle b) { return logical(Logical::Or, a, b); }, nb::is_operator())
      .def("__ror__", [](const Tensor& a, nb::handle b) { return logical(Logical::Or, a, b); }, nb::is_operator())
      .def("__xor__", [](const Tensor& a, nb::handle b) { return logical(Logical::Xor, a, b); }, nb::is_operator())
      .def("__rxor__", [](const Tensor& a, nb::handle b) { return logical(Logical::Xor, a, b); }, nb::is_operator());

  // Comparisons give bool tensors; with a non-number (e.g. None) they return
  // NotImplemented, so `t == None` is False by identity, as in PyTorch.
  cls.def("__eq__", [](const Tensor& a, nb::handle b) { return forward(kEq, a, b); }, nb::is_operator())
      .def("__ne__", [](const Tensor& a, nb::handle b) { return forward(kNe, a, b); }, nb::is_operator())
      .def("__lt__", [](const Tensor& a, nb::handle b) { return forward(kLt, a, b); }, nb::is_operator())
      .def("__le__", [](const Tensor& a, nb::handle b) { return forward(kLe, a, b); }, nb::is_operator())
      .def("__gt__", [](const Tensor& a, nb::handle b) { return forward(kGt, a, b); }, nb::is_operator())
      .def("__ge__", [](const Tensor& a, nb::handle b) { return forward(kGe, a, b); }, nb::is_operator());

  // In place, as PyTorch: x += y writes into x (see apply_inplace).
  cls.def("__iadd__", [](nb::handle self, nb::handle b) { return apply_inplace(kAdd, self, b, true); }, nb::is_operator())
      .def("__isub__", [](nb::handle self, nb::handle b) { return apply_inplace(kSub, self, b, true); }, nb::is_operator())
      .def("__imul__", [](nb::handle self, nb::handle b) { return apply_inplace(kMul, self, b, true); }, nb::is_operator())
      .def("__itruediv__", [](nb::handle self, nb::handle b) { return apply_inplace(kDiv, self, b, true); }, nb::is_operator());

  cls.def(
         "add_",
         [](nb::handle self, nb::handle other, double alpha) {
           if (alpha == 1.0) return apply_inplace(kAdd, self, other, false);
           return apply_inplace(kAdd, self, scale_operand(other, alpha, "add_"), false);
         },
         "other"_a, nb::kw_only(), "alpha"_a = 1.0)
      .def(
          "sub_",
          [](nb::handle self, nb::handle other, double alpha) {
            if (alpha == 1.0) return apply_inplace(kSub, self, other, false);
            return apply_inplace(kSub, self, scale_operand(other, alpha, "sub_"), false);
          },
          "other"_a, nb::kw_only(), "alpha"_a = 1.0)
      .def("mul_", [](nb::handle self, nb::handle other) { return apply_inplace(kMul, self, other, false); },
           "other"_a)
      .def("div_", [](nb::handle self, nb::handle other) { return apply_inplace(kDiv, self, other, false); },
           "other"_a);
}

}  // namespace attnkit::python
