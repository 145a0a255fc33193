#include "attnkit/models/gpt2.h"

#include <cmath>

#include "activation.h"
#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/models/hf_checkpoint.h"
#include "attnkit/nn/embedding.h"
#include "attnkit/nn/init.h"
#include "attnkit/nn/linear.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/embedding.h"
#include "attnkit/ops/linear.h"

namespace attnkit::models {

namespace {

constexpr double kInitStd = 0.02;  // transformers' initializer_range

// Bool (B, 1, T, S): causal (query i sees keys j <= i) and the key is not padding.
Tensor causal_key_mask(const Tensor& key_mask, int64_t queries) {
  const int64_t keys = key_mask.size(1);
  Tensor causal = ge(arange(queries).unsqueeze(1), arange(keys).unsqueeze(0));  // (T, S)
  Tensor mask = empty({key_mask.size(0), 1, queries, keys}, kBool);
  NoGradGuard no_grad;
  mask.copy_(causal);
  const bool* keep = key_mask.contiguous().data<bool>();
  bool* out = mask.data<bool>();
  for (int64_t b = 0; b < key_mask.size(0); ++b) {
    for (int64_t i = 0; i < queries; ++i) {
      for (int64_t j = 0; j < keys; ++j) out[(b * queries + i) * keys + j] &= keep[b * keys + j];
    }
  }
  return mask;
}

// GPT2LMHeadModel's names are "transformer." + GPT2Model's; the original
// OpenAI-converted checkpoints also carry the causal mask as "attn.bias" and
// "attn.masked_bias" buffers, which we do not keep.
std::string strip_transformer_prefix(const std::string& name) {
  const std::string prefix = "transformer.";
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}
bool is_mask_buffer(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias");
}

}  // namespace

// ---- Conv1D ----

Conv1D::Conv1D(int64_t in_features, int64_t out_features) {
  weight = register_parameter("weight", empty({in_features, out_features}));
  bias = register_parameter("bias", zeros({out_features}));
}

std::string Conv1D::extra_repr() const {
  return "nf=" + std::to_string(weight.size(1)) + ", nx=" + std::to_string(weight.size(0));
}

Tensor Conv1D::forward(const Tensor& x) const { return linear(x, weight.t(), bias); }

// ---- cache ----

Gpt2Cache::Gpt2Cache(const Gpt2Config& config, int64_t batch, int64_t capacity) {
  AK_CHECK(capacity > 0 && capacity <= config.n_positions, "GPT-2 cache: capacity must be in 1..n_positions (",
           config.n_positions, "), got ", capacity);
  layers_.reserve(config.n_layer);
  for (int64_t i = 0; i < config.n_layer; ++i) {
    layers_.emplace_back(batch, config.n_head, capacity, config.n_embd / config.n_head);
  }
}

void Gpt2Cache::clear() {
  for (nn::KVCache& layer : layers_) layer.clear();
}

// ---- attention, MLP, block ----

Gpt2Attention::Gpt2Attention(const Gpt2Config& config, int64_t layer_index)
    : n_head(config.n_head), head_dim(config.n_embd / config.n_head) {
  c_attn = register_module("c_attn", std::make_shared<Conv1D>(config.n_embd, 3 * config.n_embd));
  c_proj = register_module("c_proj", std::make_shared<Conv1D>(config.n_embd, config.n_embd));
  scale = config.scale_attn_weights ? 1.0 / std::sqrt(static_cast<double>(head_dim)) : 1.0;
  if (config.scale_attn_by_inverse_layer_idx) scale /= static_cast<double>(layer_index + 1);
}

Tensor Gpt2Attention::forward(const Tensor& x, nn::KVCache* cache, const Tensor& key_mask,
                              const std::vector<int64_t>* heads, std::vector<Tensor>* captured) const {
  const int64_t batch = x.size(0), steps = x.size(1);
  // (B, T, 3D) viewed as (B, T, 3, H, Dh): q, k, v are strided views (B, H, T, Dh).
  const Tensor qkv = c_attn->forward(x).view({batch, steps, 3, n_head, head_dim});
  const Tensor q = qkv.select(2, 0).transpose(1, 2);
  const Tensor k = qkv.select(2, 1).transpose(1, 2);
  const Tensor v = qkv.select(2, 2).transpose(1, 2);

  functional::SdpaOptions options;
  options.scale = scale;
  if (heads) {
    options.return_weights = true;
    options.weights_heads = *heads;
  }
  functional::SdpaOutput attended;
  if (cache) {
    cache->append(k, v);
    options.is_causal = true;
    attended = cache->attend(q, options);
  } else if (key_mask.defined()) {
    options.attn_mask = causal_key_mask(key_mask, steps);
    attended = functional::scaled_dot_product_attention(q, k, v, options);
  } else {
    options.is_causal = true;
    attended = functional::scaled_dot_product_attention(q, k, v, options);
  }
  if (heads) captured->push_back(attended.weights);
  // (B, H, T, Dh) -> (B, T, D); the fused kernel lays its output out as
  // (B, T, H, Dh), which makes this a view.
  return c_proj->forward(attended.output.transpose(1, 2).reshape({batch, steps, n_head * head_dim}));
}

Gpt2Mlp::Gpt2Mlp(const Gpt2Config& config) : activation(config.activation_function) {
  c_fc = register_module("c_fc", std::make_shared<Conv1D>(config.n_embd, config.inner_dim()));
  c_proj = register_module("c_proj", std::make_shared<Conv1D>(config.inner_dim(), config.n_embd));
}

Tensor Gpt2Mlp::forward(const Tensor& x) const {
  return c_proj->forward(detail::apply_activation(activation, c_fc->forward(x)));
}

Gpt2Block::Gpt2Block(const Gpt2Config& config, int64_t layer_index) {
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(Shape{config.n_embd}, config.layer_norm_epsilon));
  attn = register_module("attn", std::make_shared<Gpt2Attention>(config, layer_index));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(Shape{config.n_embd}, config.layer_norm_epsilon));
  mlp = register_module("mlp", std::make_shared<Gpt2Mlp>(config));
}

