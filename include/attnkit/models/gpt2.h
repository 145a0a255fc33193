#pragma once
// GPT-2 (Radford et al. 2019), as transformers' GPT2Model and
// GPT2LMHeadModel: token + learned position embeddings, n_layer pre-norm
// decoder blocks with causal self-attention, a final layer norm, and (for the
// LM head) logits from the token embedding matrix (tied by default).
//
//   ids (B, T) ─ wte + wpe ─ [ x + attn(ln_1 x);  x + mlp(ln_2 x) ] × n_layer ─ ln_f ─ hidden (B, T, D)
//                                                                         lm_head ─ logits (B, T, V)
//
// Parameter names and shapes are those of transformers' state dicts
// ("h.0.attn.c_attn.weight", (D, 3D) — GPT-2's Conv1D stores weights as
// (in, out)), so a Hugging Face folder loads with from_pretrained and a
// state_dict saved here loads in transformers. Attention runs on the fused
// kernel; with a Gpt2Cache, keys and values of earlier steps are kept in
// storage allocated once, so generating a token costs one position's work.
//
// Not modelled: dropout (inference and dropout-free fine-tuning), cross
// attention, and reorder_and_upcast_attn (fp32 attention is what we do).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/core/rng.h"
#include "attnkit/decoding/sampling.h"
#include "attnkit/models/attention_capture.h"
#include "attnkit/models/hf_config.h"
#include "attnkit/nn/kv_cache.h"
#include "attnkit/nn/layer_norm.h"
#include "attnkit/nn/module.h"
#include "attnkit/nn/module_list.h"

namespace attnkit::models {

// GPT-2's projection layer (transformers' Conv1D): y = x W + b with W stored
// (in_features, out_features), the transpose of nn::Linear's layout.
class Conv1D : public nn::Module {
 public:
  Conv1D(int64_t in_features, int64_t out_features);
  std::string name() const override { return "Conv1D"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) const;  // (..., in) -> (..., out)

  Tensor weight;  // (in, out)
  Tensor bias;    // (out)
};

// Per-layer key/value caches for incremental decoding.
class Gpt2Cache {
 public:
  Gpt2Cache(const Gpt2Config& config, int64_t batch, int64_t capacity);
  int64_t length() const { return layers_.empty() ? 0 : layers_.front().length(); }
  int64_t capacity() const { return layers_.empty() ? 0 : layers_.front().capacity(); }
  void clear();
  nn::KVCache& layer(size_t index) { return layers_.at(index); }

 private:
  std::vector<nn::KVCache> layers_;
};

class Gpt2Attention : public nn::Module {
 public:
  Gpt2Attention(const Gpt2Config& config, int64_t layer_index);
  std::string name() const override { return "GPT2Attention"; }
  // x (B, T, D) -> (B, T, D). key_mask (B, S) bool: keys that take part
  // (undefined = all). With a cache, T new positions follow its contents.
  // Appends this layer's weights to `captured` when asked to.
  Tensor forward(const Tensor& x, nn::KVCache* cache, const Tensor& key_mask, const std::vector<int64_t>* heads,
                 std::vector<Tensor>* captured) const;

  std::shared_ptr<Conv1D> c_attn;  // D -> 3D: query, key, value
  std::shared_ptr<Conv1D> c_proj;  // D -> D
  int64_t n_head, head_dim;
  double scale;
};

class Gpt2Mlp : public nn::Module {
 public:
  explicit Gpt2Mlp(const Gpt2Config& config);
  std::string name() const override { return "GPT2MLP"; }
  Tensor forward(const Tensor& x) const;

