#include "attnkit/nn/transformer.h"

#include <limits>

#include "attnkit/core/error.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"

namespace attnkit::nn {

namespace {

std::shared_ptr<MultiheadAttention> make_attention(const TransformerLayerOptions& o, Generator* generator) {
  MultiheadAttentionOptions a;
  a.embed_dim = o.d_model;
  a.num_heads = o.nhead;
  a.dropout = o.dropout;
  a.bias = o.bias;
  a.batch_first = o.batch_first;
  return std::make_shared<MultiheadAttention>(a, generator);
}

std::shared_ptr<LayerNorm> make_norm(const TransformerLayerOptions& o) {
  return std::make_shared<LayerNorm>(Shape{o.d_model}, o.layer_norm_eps, true, o.bias);
}

void check_options(const TransformerLayerOptions& o, const char* who) {
  AK_CHECK(o.d_model > 0 && o.nhead > 0 && o.dim_feedforward > 0, who,
           ": d_model, nhead and dim_feedforward must be positive, got ", o.d_model, ", ", o.nhead, " and ",
           o.dim_feedforward);
}

// Attention sub-block: attention(x, kv, kv) then dropout.
Tensor attend(const MultiheadAttention& attention, const Dropout& drop, const Tensor& x, const Tensor& kv,
              const Tensor& mask, const Tensor& padding, bool is_causal, Tensor* weights = nullptr) {
  MultiheadAttentionCall call;
  call.attn_mask = mask;
  call.key_padding_mask = padding;
  call.is_causal = is_causal && !mask.defined();
  call.need_weights = weights != nullptr;
  MultiheadAttentionOutput out = attention.forward(x, kv, kv, call);
  if (weights) *weights = out.weights;
  return drop.forward(out.output);
}

}  // namespace

Tensor generate_square_subsequent_mask(int64_t size) {
  AK_CHECK(size >= 0, "generate_square_subsequent_mask: size must be non-negative, got ", size);
  Tensor above = gt(arange(static_cast<double>(size)).unsqueeze(0), arange(static_cast<double>(size)).unsqueeze(1));
  return masked_fill(zeros({size, size}), above, -std::numeric_limits<double>::infinity());
}

// ---- encoder layer ----

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerOptions& o, Generator* generator)
    : options(o) {
  check_options(o, "TransformerEncoderLayer");
  // torch's registration order, so state dicts list the same keys in the same order.
  self_attn = register_module("self_attn", make_attention(o, generator));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward, o.bias, generator));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model, o.bias, generator));
  norm1 = register_module("norm1", make_norm(o));
  norm2 = register_module("norm2", make_norm(o));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const TransformerMasks& m) const {
  auto sa = [&](const Tensor& x) {
    return attend(*self_attn, *dropout1, x, x, m.src_mask, m.src_key_padding_mask, m.src_is_causal);
  };
  auto ff = [&](const Tensor& x) {
    return dropout2->forward(feed_forward(x, *linear1, *dropout, *linear2, options.activation));
  };
  Tensor x = src;
  if (options.norm_first) {
    x = add(x, sa(norm1->forward(x)));
    return add(x, ff(norm2->forward(x)));
  }
  x = norm1->forward(add(x, sa(x)));
  return norm2->forward(add(x, ff(x)));
}

