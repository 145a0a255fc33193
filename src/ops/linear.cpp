#include "attnkit/ops/linear.h"

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/matmul.h"
#include "attnkit/ops/reduce.h"
#include "kernels/gemm.h"

namespace attnkit {

namespace {

// x2 (M, in) @ weightᵀ + bias -> (M, out), float32.
Tensor affine(const Tensor& x2, const Tensor& weight, const Tensor& bias) {
  if (kernels::gemm_runs_on_onednn(x2.size(0))) {
    Tensor y = matmul(x2, weight.t());
    return bias.defined() ? add(y, bias) : y;
  }
  const int64_t m = x2.size(0), out = weight.size(0), in = weight.size(1);
  Tensor y = empty({m, out}, kFloat32);
  kernels::GemmArgs g;
  g.m = m;
  g.n = out;
  g.k = in;
  g.a = x2.data<float>();
  g.a_row_stride = x2.stride(0);
  g.a_col_stride = x2.stride(1);
  g.b = weight.data<float>();  // B = Wᵀ: B[p][j] = W[j][p]
  g.b_row_stride = weight.stride(1);
  g.b_col_stride = weight.stride(0);
  g.c = y.data<float>();
  g.ldc = out;
  g.bias = bias.defined() ? bias.data<float>() : nullptr;
  kernels::gemm(g);
  return y;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  AK_CHECK(weight.defined() && weight.dim() == 2, "linear: weight must be (out_features, in_features), got shape ",
           weight.defined() ? shape_str(weight.shape()) : std::string("nothing"));
  AK_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input of shape ",
           x.defined() ? shape_str(x.shape()) : std::string("nothing"), " has ",
           x.defined() && x.dim() >= 1 ? x.size(-1) : 0, " features, the weight expects ", weight.size(1));
  AK_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)), "linear: bias must be (",
           weight.size(0), "), got shape ", bias.defined() ? shape_str(bias.shape()) : std::string());
  for (const Tensor* t : {&x, &weight, &bias}) {
    AK_CHECK(!t->defined() || is_floating(t->dtype()), "linear: expected floating point tensors, got ",
             dtype_name(t->dtype()));
  }
  const int64_t in = weight.size(1), out_features = weight.size(0);
  Shape out_shape = x.shape();
  out_shape.back() = out_features;

  Tensor x2, w, b, y;
  {
    NoGradGuard no_grad;
    const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
    x2 = x.detach().to(kFloat32).reshape({rows, in});  // (M, in), a view when x allows
    w = weight.detach().to(kFloat32);
    b = bias.defined() ? bias.detach().to(kFloat32).contiguous() : Tensor();
    y = affine(x2, w, b).reshape(out_shape);
  }
  if (autograd::needs_grad({&x, &weight, &bias})) {
    Shape x_shape = x.shape();
    autograd::record("linear", y, {x, weight, bias},
                     [x2, w, x_shape, out_features](const Tensor& g, const std::vector<bool>& need) {
                       const Tensor g2 = g.reshape({x2.size(0), out_features}).contiguous();  // (M, out)
                       Tensor gx, gw, gb;
                       if (need[0]) gx = matmul(g2, w).reshape(x_shape);  // (M, in)
                       if (need[1]) gw = matmul(g2.t(), x2);              // (out, in), W's own layout
                       if (need[2]) gb = sum(g2, {0});                    // (out)
                       return std::vector<Tensor>{gx, gw, gb};
                     });
  }
  return y;
}

}  // namespace attnkit
