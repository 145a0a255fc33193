// Elementwise arithmetic and activations with NumPy broadcasting.
// Forward and backward side by side; each backward comment quotes the
// derivative it implements.
#include "attnkit/ops/elementwise.h"

#include <cmath>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/reduce.h"
#include "kernels/dispatch.h"
#include "kernels/gelu.h"
#include "kernels/relu_backward.h"
#include "kernels/elementwise_loops.h"

namespace attnkit {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    AK_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together: ", da, " != ", db, " at dim ", i);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

DType promote_types(DType a, DType b) {
  auto rank = [](DType d) {
    switch (d) {
      case DType::Bool: return 0;
      case DType::Int32: return 1;
      case DType::Int64: return 2;
      default: return 3;  // float32, bfloat16 compute as float32
    }
  };
  int r = std::max(rank(a), rank(b));
  if (r == 3) return kFloat32;
  if (r == 2) return kInt64;
  return kInt32;  // bool arithmetic computes in int32
}

Tensor scalar_like(double value, const Tensor& like) {
  bool integral = value == std::floor(value) && std::isfinite(value);
  DType dtype = is_floating(like.dtype()) || !integral ? kFloat32
                : like.dtype() == kBool ? kInt64
                                        : like.dtype();
  return scalar_tensor(value, dtype);
}

namespace {

enum class Binary { Add, Sub, Mul, Div, Pow, Maximum, Minimum };

const char* binary_name(Binary op) {
  switch (op) {
    case Binary::Add: return "add";
    case Binary::Sub: return "sub";
    case Binary::Mul: return "mul";
    case Binary::Div: return "div";
    case Binary::Pow: return "pow";
    case Binary::Maximum: return "maximum";
    case Binary::Minimum: return "minimum";
  }
  return "?";
}

template <typename T>
void run_binary(Binary op, const Tensor& out, const Tensor& a, const Tensor& b) {
  using kernels::binary_map;
  switch (op) {
    case Binary::Add: return binary_map<T, T>(out, a, b, [](T x, T y) { return x + y; });
    case Binary::Sub: return binary_map<T, T>(out, a, b, [](T x, T y) { return x - y; });
    case Binary::Mul: return binary_map<T, T>(out, a, b, [](T x, T y) { return x * y; });
    case Binary::Div: return binary_map<T, T>(out, a, b, [](T x, T y) { return x / y; });
    case Binary::Pow: return binary_map<T, T>(out, a, b, [](T x, T y) { return static_cast<T>(std::pow(x, y)); });
    // NaN propagates, as torch.maximum/minimum.
    case Binary::Maximum:
      return binary_map<T, T>(out, a, b, [](T x, T y) { return (x != x || x > y) ? x : y; });
    case Binary::Minimum:
      return binary_map<T, T>(out, a, b, [](T x, T y) { return (x != x || x < y) ? x : y; });
  }
}

// The forward of a binary op: promote, broadcast, compute.
Tensor binary_forward(Binary op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  DType dtype = promote_types(a.dtype(), b.dtype());
  if (op == Binary::Div || op == Binary::Pow) dtype = kFloat32;  // true division, as PyTorch
  Tensor out = empty(shape, dtype);
  Tensor ea = a.to(dtype).expand(shape), eb = b.to(dtype).expand(shape);
  switch (dtype) {
    case DType::Float32: run_binary<float>(op, out, ea, eb); break;
    case DType::Int64: run_binary<int64_t>(op, out, ea, eb); break;
    case DType::Int32: run_binary<int32_t>(op, out, ea, eb); break;
    default: throw Error(detail::concat(name, ": internal error: unexpected dtype"));
  }
  return out;
}

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  Tensor out;
  {
    NoGradGuard no_grad;  // the promotions and expands inside are not part of the graph
    out = binary_forward(op, a, b);
  }
  if (!autograd::needs_grad({&a, &b})) return out;
  Shape sa = a.shape(), sb = b.shape();
  Tensor da = a.detach().to(kFloat32), db = b.detach().to(kFloat32);  // grads are float32
  autograd::BackwardFn backward;
  switch (op) {
    case Binary::Add:
      backward = [sa, sb](const Tensor& g, const std::vector<bool>& need) {
        return std::vector<Tensor>{need[0] ? sum_to_shape(g, sa) : Tensor(),
                                   need[1] ? sum_to_shape(g, sb) : Tensor()};
      };
      break;
    case Binary::Sub:
      backward = [sa, sb](const Tensor& g, const std::vector<bool>& need) {
        return std::vector<Tensor>{need[0] ? sum_to_shape(g, sa) : Tensor(),
                                   need[1] ? sum_to_shape(neg(g), sb) : Tensor()};
      };
      break;
    case Binary::Mul:  // d(a*b) = b da + a db
      backward = [sa, sb, da, db](const Tensor& g, const std::vector<bool>& need) {
        return std::vector<Tensor>{need[0] ? sum_to_shape(mul(g, db), sa) : Tensor(),
                                   need[1] ? sum_to_shape(mul(g, da), sb) : Tensor()};
      };
      break;
    case Binary::Div:  // d(a/b) = da / b - a db / b²
      backward = [sa, sb, da, db](const Tensor& g, const std::vector<bool>& need) {
        Tensor gb;
        if (need[1]) gb = sum_to_shape(neg(div(mul(g, da), mul(db, db))), sb);
        return std::vector<Tensor>{need[0] ? sum_to_shape(div(g, db), sa) : Tensor(), gb};
      };
      break;
    case Binary::Pow: {  // d(a^b) = b a^(b-1) da + a^b log(a) db
      Tensor dout = out.detach();
      backward = [sa, sb, da, db, dout](const Tensor& g, const std::vector<bool>& need) {
        Tensor ga, gb;
        if (need[0]) {
          // b a^(b-1), which is 0 at b == 0 even where a^(b-1) is inf (a == 0).
          Tensor local = mul(db, pow(da, sub(db, 1.0)));
          local = where(eq(db, 0.0), zeros({}), local);
          ga = sum_to_shape(mul(g, local), sa);
        }
        if (need[1]) {
          // At a == 0 with b >= 0 the true derivative is 0 (log(0) would give NaN).
          Tensor g_out = mul(g, dout);
          Tensor term = empty(g_out.shape(), kFloat32);
          kernels::ternary_map<float, float, float, float>(
              term, g_out, da.expand(g_out.shape()), db.expand(g_out.shape()),
              [](float t, float base, float e) { return (base == 0.0f && e >= 0.0f) ? 0.0f : t * std::log(base); });
          gb = sum_to_shape(term, sb);
        }
        return std::vector<Tensor>{ga, gb};
      };
      break;
    }
    case Binary::Maximum:
    case Binary::Minimum: {
      // The gradient goes to the chosen input; ties split it evenly (PyTorch).
      bool is_max = op == Binary::Maximum;
      backward = [sa, sb, da, db, is_max](const Tensor& g, const std::vector<bool>& need) {
        Tensor a_wins = is_max ? gt(da, db) : lt(da, db);
        Tensor tie = eq(da, db);
        Tensor weight_a = add(a_wins.to(kFloat32), mul(tie.to(kFloat32), 0.5));
        Tensor ga, gb;
        if (need[0]) ga = sum_to_shape(mul(g, weight_a), sa);
        if (need[1]) gb = sum_to_shape(mul(g, sub(scalar_tensor(1.0), weight_a)), sb);
        return std::vector<Tensor>{ga, gb};
      };
      break;
    }
  }
  autograd::record(binary_name(op), out, {a, b}, std::move(backward));
  return out;
}

// ---- unary ----

enum class Unary { Neg, Exp, Log, Sqrt, Abs, Tanh, Sigmoid, Relu, GeluExact, GeluTanh, Silu };

const char* unary_name(Unary op) {
  switch (op) {
    case Unary::Neg: return "neg";
    case Unary::Exp: return "exp";
    case Unary::Log: return "log";
    case Unary::Sqrt: return "sqrt";
    case Unary::Abs: return "abs";
    case Unary::Tanh: return "tanh";
    case Unary::Sigmoid: return "sigmoid";
    case Unary::Relu: return "relu";
    case Unary::GeluExact: return "gelu";
    case Unary::GeluTanh: return "gelu";
    case Unary::Silu: return "silu";
  }
  return "?";
}

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

inline float sigmoid_scalar(float x) { return 1.0f / (1.0f + std::exp(-x)); }

float unary_value(Unary op, float x) {
  switch (op) {
    case Unary::Neg: return -x;
    case Unary::Exp: return std::exp(x);
    case Unary::Log: return std::log(x);
    case Unary::Sqrt: return std::sqrt(x);
    case Unary::Abs: return std::fabs(x);
    case Unary::Tanh: return std::tanh(x);
    case Unary::Sigmoid: return sigmoid_scalar(x);
    case Unary::Relu: return x > 0.0f ? x : (x != x ? x : 0.0f);
    case Unary::GeluExact: return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
    case Unary::GeluTanh:
      return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
    case Unary::Silu: return x * sigmoid_scalar(x);
  }
  return x;
}

// d out / d x, from the input x and the output y.
float unary_derivative(Unary op, float x, float y) {
  switch (op) {
    case Unary::Neg: return -1.0f;
    case Unary::Exp: return y;                      // d e^x = e^x
    case Unary::Log: return 1.0f / x;               // d log x = 1 / x
    case Unary::Sqrt: return 0.5f / y;              // d √x = 1 / (2 √x)
    case Unary::Abs: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case Unary::Tanh: return 1.0f - y * y;          // d tanh = 1 - tanh²
    case Unary::Sigmoid: return y * (1.0f - y);     // d σ = σ (1 - σ)
    case Unary::Relu: return x > 0 ? 1.0f : 0.0f;  // (the backward uses kernels::relu_backward)
    case Unary::GeluExact: {  // d [x Φ(x)] = Φ(x) + x φ(x)
      float cdf = 0.5f * (1.0f + std::erf(x * kInvSqrt2));
      return cdf + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
    }
    case Unary::GeluTanh: {  // u = √(2/π)(x + c x³): d = ½(1 + tanh u) + ½ x (1 - tanh² u) u'
      float u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
      float t = std::tanh(u);
      float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
      return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
    }
    case Unary::Silu: {  // d [x σ(x)] = σ + x σ (1 - σ)
      float s = sigmoid_scalar(x);
      return s + x * s * (1.0f - s);
    }
  }
  return 0.0f;
}

Tensor unary(Unary op, const Tensor& x) {
  const char* name = unary_name(op);
  // neg, abs and relu keep integer types; the rest compute in float32.
  bool keeps_int = op == Unary::Neg || op == Unary::Abs || op == Unary::Relu;
  if (keeps_int && is_integral(x.dtype())) {
    Tensor out = empty(x.shape(), x.dtype());
    kernels::visit_dtype(x.dtype(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, int32_t>) {
        kernels::unary_map<T, T>(out, x, [op](T v) -> T {
          if (op == Unary::Neg) return -v;
          if (op == Unary::Abs) return v < 0 ? -v : v;
          return v > 0 ? v : 0;
        });
      }
    });
    return out;
  }
  AK_CHECK(!(op == Unary::Neg && x.dtype() == kBool),
           "neg: not defined for bool tensors; use logical_not");
  Tensor xf = x.dtype() == kFloat32 ? x : x.to(kFloat32);
  Tensor out = empty(x.shape(), kFloat32);
  const bool gelu_kernel = (op == Unary::GeluExact || op == Unary::GeluTanh) && xf.is_contiguous();
  if (gelu_kernel) {
    (op == Unary::GeluExact ? kernels::gelu_exact : kernels::gelu_tanh)(xf.data<float>(), out.data<float>(),
                                                                         xf.numel());
  } else {
    switch (op) {
#define AK_UNARY_CASE(kind) \
  case kind: kernels::unary_map<float, float>(out, xf, [](float v) { return unary_value(kind, v); }); break;
    AK_UNARY_CASE(Unary::Neg)
    AK_UNARY_CASE(Unary::Exp)
    AK_UNARY_CASE(Unary::Log)
    AK_UNARY_CASE(Unary::Sqrt)
    AK_UNARY_CASE(Unary::Abs)
    AK_UNARY_CASE(Unary::Tanh)
    AK_UNARY_CASE(Unary::Sigmoid)
    AK_UNARY_CASE(Unary::Relu)
    AK_UNARY_CASE(Unary::GeluExact)
    AK_UNARY_CASE(Unary::GeluTanh)
    AK_UNARY_CASE(Unary::Silu)
#undef AK_UNARY_CASE
    }
  }
  if (autograd::needs_grad({&x})) {
    Tensor saved_x = x.detach(), saved_y = out.detach();
    autograd::record(name, out, {x}, [op, saved_x, saved_y](const Tensor& g, const std::vector<bool>&) {
      Tensor grad = empty(g.shape(), kFloat32);
      if (op == Unary::Relu) {
        const Tensor gc = g.contiguous(), xc = saved_x.to(kFloat32).contiguous();
        kernels::relu_backward(gc.data<float>(), xc.data<float>(), grad.data<float>(), grad.numel());
        return std::vector<Tensor>{grad};
      }
      kernels::ternary_map<float, float, float, float>(
          grad, g, saved_x, saved_y,
          [op](float dy, float xv, float yv) { return dy * unary_derivative(op, xv, yv); });
      return std::vector<Tensor>{grad};
    });
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(Binary::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(Binary::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(Binary::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(Binary::Div, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(Binary::Pow, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(Binary::Maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(Binary::Minimum, a, b); }

Tensor add(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor pow(const Tensor& a, double b) { return pow(a, scalar_like(b, a)); }

Tensor neg(const Tensor& x) { return unary(Unary::Neg, x); }
Tensor exp(const Tensor& x) { return unary(Unary::Exp, x); }
Tensor log(const Tensor& x) { return unary(Unary::Log, x); }
Tensor sqrt(const Tensor& x) { return unary(Unary::Sqrt, x); }
Tensor abs(const Tensor& x) { return unary(Unary::Abs, x); }
Tensor tanh(const Tensor& x) { return unary(Unary::Tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary(Unary::Sigmoid, x); }
Tensor relu(const Tensor& x) { return unary(Unary::Relu, x); }
Tensor silu(const Tensor& x) { return unary(Unary::Silu, x); }

Tensor gelu(const Tensor& x, std::string_view approximate) {
  AK_CHECK(approximate == "none" || approximate == "tanh",
           "gelu: approximate must be 'none' or 'tanh', got '", approximate, "'");
  return unary(approximate == "none" ? Unary::GeluExact : Unary::GeluTanh, x);
}

}  // namespace attnkit
