#include "attnkit/ops/dropout.h"

#include <memory>
#include <vector>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/elementwise.h"
#include "kernels/philox_dropout.h"

namespace attnkit {

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  AK_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got ", p);
  AK_CHECK(is_floating(x.dtype()), "dropout: expected a floating point tensor, got ", dtype_name(x.dtype()));
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  // Element i is kept when the i-th uniform of the stream (as rand(x.shape())
  // would draw it) is >= p, and scaled by 1 / (1 - p). The mask is never a
  // float tensor: the kernel draws it while it writes the output, and keeps
  // one bit per element for the backward when a gradient is wanted.
  Generator& gen = generator ? *generator : current_generator();
  const auto [seed, first] = gen.reserve(static_cast<uint64_t>((x.numel() + 3) / 4));
  kernels::PhiloxDropout stream;
  stream.seed = seed;
  stream.first_block = first;
  stream.p = static_cast<float>(p);
  stream.scale = static_cast<float>(1.0 / (1.0 - p));
  const bool wants_grad = autograd::needs_grad({&x});
  auto keep_bits = std::make_shared<std::vector<uint8_t>>(wants_grad ? (x.numel() + 7) / 8 : 0, uint8_t{0});
  Tensor out;
  {
    NoGradGuard no_grad;
    const Tensor in = x.to(kFloat32).contiguous();
    out = empty(in.shape(), kFloat32);
    kernels::philox_dropout(stream, in.data<float>(), out.data<float>(), in.numel(),
                            wants_grad ? keep_bits->data() : nullptr);
    if (x.dtype() != kFloat32) out = out.to(x.dtype());
  }
  if (wants_grad) {
    const float scale = stream.scale;
    autograd::record("dropout", out, {x}, [keep_bits, scale](const Tensor& g, const std::vector<bool>&) {
      const Tensor gc = g.to(kFloat32).contiguous();
      Tensor dx = empty(gc.shape(), kFloat32);
      kernels::apply_keep_bits(keep_bits->data(), scale, gc.data<float>(), dx.data<float>(), gc.numel());
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

}  // namespace attnkit
