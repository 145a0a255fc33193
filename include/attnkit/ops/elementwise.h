#pragma once
// Elementwise arithmetic and activations, differentiable.
//
// Binary ops broadcast like NumPy: shapes are aligned from the right and a
// size-1 (or missing) dim stretches to the other's size. Types promote as in
// PyTorch's order bool -> int32 -> int64 -> float32, except that bool with bool
// computes in int32 and a 0-d int64 operand promotes an int32 tensor to int64
// (PyTorch keeps bool and int32 there); bfloat16 computes as float32.
// `div` and `pow` always give float32. Scalars take the tensor's kind: an
// integral scalar keeps an int tensor int, a fractional one makes it float32.
//
// Domain notes (as IEEE / PyTorch): sqrt and log of a negative number give
// NaN, log(0) = -inf, x / 0 = ±inf (0 / 0 = NaN); integer division by zero is
// computed in float32 and therefore follows the same rule.

#include <string_view>

#include "attnkit/core/tensor.h"

namespace attnkit {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

// A 0-d tensor holding `value`, of the dtype it would promote to with `like`.
Tensor scalar_like(double value, const Tensor& like);

Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor pow(const Tensor& base, double exponent);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
// approximate: "none" (exact, with erf) or "tanh" (GPT-2's approximation).
Tensor gelu(const Tensor& x, std::string_view approximate = "none");
Tensor silu(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, b); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
inline Tensor operator-(const Tensor& x) { return neg(x); }

// The broadcast shape of two shapes; names `op` in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// The dtype a binary arithmetic op computes in.
DType promote_types(DType a, DType b);

}  // namespace attnkit
