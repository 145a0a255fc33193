#pragma once
// Parameter initialisation in place, as torch.nn.init (same bounds and
// fans), drawing from a Generator (the default one if null).

#include "attnkit/core/rng.h"
#include "attnkit/core/tensor.h"

namespace attnkit::nn::init {

void uniform_(Tensor& t, double low, double high, Generator* generator = nullptr);
void normal_(Tensor& t, double mean, double std, Generator* generator = nullptr);
void zeros_(Tensor& t);
void ones_(Tensor& t);

// fan_in = size(1) · receptive field, fan_out = size(0) · receptive field
// (receptive field = product of the sizes after the first two).
struct Fans {
  int64_t in, out;
};
Fans fans(const Tensor& t);

// U(-b, b), b = gain · √(6 / (fan_in + fan_out))
void xavier_uniform_(Tensor& t, double gain = 1.0, Generator* generator = nullptr);
// N(0, s²), s = gain · √(2 / (fan_in + fan_out))
void xavier_normal_(Tensor& t, double gain = 1.0, Generator* generator = nullptr);
// U(-b, b), b = √(2 / (1 + a²)) · √(3 / fan_in): leaky-ReLU gain, fan_in mode
// (what torch.nn.Linear uses with a = √5, giving b = 1 / √fan_in).
void kaiming_uniform_(Tensor& t, double a = 0.0, Generator* generator = nullptr);

}  // namespace attnkit::nn::init