Tensor Gpt2Block::forward(const Tensor& x, nn::KVCache* cache, const Tensor& key_mask,
                          const std::vector<int64_t>* heads, std::vector<Tensor>* captured) const {
  const Tensor after_attention = add(x, attn->forward(ln_1->forward(x), cache, key_mask, heads, captured));
  return add(after_attention, mlp->forward(ln_2->forward(after_attention)));
}

// ---- the model ----

Gpt2Model::Gpt2Model(const Gpt2Config& config_, Generator* generator) : config(config_) {
  wte = register_module("wte", std::make_shared<nn::Embedding>(config.vocab_size, config.n_embd, std::nullopt,
                                                              generator))->weight;
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(config.n_positions, config.n_embd, std::nullopt,
                                                              generator))->weight;
  h = register_module("h", std::make_shared<nn::ModuleList<Gpt2Block>>());
  for (int64_t i = 0; i < config.n_layer; ++i) h->push_back(std::make_shared<Gpt2Block>(config, i));
  ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(Shape{config.n_embd}, config.layer_norm_epsilon));

  nn::init::normal_(wte, 0.0, kInitStd, generator);
  nn::init::normal_(wpe, 0.0, kInitStd, generator);
  // GPT-2 paper: residual projections scaled by 1/√N, N = 2 per block.
  const double proj_std = kInitStd / std::sqrt(2.0 * static_cast<double>(config.n_layer));
  for (const auto& block : h->items()) {
    nn::init::normal_(block->attn->c_attn->weight, 0.0, kInitStd, generator);
    nn::init::normal_(block->attn->c_proj->weight, 0.0, proj_std, generator);
    nn::init::normal_(block->mlp->c_fc->weight, 0.0, kInitStd, generator);
    nn::init::normal_(block->mlp->c_proj->weight, 0.0, proj_std, generator);
  }
}

