// Comparisons (bool results) and selection by mask.
#include "attnkit/ops/compare.h"

#include "attnkit/core/autograd.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/reduce.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise_loops.h"

namespace attnkit {

namespace {

enum class Comparison { Eq, Ne, Lt, Le, Gt, Ge };

template <typename T>
void run_compare(Comparison op, const Tensor& out, const Tensor& a, const Tensor& b) {
  using kernels::binary_map;
  switch (op) {
    case Comparison::Eq: return binary_map<T, bool>(out, a, b, [](T x, T y) { return x == y; });
    case Comparison::Ne: return binary_map<T, bool>(out, a, b, [](T x, T y) { return x != y; });
    case Comparison::Lt: return binary_map<T, bool>(out, a, b, [](T x, T y) { return x < y; });
    case Comparison::Le: return binary_map<T, bool>(out, a, b, [](T x, T y) { return x <= y; });
    case Comparison::Gt: return binary_map<T, bool>(out, a, b, [](T x, T y) { return x > y; });
    case Comparison::Ge: return binary_map<T, bool>(out, a, b, [](T x, T y) { return x >= y; });
  }
}

Tensor compare(Comparison op, const char* name, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  DType dtype = promote_types(a.dtype(), b.dtype());
  Tensor ea = a.detach().to(dtype).expand(shape), eb = b.detach().to(dtype).expand(shape);
  Tensor out = empty(shape, kBool);
  switch (dtype) {
    case DType::Float32: run_compare<float>(op, out, ea, eb); break;
    case DType::Int64: run_compare<int64_t>(op, out, ea, eb); break;
    case DType::Int32: run_compare<int32_t>(op, out, ea, eb); break;
    default: throw Error(detail::concat(name, ": internal error: unexpected dtype"));
  }
  return out;
}

void check_bool(const Tensor& mask, const char* op, const char* what) {
  AK_CHECK(mask.dtype() == kBool, op, ": expected ", what, " to be a bool tensor, got ",
           dtype_name(mask.dtype()));
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(Comparison::Eq, "eq", a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(Comparison::Ne, "ne", a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(Comparison::Lt, "lt", a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(Comparison::Le, "le", a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(Comparison::Gt, "gt", a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(Comparison::Ge, "ge", a, b); }
Tensor eq(const Tensor& a, double b) { return eq(a, scalar_like(b, a)); }
Tensor ne(const Tensor& a, double b) { return ne(a, scalar_like(b, a)); }
Tensor lt(const Tensor& a, double b) { return lt(a, scalar_like(b, a)); }
Tensor le(const Tensor& a, double b) { return le(a, scalar_like(b, a)); }
Tensor gt(const Tensor& a, double b) { return gt(a, scalar_like(b, a)); }
Tensor ge(const Tensor& a, double b) { return ge(a, scalar_like(b, a)); }

Tensor logical_not(const Tensor& x) {
  Tensor out = empty(x.shape(), kBool);
  Tensor xb = x.detach().to(kBool);
  kernels::unary_map<bool, bool>(out, xb, [](bool v) { return !v; });
  return out;
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  check_bool(condition, "where", "condition");
  Shape shape = broadcast_shapes(broadcast_shapes(condition.shape(), a.shape(), "where"), b.shape(),
                                 "where");
  DType dtype = promote_types(a.dtype(), b.dtype());
  if (a.dtype() == kBool && b.dtype() == kBool) dtype = kBool;
  Tensor out = empty(shape, dtype);
  {
    NoGradGuard no_grad;
    Tensor ec = condition.expand(shape), ea = a.to(dtype).expand(shape), eb = b.to(dtype).expand(shape);
    kernels::visit_dtype(dtype, [&]<typename T>() {
      kernels::ternary_map<bool, T, T, T>(out, ec, ea, eb, [](bool c, T x, T y) { return c ? x : y; });
    });
  }
  if (autograd::needs_grad({&a, &b})) {
    Shape sa = a.shape(), sb = b.shape();
    Tensor cond = condition.detach();
    autograd::record("where", out, {a, b}, [cond, sa, sb](const Tensor& g, const std::vector<bool>& need) {
      Tensor zero = zeros({});
      return std::vector<Tensor>{need[0] ? sum_to_shape(where(cond, g, zero), sa) : Tensor(),
                                 need[1] ? sum_to_shape(where(cond, zero, g), sb) : Tensor()};
    });
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_bool(mask, "masked_fill", "mask");
  Shape shape = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  AK_CHECK(shape == x.shape(), "masked_fill: mask of shape ", shape_str(mask.shape()),
           " does not broadcast to the input's shape ", shape_str(x.shape()));
  Tensor fill = scalar_tensor(value, x.dtype() == kBFloat16 ? kFloat32 : x.dtype());
  return where(mask, fill, x);
}

}  // namespace attnkit
