#pragma once
// Binary ops whose second operand may be a Tensor or a Python number, shared by
// the number protocol (t + 2, 2 - t) and the module functions (add(t, 2.0)).

#include <optional>

#include "convert.h"

namespace attnkit::python {

struct BinaryOp {
  using TensorFn = Tensor (*)(const Tensor&, const Tensor&);
  using ScalarFn = Tensor (*)(const Tensor&, double);
  const char* name;
  TensorFn tensors;
  ScalarFn scalar;  // null: a number operand becomes a 0-d tensor instead
  // Arithmetic promotes the tensor for the scalar's kind (int_tensor + 2.5 is
  // float32); comparisons compare the values as they are.
  bool promotes;
};

inline const BinaryOp kAdd{"add", static_cast<BinaryOp::TensorFn>(&add),
                           static_cast<BinaryOp::ScalarFn>(&add), true};
inline const BinaryOp kSub{"sub", static_cast<BinaryOp::TensorFn>(&sub),
                           static_cast<BinaryOp::ScalarFn>(&sub), true};
inline const BinaryOp kMul{"mul", static_cast<BinaryOp::TensorFn>(&mul),
                           static_cast<BinaryOp::ScalarFn>(&mul), true};
inline const BinaryOp kDiv{"div", static_cast<BinaryOp::TensorFn>(&div),
                           static_cast<BinaryOp::ScalarFn>(&div), true};
inline const BinaryOp kPow{"pow", static_cast<BinaryOp::TensorFn>(&pow),
                           static_cast<BinaryOp::ScalarFn>(&pow), true};
inline const BinaryOp kMaximum{"maximum", &maximum, nullptr, true};
inline const BinaryOp kMinimum{"minimum", &minimum, nullptr, true};
inline const BinaryOp kEq{"eq", static_cast<BinaryOp::TensorFn>(&eq),
                          static_cast<BinaryOp::ScalarFn>(&eq), false};
inline const BinaryOp kNe{"ne", static_cast<BinaryOp::TensorFn>(&ne),
                          static_cast<BinaryOp::ScalarFn>(&ne), false};
inline const BinaryOp kLt{"lt", static_cast<BinaryOp::TensorFn>(&lt),
                          static_cast<BinaryOp::ScalarFn>(&lt), false};
inline const BinaryOp kLe{"le", static_cast<BinaryOp::TensorFn>(&le),
                          static_cast<BinaryOp::ScalarFn>(&le), false};
inline const BinaryOp kGt{"gt", static_cast<BinaryOp::TensorFn>(&gt),
                          static_cast<BinaryOp::ScalarFn>(&gt), false};
inline const BinaryOp kGe{"ge", static_cast<BinaryOp::TensorFn>(&ge),
                          static_cast<BinaryOp::ScalarFn>(&ge), false};

// op(a, b) for b a Tensor or a Python number; nullopt when b is neither.
std::optional<Tensor> apply_binary(const BinaryOp& op, const Tensor& a, nb::handle b);
// op(a, b) for a Python number a; nullopt when a is not a number.
std::optional<Tensor> apply_binary_reversed(const BinaryOp& op, nb::handle a, const Tensor& b);
// As apply_binary, but a TypeError naming the op when b is neither.
Tensor apply_binary_or_throw(const BinaryOp& op, const Tensor& a, nb::handle b);

}  // namespace attnkit::python

namespace attnkit::python {

// matmul with the GIL released: the one op that is both heavy and called from
// Python threads in benchmarks and data loaders.
Tensor matmul_without_gil(const Tensor& a, const Tensor& b);

// `other * alpha` for add/sub's alpha argument, keeping a number a number.
nb::object scale_operand(nb::handle other, double alpha, const char* op);

// x op= y and x.op_(y): writes op(x, y) into x, as PyTorch does in place, so
// `p -= lr * p.grad` updates p and every view of it. Returns self; or
// NotImplemented when y is not a Tensor or number (only if `for_operator`).
nb::object apply_inplace(const BinaryOp& op, nb::handle self, nb::handle other, bool for_operator);

}  // namespace attnkit::python