Gpt2Cache Gpt2Model::make_cache(int64_t batch, int64_t capacity) const {
  return Gpt2Cache(config, batch, capacity == 0 ? config.n_positions : capacity);
}

Tensor Gpt2Model::forward(const Tensor& input_ids, Gpt2Cache* cache, AttentionCapture* capture,
                          const Tensor& attention_mask) const {
  AK_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.size(1) > 0 &&
               (input_ids.dtype() == kInt64 || input_ids.dtype() == kInt32),
           "GPT2Model: input_ids must be int64 (batch, tokens) with at least one token, got ",
           input_ids.defined() ? std::string(dtype_name(input_ids.dtype())) + " " + shape_str(input_ids.shape())
                               : std::string("nothing"));
  const int64_t steps = input_ids.size(1);
  const int64_t past = cache ? cache->length() : 0;
  AK_CHECK(past + steps <= config.n_positions, "GPT2Model: ", past + steps,
           " positions exceed the context of ", config.n_positions, " (n_positions)",
           past ? " (" + std::to_string(past) + " cached + " + std::to_string(steps) + " new)" : std::string());
  if (cache) AK_CHECK(cache->length() + steps <= cache->capacity(), "GPT2Model: the cache holds ", cache->capacity(),
                      " positions, ", cache->length(), " are used and ", steps, " more came");
  Tensor key_mask;
  if (attention_mask.defined()) {
    AK_CHECK(!cache, "GPT2Model: attention_mask cannot be combined with a cache (pad on the right, run without one)");
    AK_CHECK(attention_mask.shape() == input_ids.shape(), "GPT2Model: attention_mask must be ",
             shape_str(input_ids.shape()), " like input_ids, got ", shape_str(attention_mask.shape()));
    key_mask = ne(attention_mask, 0.0);
  }

  Tensor x = add(embedding(input_ids, wte), embedding(arange(past, past + steps), wpe));  // (B, T, D)
  const std::vector<int64_t>* heads = nullptr;
  if (capture) capture->weights.clear();
  for (int64_t i = 0; i < config.n_layer; ++i) {
    const bool captured = capture && capture->wants(i, config.n_layer);
    heads = captured ? &capture->heads : nullptr;
    x = (*h)[i].forward(x, cache ? &cache->layer(i) : nullptr, key_mask, heads,
                        captured ? &capture->weights : nullptr);
  }
  return ln_f->forward(x);
}

std::shared_ptr<Gpt2Model> Gpt2Model::from_pretrained(const std::string& folder) {
  const Gpt2Config config = load_gpt2_config(join_path(folder, "config.json"));
  const io::TensorMap weights = load_hf_weights(folder);
  nn::init::SkipRandomInitGuard weights_come_from_the_file;
  auto model = std::make_shared<Gpt2Model>(config);
  load_hf_weights_into(
      *model, weights,
      [](const std::string& name) {
        if (is_mask_buffer(name) || name == "lm_head.weight") return std::string();
        return strip_transformer_prefix(name);
      },
      folder);
  model->eval();
  return model;
}

// ---- the LM head ----

Gpt2LMHeadModel::Gpt2LMHeadModel(const Gpt2Config& config, Generator* generator) {
  transformer = register_module("transformer", std::make_shared<Gpt2Model>(config, generator));
  if (config.tie_word_embeddings) {
    lm_head_weight = transformer->wte;
  } else {
    auto head = register_module("lm_head", std::make_shared<nn::Linear>(config.n_embd, config.vocab_size, false,
                                                                       generator));
    nn::init::normal_(head->weight, 0.0, kInitStd, generator);
    lm_head_weight = head->weight;
  }
}

Tensor Gpt2LMHeadModel::lm_head(const Tensor& hidden) const { return linear(hidden, lm_head_weight); }