  std::shared_ptr<Conv1D> c_fc;    // D -> inner
  std::shared_ptr<Conv1D> c_proj;  // inner -> D
  std::string activation;
};

class Gpt2Block : public nn::Module {
 public:
  Gpt2Block(const Gpt2Config& config, int64_t layer_index);
  std::string name() const override { return "GPT2Block"; }
  Tensor forward(const Tensor& x, nn::KVCache* cache, const Tensor& key_mask, const std::vector<int64_t>* heads,
                 std::vector<Tensor>* captured) const;

  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<Gpt2Attention> attn;
  std::shared_ptr<Gpt2Mlp> mlp;
};

class Gpt2Model : public nn::Module {
 public:
  // Weights are initialised as transformers does (normal, std 0.02; c_proj
  // layers scaled by 1/√(2·n_layer)) from `generator` (default generator if null).
  explicit Gpt2Model(const Gpt2Config& config, Generator* generator = nullptr);
  std::string name() const override { return "GPT2Model"; }

  // ids (B, T) int64 -> last hidden state (B, T, n_embd).
  // attention_mask (B, T), nonzero = a real token: padding keys are masked
  // (positions stay 0..T-1, as transformers without position_ids, so pad on
  // the right). With a cache the new positions follow the cached ones (no
  // attention_mask then). Throws when positions run past n_positions.
  Tensor forward(const Tensor& input_ids, Gpt2Cache* cache = nullptr, AttentionCapture* capture = nullptr,
                 const Tensor& attention_mask = Tensor()) const;

  // A cache for `batch` sequences of up to `capacity` positions (0 = n_positions).
  Gpt2Cache make_cache(int64_t batch, int64_t capacity = 0) const;

  // From a Hugging Face folder (config.json + model.safetensors) of a
  // GPT2Model or GPT2LMHeadModel.
  static std::shared_ptr<Gpt2Model> from_pretrained(const std::string& folder);

  Gpt2Config config;
  Tensor wte;  // (vocab_size, n_embd)
  Tensor wpe;  // (n_positions, n_embd)
  std::shared_ptr<nn::ModuleList<Gpt2Block>> h;
  std::shared_ptr<nn::LayerNorm> ln_f;
};

// Called with each generated token as soon as it is chosen; return false to stop.
using TokenCallback = std::function<bool(int64_t token)>;

struct GenerationOptions {
  int64_t max_new_tokens = 50;
  decoding::SamplingOptions sampling;  // greedy unless sampling.do_sample
  // Generation ends after emitting one of these (it is included in the
  // result). Empty: the config's eos_token_id.
  std::vector<int64_t> stop_token_ids;
  bool use_stop_tokens = true;  // false: only max_new_tokens (or the context) ends it
};

struct GenerationResult {
  std::vector<int64_t> tokens;  // the new tokens, not the prompt
  // "stop_token", "max_new_tokens", "context_full" (n_positions reached) or "callback".
  std::string stop_reason;
};

class Gpt2LMHeadModel : public nn::Module {
 public:
  explicit Gpt2LMHeadModel(const Gpt2Config& config, Generator* generator = nullptr);
  std::string name() const override { return "GPT2LMHeadModel"; }

  // ids (B, T) -> next-token logits (B, T, vocab_size); arguments as
  // Gpt2Model::forward. logits_to_keep k > 0 computes the logits of the last
  // k positions only, (B, k, vocab_size) (transformers' logits_to_keep): a
  // prompt needs only its last.
  Tensor forward(const Tensor& input_ids, Gpt2Cache* cache = nullptr, AttentionCapture* capture = nullptr,
                 const Tensor& attention_mask = Tensor(), int64_t logits_to_keep = 0) const;
  // hidden (..., n_embd) -> logits (..., vocab_size).
  Tensor lm_head(const Tensor& hidden) const;

  // Generates from one prompt (ids, at least one): the prompt runs in one
  // pass, then one position per token over a cache sized for prompt +
  // max_new_tokens (at most n_positions). A prompt longer than n_positions
  // is an error; once the context is full, the token predicted from it is
  // the last (stop_reason "context_full").
  GenerationResult generate(const std::vector<int64_t>& prompt, const GenerationOptions& options = {},
                            const TokenCallback& on_token = {}) const;

  static std::shared_ptr<Gpt2LMHeadModel> from_pretrained(const std::string& folder);

  std::shared_ptr<Gpt2Model> transformer;
  Tensor lm_head_weight;  // (vocab_size, n_embd): transformer->wte when tied, else its own "lm_head.weight"
};

}  // namespace attnkit::models
