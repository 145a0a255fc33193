#include "attnkit/models/bert.h"

#include <algorithm>
#include <cmath>

#include "activation.h"
#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/functional/scaled_dot_product_attention.h"
#include "attnkit/models/hf_checkpoint.h"
#include "attnkit/nn/embedding.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/embedding.h"
#include "attnkit/ops/join.h"
#include "attnkit/ops/linear.h"
#include "module_group.h"

namespace attnkit::models {

namespace {

constexpr double kInitStd = 0.02;  // transformers' initializer_range

std::shared_ptr<nn::Linear> normal_linear(int64_t in, int64_t out, Generator* generator) {
  auto layer = std::make_shared<nn::Linear>(in, out, true, generator);
  nn::init::normal_(layer->weight, 0.0, kInitStd, generator);
  nn::init::zeros_(layer->bias);
  return layer;
}

Tensor normal_embedding(nn::Module& parent, const std::string& name, int64_t rows, int64_t dim,
                        Generator* generator) {
  Tensor weight = parent.register_module(name, std::make_shared<nn::Embedding>(rows, dim, std::nullopt, generator))
                      ->weight;
  nn::init::normal_(weight, 0.0, kInitStd, generator);
  return weight;
}

// Int64 copy of an int tensor's values, row-major.
std::vector<int64_t> int_values(const Tensor& t) {
  const Tensor c = t.to(kInt64).contiguous();
  return std::vector<int64_t>(c.data<int64_t>(), c.data<int64_t>() + c.numel());
}

// input_ids and token_type_ids hold integers; an attention_mask may also be
// bool or float (nonzero = a real token), as transformers accepts.
void check_ids(const char* op, const Tensor& t, const char* what, const Shape& expected) {
  const bool is_mask = std::string(what) == "attention_mask";
  AK_CHECK(t.dtype() == kInt64 || t.dtype() == kInt32 || is_mask, op, ": ", what, " must hold integers, got ",
           dtype_name(t.dtype()));
  AK_CHECK(expected.empty() || t.shape() == expected, op, ": ", what, " must be ", shape_str(expected),
           " like input_ids, got ", shape_str(t.shape()));
}

// (B, L, ...) from packed rows (T, ...): padding positions get zeros.
Tensor unpack(const Tensor& packed_rows, const PackedBatch& packed) {
  const int64_t tokens = packed.tokens();
  Shape zero_shape = packed_rows.shape();
  zero_shape[0] = 1;
  // Row `tokens` of the extended matrix is the zero row every pad reads.
  const Tensor extended = cat({packed_rows, zeros(zero_shape)}, 0);
  std::vector<int64_t> index(packed.batch * packed.length, tokens);
  const std::vector<int64_t> flat = int_values(packed.flat_index);
  for (int64_t r = 0; r < tokens; ++r) index[flat[r]] = r;
  Shape out_shape = packed_rows.shape();
  out_shape[0] = packed.length;
  out_shape.insert(out_shape.begin(), packed.batch);
  return embedding(from_vector_i64(index, {packed.batch, packed.length}), extended.reshape({tokens + 1, -1}))
      .reshape(out_shape);
}

std::string strip_prefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}
bool starts_with(const std::string& name, const std::string& prefix) { return name.rfind(prefix, 0) == 0; }

}  // namespace

PackedBatch pack_batch(const Tensor& attention_mask, int64_t batch, int64_t length) {
  PackedBatch packed;
  packed.batch = batch;
  packed.length = length;
  packed.offsets.assign(1, 0);
  std::vector<int64_t> flat, positions;
  flat.reserve(batch * length);
  positions.reserve(batch * length);
  std::vector<int64_t> keep;
  if (attention_mask.defined()) keep = int_values(ne(attention_mask, 0.0));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < length; ++i) {
      if (!keep.empty() && keep[b * length + i] == 0) continue;
      flat.push_back(b * length + i);
      positions.push_back(i);
    }
    packed.offsets.push_back(static_cast<int64_t>(flat.size()));
  }
  packed.flat_index = from_vector_i64(flat, {static_cast<int64_t>(flat.size())});
  packed.positions = from_vector_i64(positions, {static_cast<int64_t>(positions.size())});
  return packed;
}

