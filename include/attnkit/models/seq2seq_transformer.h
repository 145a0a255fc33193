#pragma once
// A sequence-to-sequence Transformer over token ids, as in "Attention Is All
// You Need" (Vaswani et al. 2017): token embeddings scaled by √d_model plus
// sinusoidal positions, an nn::Transformer (batch first), and a linear layer
// from the decoder's output to next-token logits.
//
//   src (N, S) int64 ─ embed·√d + PE ─ encoder ─────────────┐ memory (N, S, d)
//   tgt (N, T) int64 ─ embed·√d + PE ─ decoder (causal) ─────┴─ generator ─ logits (N, T, V)
//
// Source positions holding the pad id are masked out of every attention
// that reads the source, so a sentence's translation does not depend on
// how much padding its batch needed.
#include <cstdint>
#include <memory>
#include <vector>

#include "attnkit/core/rng.h"
#include "attnkit/decoding/search.h"
#include "attnkit/nn/embedding.h"
#include "attnkit/nn/linear.h"
#include "attnkit/nn/module.h"
#include "attnkit/nn/positional_encoding.h"
#include "attnkit/nn/transformer.h"

namespace attnkit::models {

struct Seq2SeqTransformerOptions {
  int64_t src_vocab = 0, tgt_vocab = 0;  // required
  int64_t pad = 0;                       // the padding token of both vocabularies
  int64_t d_model = 128;
  int64_t nhead = 4;
  int64_t num_encoder_layers = 2;
  int64_t num_decoder_layers = 2;
  int64_t dim_feedforward = 512;
  double dropout = 0.1;
  bool norm_first = true;  // pre-norm: steadier at high learning rates
  int64_t max_len = 512;   // longest source or target
};

class Seq2SeqTransformer : public nn::Module {
 public:
  explicit Seq2SeqTransformer(const Seq2SeqTransformerOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "Seq2SeqTransformer"; }

  // Teacher-forced logits: src (N, S), tgt (N, T) int64 -> (N, T, tgt_vocab).
  Tensor forward(const Tensor& src, const Tensor& tgt) const;
  // The encoder's output, memory (N, S, d_model).
  Tensor encode(const Tensor& src) const;
  // Logits (N, T, tgt_vocab) of tgt given the memory of src (its padding
  // masked).
  Tensor decode(const Tensor& tgt, const Tensor& memory, const Tensor& src,
               std::vector<Tensor>* cross_weights = nullptr) const;

  // Batched greedy or beam decoding of src (N, S): for each row the tokens
  // after bos, ending with eos unless max_length stopped them.
  std::vector<std::vector<int64_t>> translate(const Tensor& src, const decoding::SearchOptions& search,
                                              bool beam = false) const;

  // The decoder's cross-attention while reading tgt (N, T) (teacher forced,
  // typically bos + a translation) against src (N, S): one tensor per decoder
  // layer, (N, T, S), averaged over heads. Row t is where the decoder looked
  // to predict token t + 1 of tgt.
  std::vector<Tensor> cross_attention(const Tensor& src, const Tensor& tgt) const;

  std::shared_ptr<nn::Embedding> src_embed, tgt_embed;
  std::shared_ptr<nn::SinusoidalPositionalEncoding> positions;
  std::shared_ptr<nn::Transformer> transformer;
  std::shared_ptr<nn::Linear> generator;
  Seq2SeqTransformerOptions options;

 private:
  Tensor embed(const nn::Embedding& table, const Tensor& tokens) const;  // (N, L) -> (N, L, d)
  Tensor source_padding(const Tensor& src) const;                        // (N, S) bool, true at pad
};

}  // namespace attnkit::models
