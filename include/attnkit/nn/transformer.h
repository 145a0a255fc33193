#pragma once
// The Transformer of "Attention Is All You Need" (Vaswani et al. 2017), as
// torch.nn's TransformerEncoderLayer, TransformerDecoderLayer,
// TransformerEncoder, TransformerDecoder and Transformer: the same options
// and defaults, the same forward arguments, and the same parameter names
// ("encoder.layers.0.self_attn.in_proj_weight", ...), so a PyTorch
// state_dict loads unchanged.
//
//   post-norm (norm_first = false):  x = norm1(x + SA(x));   x = norm2(x + FF(x))
//   pre-norm  (norm_first = true):   x = x + SA(norm1(x));   x = x + FF(norm2(x))
//
// The decoder layer adds cross-attention over the encoder's output (the
// memory) between the two. Masks follow MultiheadAttention's convention:
// bool true or float -inf = may not attend.
//
// Differences from PyTorch: the layers of TransformerEncoder/Decoder are
// built independently (PyTorch deep-copies one layer, so they start equal);
// a fully masked query gives zeros, not NaN.

#include <memory>

#include "attnkit/core/rng.h"
#include "attnkit/nn/dropout.h"
#include "attnkit/nn/feed_forward.h"
#include "attnkit/nn/layer_norm.h"
#include "attnkit/nn/linear.h"
#include "attnkit/nn/module.h"
#include "attnkit/nn/module_list.h"
#include "attnkit/nn/multihead_attention.h"

namespace attnkit::nn {

struct TransformerLayerOptions {
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  Activation activation = Activation::Relu;
  double layer_norm_eps = 1e-5;
  bool batch_first = false;  // (N, L, E) instead of (L, N, E)
  bool norm_first = false;   // pre-norm instead of post-norm
  bool bias = true;          // in the linear layers and the layer norms
};

// Every mask a Transformer call can take; each layer reads its own.
struct TransformerMasks {
  Tensor src_mask, tgt_mask, memory_mask;  // (L, S) or (N·nhead, L, S)
  Tensor src_key_padding_mask, tgt_key_padding_mask, memory_key_padding_mask;  // (N, S)
  bool src_is_causal = false, tgt_is_causal = false, memory_is_causal = false;
};

// A float (size, size) mask with -inf above the diagonal and 0 elsewhere,
// as nn.Transformer.generate_square_subsequent_mask.
Tensor generate_square_subsequent_mask(int64_t size);

class TransformerEncoderLayer : public Module {
 public:
  explicit TransformerEncoderLayer(const TransformerLayerOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "TransformerEncoderLayer"; }

  Tensor forward(const Tensor& src, const TransformerMasks& masks = {}) const;

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout1, dropout2;
  TransformerLayerOptions options;
};

class TransformerDecoderLayer : public Module {
 public:
  explicit TransformerDecoderLayer(const TransformerLayerOptions& options, Generator* generator = nullptr);
  std::string name() const override { return "TransformerDecoderLayer"; }

  // With `cross_weights`, the cross-attention weights averaged over heads,
  // (N, L, S), are put there.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const TransformerMasks& masks = {},
                 Tensor* cross_weights = nullptr) const;

  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
  std::shared_ptr<Dropout> dropout1, dropout2, dropout3;
  TransformerLayerOptions options;

  // With keep_attention set, each forward keeps the cross-attention weights
  // averaged over heads, (N, L, S), in cross_attention: for looking at
  // where the decoder read. This writes the layer, so it is for a layer one
  // thread uses; forward's cross_weights argument returns the same weights
  // without touching the layer.
  bool keep_attention = false;
  mutable Tensor cross_attention;
};

class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerLayerOptions& layer, int64_t num_layers, bool final_norm,
                     Generator* generator = nullptr);
  std::string name() const override { return "TransformerEncoder"; }

  Tensor forward(const Tensor& src, const TransformerMasks& masks = {}) const;

  std::shared_ptr<ModuleList<TransformerEncoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;  // null without final_norm
};

class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerLayerOptions& layer, int64_t num_layers, bool final_norm,
                     Generator* generator = nullptr);
  std::string name() const override { return "TransformerDecoder"; }

  // With `cross_weights`, each layer's cross-attention weights (N, T, S),
  // averaged over heads, are appended there.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const TransformerMasks& masks = {},
                 std::vector<Tensor>* cross_weights = nullptr) const;

  std::shared_ptr<ModuleList<TransformerDecoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;
};

struct TransformerOptions {
  TransformerLayerOptions layer;  // d_model 512, nhead 8, dim_feedforward 2048, dropout 0.1, ...
  int64_t num_encoder_layers = 6;
  int64_t num_decoder_layers = 6;
};

class Transformer : public Module {
 public:
  explicit Transformer(const TransformerOptions& options = {}, Generator* generator = nullptr);
  std::string name() const override { return "Transformer"; }

  // src (S, N, E), tgt (T, N, E) ((N, ·, E) with batch_first) -> (T, N, E)
  Tensor forward(const Tensor& src, const Tensor& tgt, const TransformerMasks& masks = {}) const;
  Tensor encode(const Tensor& src, const TransformerMasks& masks = {}) const { return encoder->forward(src, masks); }
  Tensor decode(const Tensor& tgt, const Tensor& memory, const TransformerMasks& masks = {},
               std::vector<Tensor>* cross_weights = nullptr) const {
    return decoder->forward(tgt, memory, masks, cross_weights);
  }

  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
  TransformerOptions options;
};

}  // namespace attnkit::nn