PackedBatch pack_lengths(const std::vector<int64_t>& lengths) {
  PackedBatch packed;
  packed.batch = static_cast<int64_t>(lengths.size());
  packed.length = lengths.empty() ? 0 : *std::max_element(lengths.begin(), lengths.end());
  packed.offsets.assign(1, 0);
  std::vector<int64_t> flat, positions;
  for (int64_t b = 0; b < packed.batch; ++b) {
    AK_CHECK(lengths[b] >= 0, "pack_lengths: a length must be >= 0, got ", lengths[b]);
    for (int64_t i = 0; i < lengths[b]; ++i) {
      flat.push_back(b * packed.length + i);
      positions.push_back(i);
    }
    packed.offsets.push_back(static_cast<int64_t>(flat.size()));
  }
  packed.flat_index = from_vector_i64(flat, {static_cast<int64_t>(flat.size())});
  packed.positions = from_vector_i64(positions, {static_cast<int64_t>(positions.size())});
  return packed;
}

// ---- embeddings ----

BertEmbeddings::BertEmbeddings(const BertConfig& config, Generator* generator) {
  word_embeddings = normal_embedding(*this, "word_embeddings", config.vocab_size, config.hidden_size, generator);
  position_embeddings =
      normal_embedding(*this, "position_embeddings", config.max_position_embeddings, config.hidden_size, generator);
  token_type_embeddings =
      normal_embedding(*this, "token_type_embeddings", config.type_vocab_size, config.hidden_size, generator);
  {
    NoGradGuard no_grad;
    word_embeddings.select(0, config.pad_token_id).zero_();  // transformers zeroes the padding row
  }
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(Shape{config.hidden_size},
                                                                          config.layer_norm_eps));
}

Tensor BertEmbeddings::forward(const Tensor& ids, const Tensor& token_types, const Tensor& positions) const {
  const Tensor sum = add(add(embedding(ids, word_embeddings), embedding(positions, position_embeddings)),
                         embedding(token_types, token_type_embeddings));
  return LayerNorm->forward(sum);
}

// ---- encoder layer ----

BertLayer::BertLayer(const BertConfig& config, Generator* generator)
    : heads_count(config.num_attention_heads),
      head_dim(config.hidden_size / config.num_attention_heads),
      activation(config.hidden_act) {
  const int64_t hidden = config.hidden_size, inner = config.intermediate_size;
  auto attention = detail::add_group(*this, "attention", "BertAttention");
  auto self = detail::add_group(*attention, "self", "BertSelfAttention");
  query = self->register_module("query", normal_linear(hidden, hidden, generator));
  key = self->register_module("key", normal_linear(hidden, hidden, generator));
  value = self->register_module("value", normal_linear(hidden, hidden, generator));
  auto self_output = detail::add_group(*attention, "output", "BertSelfOutput");
  attention_output = self_output->register_module("dense", normal_linear(hidden, hidden, generator));
  attention_norm =
      self_output->register_module("LayerNorm", std::make_shared<nn::LayerNorm>(Shape{hidden}, config.layer_norm_eps));
  auto intermediate_group = detail::add_group(*this, "intermediate", "BertIntermediate");
  intermediate = intermediate_group->register_module("dense", normal_linear(hidden, inner, generator));
  auto output_group = detail::add_group(*this, "output", "BertOutput");
  output = output_group->register_module("dense", normal_linear(inner, hidden, generator));
  output_norm =
      output_group->register_module("LayerNorm", std::make_shared<nn::LayerNorm>(Shape{hidden}, config.layer_norm_eps));
}