Tensor Gpt2LMHeadModel::forward(const Tensor& input_ids, Gpt2Cache* cache, AttentionCapture* capture,
                                const Tensor& attention_mask, int64_t logits_to_keep) const {
  AK_CHECK(logits_to_keep >= 0, "GPT2LMHeadModel: logits_to_keep must be >= 0 (0 = all), got ", logits_to_keep);
  const Tensor hidden = transformer->forward(input_ids, cache, capture, attention_mask);  // (B, T, D)
  const int64_t steps = hidden.size(1);
  if (logits_to_keep == 0 || logits_to_keep >= steps) return lm_head(hidden);
  return lm_head(hidden.narrow(1, steps - logits_to_keep, logits_to_keep));
}

GenerationResult Gpt2LMHeadModel::generate(const std::vector<int64_t>& prompt, const GenerationOptions& options,
                                           const TokenCallback& on_token) const {
  const Gpt2Config& config = transformer->config;
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  AK_CHECK(prompt_length > 0, "generate: the prompt has no tokens");
  AK_CHECK(prompt_length <= config.n_positions, "generate: the prompt has ", prompt_length,
           " tokens; the model's context is ", config.n_positions, " (n_positions)");
  AK_CHECK(options.max_new_tokens >= 0, "generate: max_new_tokens must be >= 0, got ", options.max_new_tokens);
  for (int64_t id : prompt) {
    AK_CHECK(id >= 0 && id < config.vocab_size, "generate: prompt token ", id, " is outside the vocabulary (",
             config.vocab_size, ")");
  }
  std::vector<int64_t> stop_tokens = options.stop_token_ids;
  if (stop_tokens.empty()) stop_tokens.push_back(config.eos_token_id);
  decoding::TokenSampler sampler(options.sampling);

  NoGradGuard no_grad;
  const int64_t capacity = std::min(config.n_positions, prompt_length + std::max<int64_t>(options.max_new_tokens, 1));
  Gpt2Cache cache = transformer->make_cache(1, capacity);
  std::vector<int64_t> sequence = prompt;
  GenerationResult result;
  result.stop_reason = "max_new_tokens";
  Tensor input = from_vector_i64(prompt, {1, prompt_length});
  std::vector<float> logits(config.vocab_size);
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    if (cache.length() + input.size(1) > capacity) {
      result.stop_reason = "context_full";
      break;
    }
    const Tensor last = forward(input, &cache, nullptr, Tensor(), /*logits_to_keep=*/1).contiguous();  // (1, 1, V)
    std::copy(last.data<float>(), last.data<float>() + config.vocab_size, logits.begin());
    const int64_t token = sampler.next(logits, sequence);
    sequence.push_back(token);
    result.tokens.push_back(token);
    if (on_token && !on_token(token)) {
      result.stop_reason = "callback";
      break;
    }
    if (options.use_stop_tokens && std::find(stop_tokens.begin(), stop_tokens.end(), token) != stop_tokens.end()) {
      result.stop_reason = "stop_token";
      break;
    }
    input = from_vector_i64({token}, {1, 1});
  }
  return result;
}

std::shared_ptr<Gpt2LMHeadModel> Gpt2LMHeadModel::from_pretrained(const std::string& folder) {
  const Gpt2Config config = load_gpt2_config(join_path(folder, "config.json"));
  const io::TensorMap weights = load_hf_weights(folder);
  nn::init::SkipRandomInitGuard weights_come_from_the_file;
  auto model = std::make_shared<Gpt2LMHeadModel>(config);
  const bool tied = config.tie_word_embeddings;
  load_hf_weights_into(
      *model, weights,
      [tied](const std::string& name) {
        if (is_mask_buffer(name)) return std::string();
        if (name == "lm_head.weight") return tied ? std::string() : name;
        return "transformer." + strip_transformer_prefix(name);
      },
      folder);
  model->eval();
  return model;
}

}  // namespace attnkit::models
