// Elementwise ops and comparisons, as module functions with PyTorch's argument
// names (attnkit.add(input, other, alpha=1)) and as Tensor methods
// (t.add(other)). The second operand may be a Python number wherever PyTorch
// accepts one.
#include <nanobind/stl/string_view.h>

#include "binary_ops.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using UnaryFn = Tensor (*)(const Tensor&);

void def_unary(nb::module_& m, TensorClass& cls, const char* name, UnaryFn fn, const char* doc) {
  m.def(name, fn, "input"_a, doc);
  cls.def(name, fn, doc);
}

// op(input, other) and input.op(other), `other` a Tensor or a number. The
// Tensor-Tensor overload comes first: it is the fast path.
void def_binary(nb::module_& m, TensorClass& cls, const BinaryOp& op, const char* doc) {
  const BinaryOp* p = &op;
  auto with_tensor = [p](const Tensor& a, const Tensor& b) { return p->tensors(a, b); };
  auto with_any = [p](const Tensor& a, nb::handle b) { return apply_binary_or_throw(*p, a, b); };
  m.def(op.name, with_tensor, "input"_a, "other"_a, doc);
  m.def(op.name, with_any, "input"_a, "other"_a);
  cls.def(op.name, with_tensor, "other"_a, doc);
  cls.def(op.name, with_any, "other"_a);
}

// add/sub with PyTorch's alpha: input + alpha * other.
void def_with_alpha(nb::module_& m, TensorClass& cls, const BinaryOp& op, const char* doc) {
  const BinaryOp* p = &op;
  auto fn = [p](const Tensor& a, nb::handle b, double alpha) {
    if (alpha == 1.0) return apply_binary_or_throw(*p, a, b);
    return apply_binary_or_throw(*p, a, scale_operand(b, alpha, p->name));
  };
  m.def(op.name, [p](const Tensor& a, const Tensor& b) { return p->tensors(a, b); }, "input"_a,
        "other"_a, doc);
  m.def(op.name, fn, "input"_a, "other"_a, nb::kw_only(), "alpha"_a = 1.0);
  cls.def(op.name, [p](const Tensor& a, const Tensor& b) { return p->tensors(a, b); }, "other"_a, doc);
  cls.def(op.name, fn, "other"_a, nb::kw_only(), "alpha"_a = 1.0);
}

Tensor where_op(const Tensor& condition, nb::handle input, nb::handle other) {
  // A number takes the dtype of the tensor operand it pairs with, as PyTorch.
  Tensor a, b;
  if (nb::isinstance<Tensor>(input)) a = nb::cast<Tensor>(input);
  if (nb::isinstance<Tensor>(other)) b = nb::cast<Tensor>(other);
  if (!a.defined()) a = tensor_operand(input, b.defined() ? &b : nullptr, "where");
  if (!b.defined()) b = tensor_operand(other, &a, "where");
  return where(condition, a, b);
}

double fill_value(nb::handle value, const char* op) {
  if (std::optional<PyScalar> scalar = to_scalar(value)) return scalar->value;
  if (nb::isinstance<Tensor>(value)) {
    const Tensor& t = nb::cast<const Tensor&>(value);
    if (t.dim() == 0) return t.item();
    throw ValueError(detail::concat(op, ": value must be a number or a 0-d tensor, got a tensor of "
                                    "shape ", shape_str(t.shape())));
  }
  throw nb::type_error(detail::concat(op, ": value must be a number, got ",
                                      Py_TYPE(value.ptr())->tp_name).c_str());
}

void check_rounding_mode(nb::handle rounding_mode) {
  if (!rounding_mode.is_none()) {
    throw ValueError("div: rounding_mode is not supported (only true division, rounding_mode=None)");
  }
}

}  // namespace