Tensor BertLayer::forward(const Tensor& x, const PackedBatch& packed, const std::vector<int64_t>* heads,
                          std::vector<Tensor>* captured) const {
  const int64_t hidden = heads_count * head_dim;
  // One GEMM for the three projections: at BERT-small widths three (T, H) x
  // (H, H) products run at two thirds of the speed of one (T, H) x (H, 3H).
  // Concatenating the weights costs a 3H x H copy and keeps them separate
  // parameters, as transformers names them.
  const Tensor qkv = linear(x, cat({query->weight, key->weight, value->weight}, 0),
                            cat({query->bias, key->bias, value->bias}, 0));  // (T, 3H)
  const Tensor q = qkv.narrow(1, 0, hidden), k = qkv.narrow(1, hidden, hidden), v = qkv.narrow(1, 2 * hidden, hidden);
  functional::SdpaOptions options;
  if (heads) {
    options.return_weights = true;
    options.weights_heads = *heads;
  }
  // (rows, H) -> (batch, heads, rows / batch, head_dim): a view (of q, k and v
  // too, whose rows are 3H apart).
  auto split_heads = [&](const Tensor& t, int64_t batch) {
    return t.reshape({batch, t.size(0) / batch, heads_count, head_dim}).transpose(1, 2);
  };
  auto merge_heads = [&](const Tensor& t) {  // (batch, heads, n, head_dim) -> (batch · n, H)
    return t.transpose(1, 2).reshape({t.size(0) * t.size(2), hidden});
  };

  Tensor context;
  Tensor weights;  // (B, len(heads), L, L) when captured
  const bool uniform = packed.tokens() == packed.batch * packed.length;
  if (uniform) {  // no padding: one call over the whole batch
    functional::SdpaOutput out = functional::scaled_dot_product_attention(
        split_heads(q, packed.batch), split_heads(k, packed.batch), split_heads(v, packed.batch), options);
    context = merge_heads(out.output);
    weights = out.weights;
  } else if (!heads) {
    // Padding: one call over slots (B, Lmax), sequence b's tokens in the first
    // n_b slots of row b and the rest masked out as keys. Padding the three
    // (T, H) matrices costs less than one attention call per sequence.
    int64_t longest = 0;
    for (int64_t b = 0; b < packed.batch; ++b) longest = std::max(longest, packed.length_of(b));
    std::vector<int64_t> row_of_slot(packed.batch * longest, packed.tokens()), slot_of_row(packed.tokens());
    std::vector<uint8_t> real_slot(packed.batch * longest, 0);
    for (int64_t b = 0; b < packed.batch; ++b) {
      for (int64_t i = 0; i < packed.length_of(b); ++i) {
        row_of_slot[b * longest + i] = packed.offsets[b] + i;
        slot_of_row[packed.offsets[b] + i] = b * longest + i;
        real_slot[b * longest + i] = 1;
      }
    }
    const Tensor slots = from_vector_i64(row_of_slot, {packed.batch, longest});
    const Tensor zero_row = zeros({1, hidden});
    // (T, H) -> (B, heads, Lmax, head_dim); row T of the extended matrix is the pads' zero row.
    auto to_slots = [&](const Tensor& t) {
      return split_heads(embedding(slots, cat({t, zero_row}, 0)).reshape({-1, hidden}), packed.batch);
    };
    Tensor key_mask = empty({packed.batch, 1, 1, longest}, kBool);
    std::copy(real_slot.begin(), real_slot.end(), key_mask.data<bool>());
    options.attn_mask = key_mask;
    functional::SdpaOutput out =
        functional::scaled_dot_product_attention(to_slots(q), to_slots(k), to_slots(v), options);
    context = embedding(from_vector_i64(slot_of_row, {packed.tokens()}), merge_heads(out.output));  // (T, H)
  } else {  // attention weights asked for: each sequence on its own, its weights placed at its positions
    std::vector<Tensor> parts;
    parts.reserve(packed.batch);
    for (int64_t b = 0; b < packed.batch; ++b) {
      const int64_t begin = packed.offsets[b], n = packed.length_of(b);
      if (n == 0) continue;
      functional::SdpaOutput out = functional::scaled_dot_product_attention(
          split_heads(q.narrow(0, begin, n), 1), split_heads(k.narrow(0, begin, n), 1),
          split_heads(v.narrow(0, begin, n), 1), options);
      parts.push_back(merge_heads(out.output));
      if (!weights.defined()) weights = zeros({packed.batch, out.weights.size(1), packed.length, packed.length});
      // With left or middle padding a sequence's tokens are not the first n
      // positions, so scatter row by row.
      NoGradGuard no_grad;
      const std::vector<int64_t> positions = int_values(packed.positions.narrow(0, begin, n));
      const Tensor w = out.weights.detach();
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          weights.select(0, b).select(1, positions[i]).select(1, positions[j]).copy_(
              w.select(0, 0).select(1, i).select(1, j));
        }
      }
    }
    context = parts.empty() ? zeros({0, hidden}) : cat(parts, 0);
  }
  if (heads) captured->push_back(weights);

  const Tensor attended = attention_norm->forward(add(x, attention_output->forward(context)));
  const Tensor inner = detail::apply_activation(activation, intermediate->forward(attended));
  return output_norm->forward(add(attended, output->forward(inner)));
}

