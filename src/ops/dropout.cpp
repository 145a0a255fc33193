#include "attnkit/ops/dropout.h"

#include "attnkit/core/autograd.h"
#include "attnkit/ops/elementwise.h"

namespace attnkit {

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  AK_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got ", p);
  AK_CHECK(is_floating(x.dtype()), "dropout: expected a floating point tensor, got ", dtype_name(x.dtype()));
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  // mask[i] = keep ? 1 / (1 - p) : 0, one uniform draw per element.
  Tensor mask;
  {
    NoGradGuard no_grad;
    Tensor u = rand(x.shape(), generator);
    mask = empty(x.shape(), kFloat32);
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    const float threshold = static_cast<float>(p);
    const float* pu = u.data<float>();
    float* pm = mask.data<float>();
    const int64_t n = mask.numel();
#pragma omp parallel for schedule(static) if (n > (1 << 15))
    for (int64_t i = 0; i < n; ++i) pm[i] = pu[i] >= threshold ? scale : 0.0f;
  }
  return mul(x, mask);  // mul records d/dx = mask
}

}  // namespace attnkit
