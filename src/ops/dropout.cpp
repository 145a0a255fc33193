#include "attnkit/ops/dropout.h"

#include "attnkit/core/autograd.h"
#include "attnkit/ops/elementwise.h"
#include "kernels/philox_dropout.h"

namespace attnkit {

namespace {

// out = x · mask for a contiguous float32 x, the mask drawn from `stream`.
Tensor apply_mask(const Tensor& x, const kernels::PhiloxDropout& stream) {
  const Tensor in = x.contiguous();
  Tensor out = empty(in.shape(), kFloat32);
  kernels::philox_dropout(stream, in.data<float>(), out.data<float>(), in.numel());
  return out;
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  AK_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got ", p);
  AK_CHECK(is_floating(x.dtype()), "dropout: expected a floating point tensor, got ", dtype_name(x.dtype()));
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  // Element i is kept when the i-th uniform of the stream (as rand(x.shape())
  // would draw it) is >= p, and scaled by 1 / (1 - p). The backward pass
  // draws the same mask again from the stream instead of storing it.
  Generator& gen = generator ? *generator : default_generator();
  const auto [seed, first] = gen.reserve(static_cast<uint64_t>((x.numel() + 3) / 4));
  kernels::PhiloxDropout stream;
  stream.seed = seed;
  stream.first_block = first;
  stream.p = static_cast<float>(p);
  stream.scale = static_cast<float>(1.0 / (1.0 - p));
  Tensor out;
  {
    NoGradGuard no_grad;
    out = apply_mask(x.to(kFloat32), stream);
    if (x.dtype() != kFloat32) out = out.to(x.dtype());
  }
  if (autograd::needs_grad({&x})) {
    autograd::record("dropout", out, {x}, [stream](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{apply_mask(g.to(kFloat32), stream)};
    });
  }
  return out;
}

}  // namespace attnkit
