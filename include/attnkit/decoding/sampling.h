#pragma once
// Choosing the next token from a language model's logits, as Hugging Face's
// generate() does: the logits go through the repetition penalty, then the
// temperature, top-k and top-p warpers, in that order, and the token is the
// argmax (greedy) or a draw from the softmax of what is left (sampling).
//
//   repetition_penalty θ (Keskar et al. 2019): a token already in the
//       sequence has its logit divided by θ if positive, multiplied if negative
//   temperature τ: logits / τ
//   top_k k: only the k largest logits stay (ties at the k-th all stay)
//   top_p p (Holtzman et al. 2020): the smallest set of most likely tokens
//       whose probabilities sum to at least p stays (at least one token)
//
// Sampling draws from a generator seeded by `seed`, so a seed gives the same
// tokens on every run and every thread count.

#include <cstdint>
#include <random>
#include <vector>

namespace attnkit::decoding {

struct SamplingOptions {
  bool do_sample = false;  // false: greedy (the warpers do not change the argmax, so they are skipped)
  double temperature = 1.0;
  int64_t top_k = 50;      // 0 = off (Hugging Face's default is 50)
  double top_p = 1.0;      // 1 = off
  double repetition_penalty = 1.0;  // 1 = off
  uint64_t seed = 0;
};

// Throws attnkit::ValueError naming the option when one is out of range
// (temperature <= 0, top_p outside (0, 1], top_k < 0, penalty <= 0).
void check_sampling_options(const SamplingOptions& options);

// One sampler per sequence (it owns its random engine): not to be shared
// between threads.
class TokenSampler {
 public:
  explicit TokenSampler(const SamplingOptions& options);

  // The next token given the logits over the vocabulary (modified in place:
  // penalised and warped) and the tokens of the sequence so far.
  int64_t next(std::vector<float>& logits, const std::vector<int64_t>& sequence);

 private:
  SamplingOptions options_;
  std::mt19937_64 engine_;
};

}  // namespace attnkit::decoding
