#pragma once
// The config.json of a Hugging Face model folder, for the architectures
// attnkit runs: GPT-2 (GPT2LMHeadModel, GPT2Model) and BERT (BertModel,
// BertForMaskedLM, and BERT-architecture models such as MiniLM). Field names
// and defaults are those of transformers' GPT2Config and BertConfig, so a
// config maps one-to-one; fields attnkit does not use are ignored.
//
// Bad input is an attnkit::Error naming the file, the field, what came and
// what was expected: invalid JSON, a field of the wrong type or out of
// range, an architecture attnkit does not have.
#include <cstdint>
#include <string>
#include <vector>

namespace attnkit::models {

struct Gpt2Config {
  int64_t vocab_size = 50257;
  int64_t n_positions = 1024;
  int64_t n_embd = 768;
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_inner = 0;  // 0: 4 · n_embd (transformers' None)
  std::string activation_function = "gelu_new";
  double layer_norm_epsilon = 1e-5;
  bool scale_attn_weights = true;
  bool scale_attn_by_inverse_layer_idx = false;
  int64_t bos_token_id = 50256;
  int64_t eos_token_id = 50256;
  bool tie_word_embeddings = true;  // lm_head shares wte's weight
  std::vector<std::string> architectures;

  int64_t inner_dim() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
};

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  std::string position_embedding_type = "absolute";
  bool tie_word_embeddings = true;  // the MLM decoder shares word_embeddings' weight
  std::vector<std::string> architectures;
};

// "gpt2" or "bert": the config's model_type (or, without one, what its
// architectures name). Anything else is an error listing what attnkit runs.
std::string model_type_of(const std::string& json_text, const std::string& source = "config.json");

Gpt2Config parse_gpt2_config(const std::string& json_text, const std::string& source = "config.json");
BertConfig parse_bert_config(const std::string& json_text, const std::string& source = "config.json");

// Reads `path` and parses it (a missing or unreadable file is an error).
Gpt2Config load_gpt2_config(const std::string& path);
BertConfig load_bert_config(const std::string& path);

}  // namespace attnkit::models