// ---- the model ----

BertModel::BertModel(const BertConfig& config_, bool add_pooling_layer, Generator* generator) : config(config_) {
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(config, generator));
  auto encoder = detail::add_group(*this, "encoder", "BertEncoder");
  layers = encoder->register_module("layer", std::make_shared<nn::ModuleList<BertLayer>>());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) layers->push_back(std::make_shared<BertLayer>(config, generator));
  if (add_pooling_layer) {
    auto pooler_group = detail::add_group(*this, "pooler", "BertPooler");
    pooler = pooler_group->register_module("dense", normal_linear(config.hidden_size, config.hidden_size, generator));
  }
}

Tensor BertModel::encode_packed(const Tensor& packed_ids, const Tensor& packed_types, const PackedBatch& packed,
                                AttentionCapture* capture) const {
  AK_CHECK(packed.tokens() > 0, name(), ": no tokens to encode (every sequence is empty)");
  for (int64_t b = 0; b < packed.batch; ++b) {
    AK_CHECK(packed.length_of(b) <= config.max_position_embeddings, name(), ": sequence ", b, " has ",
             packed.length_of(b), " tokens, more than max_position_embeddings (", config.max_position_embeddings,
             "); truncate the input");
  }
  Tensor x = embeddings->forward(packed_ids, packed_types, packed.positions);  // (T, H)
  if (capture) capture->weights.clear();
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const bool captured = capture && capture->wants(i, config.num_hidden_layers);
    x = (*layers)[i].forward(x, packed, captured ? &capture->heads : nullptr, captured ? &capture->weights : nullptr);
  }
  return x;
}

std::tuple<PackedBatch, Tensor, Tensor> BertModel::pack_inputs(const Tensor& input_ids, const Tensor& attention_mask,
                                                               const Tensor& token_type_ids, const char* op) const {
  AK_CHECK(input_ids.defined() && input_ids.dim() == 2, op, ": input_ids must be (batch, length), got ",
           input_ids.defined() ? shape_str(input_ids.shape()) : std::string("nothing"));
  check_ids(op, input_ids, "input_ids", {});
  if (attention_mask.defined()) check_ids(op, attention_mask, "attention_mask", input_ids.shape());
  if (token_type_ids.defined()) check_ids(op, token_type_ids, "token_type_ids", input_ids.shape());
  const int64_t batch = input_ids.size(0), length = input_ids.size(1);
  AK_CHECK(length <= config.max_position_embeddings, op, ": ", length, " tokens exceed max_position_embeddings (",
           config.max_position_embeddings, "); truncate the input");
  PackedBatch packed = pack_batch(attention_mask, batch, length);
  const std::vector<int64_t> ids = int_values(input_ids), flat = int_values(packed.flat_index);
  std::vector<int64_t> types;
  if (token_type_ids.defined()) types = int_values(token_type_ids);
  std::vector<int64_t> packed_ids(flat.size()), packed_types(flat.size(), 0);
  for (size_t r = 0; r < flat.size(); ++r) {
    packed_ids[r] = ids[flat[r]];
    if (!types.empty()) packed_types[r] = types[flat[r]];
  }
  const auto tokens = static_cast<int64_t>(flat.size());
  return {std::move(packed), from_vector_i64(packed_ids, {tokens}), from_vector_i64(packed_types, {tokens})};
}

BertOutput BertModel::forward(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids,
                              AttentionCapture* capture) const {
  const auto [packed, ids, types] = pack_inputs(input_ids, attention_mask, token_type_ids, "BertModel");
  BertOutput out;
  out.last_hidden_state = unpack(encode_packed(ids, types, packed, capture), packed);
  if (pooler) out.pooler_output = tanh(pooler->forward(out.last_hidden_state.select(1, 0)));
  return out;
}

