#pragma once
// Hard attention (SPEC A7; Xu et al. 2015, "Show, Attend and Tell"): attend
// to one position instead of a weighted mix.
//
// Which one trains, and how:
// - mode Argmax / Sample: the choice itself has no gradient. The read-out
//   passes gradients to the chosen value only; the score function learns
//   through `log_prob` with REINFORCE (Williams 1992): add
//   -(reward - baseline) * log_prob to the loss, with a baseline (e.g. a
//   running mean of rewards) to cut the variance. Unbiased, but noisy; use
//   Sample during training so that every position gets explored, Argmax at
//   test time.
// - gumbel_softmax with hard = true (Jang et al. 2017): the forward pass uses
//   the one-hot of argmax(log α + Gumbel noise), the backward pass the
//   gradient of softmax((log α + noise) / τ) (straight-through). Low variance
//   and trains with plain backprop, but biased; lower τ is closer to a true
//   one-hot and noisier.

#include "attnkit/core/rng.h"
#include "attnkit/functional/attention.h"

namespace attnkit::functional {

enum class HardMode { Argmax, Sample };

struct HardAttentionOutput {
  Tensor output;    // (..., M, Dv) the chosen value row (zeros where nothing can be attended)
  Tensor index;     // (..., M) int64, the chosen key
  Tensor log_prob;  // (..., M) log α at the choice, differentiable (REINFORCE); 0 where nothing can be attended
  Tensor weights;   // (..., M, N) the distribution α the choice came from
};

// query (..., M, Dq), key (..., N, Dk), value (..., N, Dv) or undefined
// (plain mode); mask as in attention(). Sample draws from α with the
// counter-based generator (the default one if null).
HardAttentionOutput hard_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const ScoreFn& score, const Tensor& mask = Tensor(),
                                   HardMode mode = HardMode::Argmax, Generator* generator = nullptr);

// torch.nn.functional.gumbel_softmax over the last dim: softmax((logits + g)
// / tau) with g = -log(-log(u)), u ~ U(0, 1) drawn as rand(logits.shape())
// from the generator; with hard, the straight-through one-hot of its argmax.
Tensor gumbel_softmax(const Tensor& logits, double tau = 1.0, bool hard = false,
                      Generator* generator = nullptr);

}  // namespace attnkit::functional