void bind_ops(nb::module_& m, TensorClass& cls) {
  // ---- arithmetic ----
  def_with_alpha(m, cls, kAdd, "input + alpha * other, broadcasting.");
  def_with_alpha(m, cls, kSub, "input - alpha * other, broadcasting.");
  def_binary(m, cls, kMul, "input * other, broadcasting.");
  m.def("div",
        [](const Tensor& a, nb::handle b, nb::handle rounding_mode) {
          check_rounding_mode(rounding_mode);
          return apply_binary_or_throw(kDiv, a, b);
        },
        "input"_a, "other"_a, nb::kw_only(), "rounding_mode"_a = nb::none(),
        "input / other, broadcasting; always floating point.");
  cls.def("div",
          [](const Tensor& a, nb::handle b, nb::handle rounding_mode) {
            check_rounding_mode(rounding_mode);
            return apply_binary_or_throw(kDiv, a, b);
          },
          "other"_a, nb::kw_only(), "rounding_mode"_a = nb::none());
  def_binary(m, cls, kPow, "input ** exponent, broadcasting.");
  m.def("pow",
        [](nb::handle self, const Tensor& exponent) {
          if (std::optional<Tensor> out = apply_binary_reversed(kPow, self, exponent)) return *out;
          throw nb::type_error("pow: expected a Tensor or a number as the base");
        },
        "self"_a, "exponent"_a);
  def_binary(m, cls, kMaximum, "Elementwise maximum, broadcasting.");
  def_binary(m, cls, kMinimum, "Elementwise minimum, broadcasting.");

  // ---- unary and activations ----
  def_unary(m, cls, "neg", &attnkit::neg, "-input");
  def_unary(m, cls, "negative", &attnkit::neg, "-input");
  def_unary(m, cls, "exp", &attnkit::exp, "e ** input");
  def_unary(m, cls, "log", &attnkit::log, "Natural logarithm (log(0) = -inf, negative -> NaN).");
  def_unary(m, cls, "sqrt", &attnkit::sqrt, "Square root (negative -> NaN).");
  def_unary(m, cls, "abs", &attnkit::abs, "|input|");
  def_unary(m, cls, "tanh", &attnkit::tanh, "Hyperbolic tangent.");
  def_unary(m, cls, "sigmoid", &attnkit::sigmoid, "1 / (1 + exp(-input))");
  def_unary(m, cls, "relu", &attnkit::relu, "max(input, 0)");
  def_unary(m, cls, "silu", &attnkit::silu, "input * sigmoid(input)");
  m.def("gelu", &attnkit::gelu, "input"_a, "approximate"_a = "none",
        "GELU: approximate='none' (exact, with erf) or 'tanh' (GPT-2's approximation).");

  // ---- comparisons (bool results, not differentiable) ----
  def_binary(m, cls, kEq, "input == other, elementwise (bool).");
  def_binary(m, cls, kNe, "input != other, elementwise (bool).");
  def_binary(m, cls, kLt, "input < other, elementwise (bool).");
  def_binary(m, cls, kLe, "input <= other, elementwise (bool).");
  def_binary(m, cls, kGt, "input > other, elementwise (bool).");
  def_binary(m, cls, kGe, "input >= other, elementwise (bool).");
  def_unary(m, cls, "logical_not", &attnkit::logical_not, "Elementwise not (bool).");

  // ---- selection by mask ----
  m.def("where", &where_op, "condition"_a, "input"_a, "other"_a,
        "condition ? input : other, elementwise; all three broadcast; input/other may be numbers.");
  cls.def("where",
          [](const Tensor& self, const Tensor& condition, nb::handle other) {
            return where_op(condition, nb::cast(self), other);
          },
          "condition"_a, "other"_a, "where(condition, self, other)");
  m.def("masked_fill",
        [](const Tensor& input, const Tensor& mask, nb::handle value) {
          return masked_fill(input, mask, fill_value(value, "masked_fill"));
        },
        "input"_a, "mask"_a, "value"_a, "input with `value` where mask (bool, broadcast) is true.");
  cls.def("masked_fill",
          [](const Tensor& input, const Tensor& mask, nb::handle value) {
            return masked_fill(input, mask, fill_value(value, "masked_fill"));
          },
          "mask"_a, "value"_a);
}

}  // namespace attnkit::python
