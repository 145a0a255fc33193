#pragma once
// BERT (Devlin et al. 2019), as transformers' BertModel and BertForMaskedLM,
// which also covers BERT-architecture models such as MiniLM: token, position
// and segment embeddings, then num_hidden_layers post-norm encoder layers
// (bidirectional self-attention), an optional pooler, and the masked-LM head.
//
//   ids (B, L) ─ word + position + token_type, LayerNorm ─
//       [ x = LN(x + attn(x));  x = LN(x + W2 act(W1 x)) ] × N ─ hidden (B, L, H)
//   pooler: tanh(W hidden[:, 0])                                 pooled (B, H)
//   MLM:    decoder(LN(act(W hidden))) + bias                    logits (B, L, V)
//
// Parameter names are transformers' ("encoder.layer.0.attention.self.query
// .weight"), so Hugging Face folders load with from_pretrained.
//
// Padding costs nothing: with an attention_mask, only real tokens go through
// the layers (packed one after another) and each sequence attends over its
// own tokens, which is what transformers computes for them with its additive
// mask. Hidden states at padding positions, which transformers fills with
// values nobody should read, are zeros here.
//
// Not modelled: dropout, relative position embeddings, cross attention.

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "attnkit/core/rng.h"
#include "attnkit/models/attention_capture.h"
#include "attnkit/models/hf_config.h"
#include "attnkit/nn/layer_norm.h"
#include "attnkit/nn/linear.h"
#include "attnkit/nn/module.h"
#include "attnkit/nn/module_list.h"

namespace attnkit::models {

// Real tokens of a padded batch laid end to end: row r of a packed tensor is
// token positions[r] of sequence `sequence_of[r]`.
struct PackedBatch {
  int64_t batch = 0, length = 0;      // the padded shape (B, L)
  std::vector<int64_t> offsets;       // (B + 1): sequence b is rows offsets[b] .. offsets[b + 1]
  Tensor flat_index;                  // (T) int64: b * L + position, for gathering from (B·L, ...)
  Tensor positions;                   // (T) int64: the position within its sequence
  int64_t tokens() const { return offsets.back(); }
  int64_t length_of(int64_t b) const { return offsets[b + 1] - offsets[b]; }
};

// Packs by attention_mask (B, L), nonzero = a real token (undefined = all real).
PackedBatch pack_batch(const Tensor& attention_mask, int64_t batch, int64_t length);
// Packs sequences of these lengths, each starting at position 0 (L = the longest).
PackedBatch pack_lengths(const std::vector<int64_t>& lengths);

class BertEmbeddings : public nn::Module {
 public:
  BertEmbeddings(const BertConfig& config, Generator* generator);
  std::string name() const override { return "BertEmbeddings"; }
  // ids, token types and positions of T tokens (T) -> (T, H).
  Tensor forward(const Tensor& ids, const Tensor& token_types, const Tensor& positions) const;

  Tensor word_embeddings, position_embeddings, token_type_embeddings;  // (V, H), (P, H), (types, H)
  std::shared_ptr<nn::LayerNorm> LayerNorm;
};

class BertLayer : public nn::Module {
 public:
  BertLayer(const BertConfig& config, Generator* generator);
  std::string name() const override { return "BertLayer"; }
  // Packed tokens x (T, H) -> (T, H); appends the chosen heads' weights,
  // (B, len(heads), L, L) zero-padded, when `heads` is given.
  Tensor forward(const Tensor& x, const PackedBatch& packed, const std::vector<int64_t>* heads,
                 std::vector<Tensor>* captured) const;

  std::shared_ptr<nn::Linear> query, key, value, attention_output, intermediate, output;
  std::shared_ptr<nn::LayerNorm> attention_norm, output_norm;
  int64_t heads_count, head_dim;
  std::string activation;
};

struct BertOutput {
  Tensor last_hidden_state;  // (B, L, H), zeros at padding
  Tensor pooler_output;      // (B, H) if the model has a pooler
};

class BertModel : public nn::Module {
 public:
  // Weights initialised as transformers does (normal, std 0.02).
  explicit BertModel(const BertConfig& config, bool add_pooling_layer = true, Generator* generator = nullptr);
  std::string name() const override { return "BertModel"; }

  // input_ids (B, L) int64; attention_mask (B, L) nonzero = real token;
  // token_type_ids (B, L) (undefined = zeros). Undefined tensors are defaults.
  BertOutput forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                     const Tensor& token_type_ids = Tensor(), AttentionCapture* capture = nullptr) const;

  // The last hidden state (T, H) of packed tokens: ids and token types (T)
  // int64, laid out as `packed` says.
  Tensor encode_packed(const Tensor& packed_ids, const Tensor& packed_types, const PackedBatch& packed,
                       AttentionCapture* capture = nullptr) const;
  // Validates padded inputs (B, L) as forward does, packs them, and gathers
  // their real tokens' ids and types: (packed, ids (T), types (T)).
  std::tuple<PackedBatch, Tensor, Tensor> pack_inputs(const Tensor& input_ids, const Tensor& attention_mask,
                                                      const Tensor& token_type_ids, const char* op) const;

  // From a Hugging Face folder of a BertModel (or of a BertFor... model, whose
  // "bert." weights it takes; a missing pooler is left out).
  static std::shared_ptr<BertModel> from_pretrained(const std::string& folder);

  BertConfig config;
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<nn::ModuleList<BertLayer>> layers;  // "encoder.layer.N"
  std::shared_ptr<nn::Linear> pooler;                // "pooler.dense", or null
};

class BertForMaskedLM : public nn::Module {
 public:
  explicit BertForMaskedLM(const BertConfig& config, Generator* generator = nullptr);
  std::string name() const override { return "BertForMaskedLM"; }

  // Logits (B, L, vocab_size) for every position (zeros at padding).
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                 const Tensor& token_type_ids = Tensor(), AttentionCapture* capture = nullptr) const;
  // hidden (..., H) -> logits (..., V).
  Tensor predict(const Tensor& hidden) const;

  static std::shared_ptr<BertForMaskedLM> from_pretrained(const std::string& folder);

  std::shared_ptr<BertModel> bert;  // without pooler
  std::shared_ptr<nn::Linear> transform;  // "cls.predictions.transform.dense"
  std::shared_ptr<nn::LayerNorm> transform_norm;
  Tensor decoder_weight;  // (V, H): bert's word embeddings when tied
  Tensor decoder_bias;    // "cls.predictions.bias" (V)
};

}  // namespace attnkit::models
