#include "attnkit/ops/softmax.h"

#include "attnkit/core/autograd.h"
#include "kernels/softmax.h"

namespace attnkit {

namespace {

// Moves `dim` last and makes the data contiguous rows.
Tensor rows_along(const Tensor& x, int64_t dim) {
  return x.transpose(dim, -1).contiguous();
}

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log, const char* op) {
  AK_CHECK(is_floating(x.dtype()), op, ": expected a floating point tensor, got ", dtype_name(x.dtype()));
  dim = wrap_dim(dim, x.dim(), op);
  const bool is_last = x.dim() == 0 || dim == x.dim() - 1;
  Tensor out;
  Tensor rows_out;
  {
    NoGradGuard no_grad;
    Tensor xf = x.detach().to(kFloat32);
    Tensor rows = is_last ? xf.contiguous() : rows_along(xf, dim);
    rows_out = empty(rows.shape(), kFloat32);
    const int64_t cols = x.dim() == 0 ? 1 : x.size(dim);
    kernels::softmax_forward(rows_out.data<float>(), rows.data<float>(), cols ? rows.numel() / cols : 0,
                             cols, log);
    out = is_last ? rows_out : rows_out.transpose(dim, -1).contiguous();
  }
  if (autograd::needs_grad({&x})) {
    // rows layout; detached, or `out` (== rows_out when is_last) would own itself
    Tensor y = rows_out.detach();
    autograd::record(op, out, {x}, [y, dim, is_last, log](const Tensor& g, const std::vector<bool>&) {
      Tensor g_rows = is_last ? g.contiguous() : rows_along(g, dim);
      Tensor dx = empty(g_rows.shape(), kFloat32);
      const int64_t cols = g.dim() == 0 ? 1 : g.size(dim);
      kernels::softmax_backward(dx.data<float>(), g_rows.data<float>(), y.data<float>(),
                                cols ? dx.numel() / cols : 0, cols, log);
      return std::vector<Tensor>{is_last ? dx : dx.transpose(dim, -1).contiguous()};
    });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true, "log_softmax"); }

}  // namespace attnkit