// ---- decoder layer ----

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerOptions& o, Generator* generator)
    : options(o) {
  check_options(o, "TransformerDecoderLayer");
  self_attn = register_module("self_attn", make_attention(o, generator));
  multihead_attn = register_module("multihead_attn", make_attention(o, generator));
  linear1 = register_module("linear1", std::make_shared<Linear>(o.d_model, o.dim_feedforward, o.bias, generator));
  dropout = register_module("dropout", std::make_shared<Dropout>(o.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, o.d_model, o.bias, generator));
  norm1 = register_module("norm1", make_norm(o));
  norm2 = register_module("norm2", make_norm(o));
  norm3 = register_module("norm3", make_norm(o));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(o.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(o.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(o.dropout));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const TransformerMasks& m,
                                       Tensor* cross_weights) const {
  auto sa = [&](const Tensor& x) {
    return attend(*self_attn, *dropout1, x, x, m.tgt_mask, m.tgt_key_padding_mask, m.tgt_is_causal);
  };
  auto ca = [&](const Tensor& x) {
    Tensor weights;
    const bool want_weights = keep_attention || cross_weights;
    Tensor out = attend(*multihead_attn, *dropout2, x, memory, m.memory_mask, m.memory_key_padding_mask,
                        m.memory_is_causal, want_weights ? &weights : nullptr);
    if (cross_weights) *cross_weights = weights;
    if (keep_attention) cross_attention = weights;
    return out;
  };
  auto ff = [&](const Tensor& x) {
    return dropout3->forward(feed_forward(x, *linear1, *dropout, *linear2, options.activation));
  };
  Tensor x = tgt;
  if (options.norm_first) {
    x = add(x, sa(norm1->forward(x)));
    x = add(x, ca(norm2->forward(x)));
    return add(x, ff(norm3->forward(x)));
  }
  x = norm1->forward(add(x, sa(x)));
  x = norm2->forward(add(x, ca(x)));
  return norm3->forward(add(x, ff(x)));
}

// ---- stacks ----

TransformerEncoder::TransformerEncoder(const TransformerLayerOptions& layer, int64_t num_layers, bool final_norm,
                                       Generator* generator) {
  AK_CHECK(num_layers >= 0, "TransformerEncoder: num_layers must be non-negative, got ", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList<TransformerEncoderLayer>>());
  for (int64_t i = 0; i < num_layers; ++i) layers->push_back(std::make_shared<TransformerEncoderLayer>(layer, generator));
  if (final_norm) norm = register_module("norm", make_norm(layer));
}

Tensor TransformerEncoder::forward(const Tensor& src, const TransformerMasks& masks) const {
  Tensor x = src;
  for (const auto& layer : layers->items()) x = layer->forward(x, masks);
  return norm ? norm->forward(x) : x;
}

TransformerDecoder::TransformerDecoder(const TransformerLayerOptions& layer, int64_t num_layers, bool final_norm,
                                       Generator* generator) {
  AK_CHECK(num_layers >= 0, "TransformerDecoder: num_layers must be non-negative, got ", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList<TransformerDecoderLayer>>());
  for (int64_t i = 0; i < num_layers; ++i) layers->push_back(std::make_shared<TransformerDecoderLayer>(layer, generator));
  if (final_norm) norm = register_module("norm", make_norm(layer));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const TransformerMasks& masks,
                                  std::vector<Tensor>* cross_weights) const {
  Tensor x = tgt;
  for (const auto& layer : layers->items()) {
    Tensor weights;
    x = layer->forward(x, memory, masks, cross_weights ? &weights : nullptr);
    if (cross_weights) cross_weights->push_back(weights);
  }
  return norm ? norm->forward(x) : x;
}

// ---- the whole model ----

Transformer::Transformer(const TransformerOptions& o, Generator* generator) : options(o) {
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(o.layer, o.num_encoder_layers, true,
                                                                             generator));
  decoder = register_module("decoder", std::make_shared<TransformerDecoder>(o.layer, o.num_decoder_layers, true,
                                                                             generator));
  // As torch: Xavier-uniform for every matrix, after the layers' own init.
  for (Tensor& p : parameters()) {
    if (p.dim() > 1) init::xavier_uniform_(p, 1.0, generator);
  }
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const TransformerMasks& masks) const {
  const int64_t batch_dim = options.layer.batch_first ? 0 : 1;
  AK_CHECK(src.dim() == tgt.dim(), "Transformer: src and tgt must both be batched or both unbatched, got shapes ",
           shape_str(src.shape()), " and ", shape_str(tgt.shape()));
  AK_CHECK(src.dim() != 3 || src.size(batch_dim) == tgt.size(batch_dim),
           "Transformer: the batch number of src and tgt must be equal, got ", src.size(batch_dim), " and ",
           tgt.size(batch_dim));
  AK_CHECK(src.size(-1) == options.layer.d_model && tgt.size(-1) == options.layer.d_model,
           "Transformer: the feature number of src and tgt must be equal to d_model (", options.layer.d_model,
           "), got ", src.size(-1), " and ", tgt.size(-1));
  return decode(tgt, encode(src, masks), masks);
}

}  // namespace attnkit::nn
