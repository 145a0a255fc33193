#include "attnkit/ops/layer_norm.h"

#include "attnkit/core/autograd.h"
#include "kernels/layer_norm.h"

namespace attnkit {

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  AK_CHECK(k >= 1, "layer_norm: normalized_shape must not be empty");
  AK_CHECK(is_floating(x.dtype()), "layer_norm: expected a floating point input, got ",
           dtype_name(x.dtype()));
  bool trailing_match = x.dim() >= k;
  for (int64_t i = 0; trailing_match && i < k; ++i) {
    trailing_match = x.size(x.dim() - k + i) == normalized_shape[i];
  }
  AK_CHECK(trailing_match, "layer_norm: input of shape ", shape_str(x.shape()),
           " does not end with normalized_shape ", shape_str(normalized_shape));
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    const char* what = p == &weight ? "weight" : "bias";
    AK_CHECK(p->shape() == normalized_shape, "layer_norm: expected ", what, " of shape ",
             shape_str(normalized_shape), ", got ", shape_str(p->shape()));
    AK_CHECK(is_floating(p->dtype()), "layer_norm: expected a floating point ", what, ", got ",
             dtype_name(p->dtype()));
  }
  AK_CHECK(eps >= 0, "layer_norm: eps must be non-negative, got ", eps);
  const int64_t cols = shape_numel(normalized_shape);
  const int64_t rows = cols ? x.numel() / cols : 0;

  Tensor xc = x.detach().to(kFloat32).contiguous();
  Tensor w = weight.defined() ? weight.detach().to(kFloat32).contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.detach().to(kFloat32).contiguous() : Tensor();
  Tensor out = empty(x.shape(), kFloat32);
  Tensor mean = empty({rows}, kFloat32), rstd = empty({rows}, kFloat32);
  kernels::layer_norm_forward(out.data<float>(), mean.data<float>(), rstd.data<float>(), xc.data<float>(),
                              w.defined() ? w.data<float>() : nullptr,
                              b.defined() ? b.data<float>() : nullptr, rows, cols,
                              static_cast<float>(eps));
  if (autograd::needs_grad({&x, &weight, &bias})) {
    autograd::record("layer_norm", out, {x, weight, bias},
                     [xc, w, mean, rstd, rows, cols, normalized_shape](const Tensor& g,
                                                                       const std::vector<bool>& need) {
                       Tensor gc = g.contiguous();
                       Tensor dx = need[0] ? empty(xc.shape(), kFloat32) : Tensor();
                       Tensor dw = need[1] ? empty(normalized_shape, kFloat32) : Tensor();
                       Tensor db = need[2] ? empty(normalized_shape, kFloat32) : Tensor();
                       kernels::layer_norm_backward(
                           dx.defined() ? dx.data<float>() : nullptr,
                           dw.defined() ? dw.data<float>() : nullptr,
                           db.defined() ? db.data<float>() : nullptr, gc.data<float>(), xc.data<float>(),
                           mean.data<float>(), rstd.data<float>(), w.defined() ? w.data<float>() : nullptr,
                           rows, cols);
                       return std::vector<Tensor>{dx, dw, db};
                     });
  }
  return out;
}

}  // namespace attnkit
