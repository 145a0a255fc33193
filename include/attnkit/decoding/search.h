#pragma once
// Sequence decoding for encoder-decoder and decoder-only models, batched:
// greedy search and beam search (with a length penalty), driven by a step
// function that scores the next token of many partial sequences at once.
//
//   step(tokens (R, t) int64, rows (R)) -> log-probabilities (R, V)
//
// Row r of `tokens` is a partial output of batch entry rows[r] (beam search
// runs several rows per entry); the model reads the entry's encoder output
// through rows[r]. Every sequence starts with `bos` and is finished by `eos`
// or max_length tokens (bos not counted).

#include <cstdint>
#include <functional>
#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit::decoding {

using StepFn = std::function<Tensor(const Tensor& tokens, const std::vector<int64_t>& rows)>;

struct SearchOptions {
  int64_t bos = 1, eos = 2;
  int64_t max_length = 32;
  int64_t beam_size = 4;        // beam search only
  double length_penalty = 1.0;  // beam score = log p / length^penalty (as Hugging Face); 0 = plain sum
};

// For each of `batch` entries the generated tokens, without bos, ending with
// eos unless max_length stopped them.
std::vector<std::vector<int64_t>> greedy_search(const StepFn& step, int64_t batch, const SearchOptions& options);
std::vector<std::vector<int64_t>> beam_search(const StepFn& step, int64_t batch, const SearchOptions& options);

}  // namespace attnkit::decoding
