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

// While one is alive on this thread, the random initialisers above leave
// their tensor untouched (zeros_ and ones_ still run): for building a model
// whose every weight is about to be overwritten by a checkpoint, where
// drawing GPT-2's 124M random numbers first would cost a second for nothing.
class SkipRandomInitGuard {
 public:
  SkipRandomInitGuard();
  ~SkipRandomInitGuard();
  SkipRandomInitGuard(const SkipRandomInitGuard&) = delete;
  SkipRandomInitGuard& operator=(const SkipRandomInitGuard&) = delete;
};

}  // namespace attnkit::nn::init