std::shared_ptr<BertModel> BertModel::from_pretrained(const std::string& folder) {
  const BertConfig config = load_bert_config(join_path(folder, "config.json"));
  const io::TensorMap weights = load_hf_weights(folder);
  const bool prefixed = weights.count("bert.embeddings.word_embeddings.weight") > 0;
  const std::string prefix = prefixed ? "bert." : "";
  const bool has_pooler = weights.count(prefix + "pooler.dense.weight") > 0;
  nn::init::SkipRandomInitGuard weights_come_from_the_file;
  auto model = std::make_shared<BertModel>(config, has_pooler);
  load_hf_weights_into(
      *model, weights,
      [&](const std::string& name) {
        if (prefixed && !starts_with(name, prefix)) return std::string();  // the task head (cls.*)
        const std::string own = strip_prefix(name, prefix);
        // position_ids and token_type_ids are constant index buffers.
        if (own == "embeddings.position_ids" || own == "embeddings.token_type_ids") return std::string();
        return own;
      },
      folder);
  model->eval();
  return model;
}

// ---- masked LM ----

BertForMaskedLM::BertForMaskedLM(const BertConfig& config, Generator* generator) {
  bert = register_module("bert", std::make_shared<BertModel>(config, /*add_pooling_layer=*/false, generator));
  auto cls = detail::add_group(*this, "cls", "BertOnlyMLMHead");
  auto predictions = detail::add_group(*cls, "predictions", "BertLMPredictionHead");
  decoder_bias = predictions->register_parameter("bias", zeros({config.vocab_size}));
  auto transform_group = detail::add_group(*predictions, "transform", "BertPredictionHeadTransform");
  transform = transform_group->register_module("dense",
                                               normal_linear(config.hidden_size, config.hidden_size, generator));
  transform_norm = transform_group->register_module(
      "LayerNorm", std::make_shared<nn::LayerNorm>(Shape{config.hidden_size}, config.layer_norm_eps));
  if (config.tie_word_embeddings) {
    decoder_weight = bert->embeddings->word_embeddings;
  } else {
    // Its bias is cls.predictions.bias, so the decoder itself has none.
    auto decoder = predictions->register_module(
        "decoder", std::make_shared<nn::Linear>(config.hidden_size, config.vocab_size, false, generator));
    nn::init::normal_(decoder->weight, 0.0, kInitStd, generator);
    decoder_weight = decoder->weight;
  }
}

Tensor BertForMaskedLM::predict(const Tensor& hidden) const {
  const Tensor transformed =
      transform_norm->forward(detail::apply_activation(bert->config.hidden_act, transform->forward(hidden)));
  return linear(transformed, decoder_weight, decoder_bias);
}

Tensor BertForMaskedLM::forward(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids,
                                AttentionCapture* capture) const {
  // The head runs on real tokens only.
  const auto [packed, ids, types] = bert->pack_inputs(input_ids, attention_mask, token_type_ids, "BertForMaskedLM");
  return unpack(predict(bert->encode_packed(ids, types, packed, capture)), packed);
}

std::shared_ptr<BertForMaskedLM> BertForMaskedLM::from_pretrained(const std::string& folder) {
  const BertConfig config = load_bert_config(join_path(folder, "config.json"));
  const io::TensorMap weights = load_hf_weights(folder);
  nn::init::SkipRandomInitGuard weights_come_from_the_file;
  auto model = std::make_shared<BertForMaskedLM>(config);
  const bool tied = config.tie_word_embeddings;
  load_hf_weights_into(
      *model, weights,
      [&](const std::string& name) {
        if (name == "bert.embeddings.position_ids" || name == "bert.embeddings.token_type_ids") return std::string();
        if (starts_with(name, "bert.pooler.") || starts_with(name, "cls.seq_relationship.")) return std::string();
        // The decoder's bias is cls.predictions.bias under another name.
        if (name == "cls.predictions.decoder.bias") return std::string();
        if (name == "cls.predictions.decoder.weight" && tied) return std::string();
        return name;
      },
      folder);
  model->eval();
  return model;
}

}  // namespace attnkit::models
