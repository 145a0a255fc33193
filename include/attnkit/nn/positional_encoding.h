#pragma once
// Position information added to token embeddings (the Transformer has no
// recurrence to order its inputs):
//
//   SinusoidalPositionalEncoding  PE(p, 2i) = sin(p / 10000^(2i/d)),
//                                 PE(p, 2i+1) = cos(p / 10000^(2i/d))
//                                 (Vaswani 2017 §3.5), a fixed buffer "pe"
//   LearnedPositionalEncoding     a trained (max_len, d) table "weight"
//                                 (as GPT and BERT)
//
// forward(x) returns dropout(x + PE[positions]) with x (L, N, d), or
// (N, L, d) with batch_first; positions start at `offset` (for decoding one
// step at a time).

#include "attnkit/core/rng.h"
#include "attnkit/nn/dropout.h"
#include "attnkit/nn/module.h"

namespace attnkit::nn {

class SinusoidalPositionalEncoding : public Module {
 public:
  SinusoidalPositionalEncoding(int64_t d_model, int64_t max_len = 5000, double dropout = 0.0,
                               bool batch_first = false, Generator* generator = nullptr);
  std::string name() const override { return "SinusoidalPositionalEncoding"; }

  Tensor forward(const Tensor& x, int64_t offset = 0) const;

  Tensor pe;  // (max_len, d_model)
  std::shared_ptr<Dropout> dropout;
  bool batch_first;
};

class LearnedPositionalEncoding : public Module {
 public:
  LearnedPositionalEncoding(int64_t d_model, int64_t max_len, double dropout = 0.0, bool batch_first = false,
                            Generator* generator = nullptr);
  std::string name() const override { return "LearnedPositionalEncoding"; }

  Tensor forward(const Tensor& x, int64_t offset = 0) const;

  Tensor weight;  // (max_len, d_model) ~ N(0, 0.02²)
  std::shared_ptr<Dropout> dropout;
  bool batch_first;
};

}  // namespace attnkit::nn
