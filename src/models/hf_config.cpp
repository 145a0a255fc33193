// config.json parsing: needs only the JSON library, so the fuzz target links
// this file alone.
#include "attnkit/models/hf_config.h"

#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>

#include "attnkit/core/error.h"
#include "io/json_depth.h"
#include "io/text_file.h"

namespace attnkit::models {

namespace {

constexpr size_t kMaxConfigBytes = 16u << 20;  // real configs are a few KiB
constexpr int kMaxJsonDepth = 32;              // real ones nest 2-3 deep
constexpr int64_t kMaxDim = int64_t{1} << 31;

nlohmann::json parse_object(const std::string& text, const std::string& source) {
  AK_CHECK(text.size() <= kMaxConfigBytes, source, ": ", text.size(), " bytes is over the ", kMaxConfigBytes,
           "-byte limit of a config");
  AK_CHECK(io::json_nesting_depth(text.data(), text.size(), kMaxJsonDepth) <= kMaxJsonDepth, source,
           ": the JSON nests deeper than ", kMaxJsonDepth, " levels");
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  AK_CHECK(!json.is_discarded(), source, ": not valid JSON");
  AK_CHECK(json.is_object(), source, ": a config must be a JSON object, got ", json.type_name());
  return json;
}

// Each reader leaves `out` at its default when the key is absent.
void read(const nlohmann::json& json, const char* key, int64_t& out, int64_t low, int64_t high,
          const std::string& source) {
  auto it = json.find(key);
  if (it == json.end()) return;
  AK_CHECK(it->is_number_integer(), source, ": \"", key, "\" must be an integer, got ", it->type_name(), " ",
           it->dump().substr(0, 40));
  // Unsigned JSON integers above int64's range must not wrap to negatives.
  const bool representable = !it->is_number_unsigned() || it->get<uint64_t>() <= static_cast<uint64_t>(high);
  const int64_t value = representable ? it->get<int64_t>() : high + 1;
  AK_CHECK(value >= low && value <= high, source, ": \"", key, "\" must be in ", low, "..", high, ", got ",
           it->dump());
  out = value;
}

void read(const nlohmann::json& json, const char* key, double& out, const std::string& source) {
  auto it = json.find(key);
  if (it == json.end()) return;
  AK_CHECK(it->is_number(), source, ": \"", key, "\" must be a number, got ", it->type_name());
  out = it->get<double>();
  AK_CHECK(std::isfinite(out) && out > 0.0, source, ": \"", key, "\" must be a positive number, got ", it->dump());
}

void read(const nlohmann::json& json, const char* key, bool& out, const std::string& source) {
  auto it = json.find(key);
  if (it == json.end()) return;
  AK_CHECK(it->is_boolean(), source, ": \"", key, "\" must be true or false, got ", it->type_name());
  out = it->get<bool>();
}

void read_choice(const nlohmann::json& json, const char* key, std::string& out,
                 const std::vector<std::string>& choices, const std::string& source) {
  auto it = json.find(key);
  if (it == json.end()) return;
  AK_CHECK(it->is_string(), source, ": \"", key, "\" must be a string, got ", it->type_name());
  out = it->get<std::string>();
  std::string listed;
  for (const auto& c : choices) {
    if (out == c) return;
    listed += (listed.empty() ? "" : ", ") + c;
  }
  AK_CHECK(false, source, ": \"", key, "\" is \"", out.substr(0, 40), "\"; attnkit supports ", listed);
}

std::vector<std::string> read_architectures(const nlohmann::json& json, const std::string& source) {
  std::vector<std::string> names;
  auto it = json.find("architectures");
  if (it == json.end() || it->is_null()) return names;
  AK_CHECK(it->is_array(), source, ": \"architectures\" must be a list of names, got ", it->type_name());
  for (const auto& name : *it) {
    AK_CHECK(name.is_string(), source, ": \"architectures\" must hold names (strings), got ", name.type_name());
    names.push_back(name.get<std::string>());
  }
  return names;
}

std::string type_of(const nlohmann::json& json, const std::string& source) {
  auto it = json.find("model_type");
  if (it != json.end()) {
    AK_CHECK(it->is_string(), source, ": \"model_type\" must be a string, got ", it->type_name());
    const std::string type = it->get<std::string>();
    AK_CHECK(type == "gpt2" || type == "bert", source, ": model_type \"", type.substr(0, 40),
             "\" is not an architecture attnkit runs (gpt2, bert)");
    return type;
  }
  for (const std::string& name : read_architectures(json, source)) {
    if (name.rfind("GPT2", 0) == 0) return "gpt2";
    if (name.rfind("Bert", 0) == 0) return "bert";
  }
  AK_CHECK(false, source, ": neither model_type nor architectures names an architecture attnkit runs (gpt2, bert)");
  return "";
}

void expect_type(const nlohmann::json& json, const char* want, const std::string& source) {
  const std::string type = type_of(json, source);
  AK_CHECK(type == want, source, ": this is a ", type, " config, expected ", want);
}


const std::vector<std::string> kActivations = {"gelu_new", "gelu_pytorch_tanh", "gelu", "relu", "silu", "swish"};

}  // namespace

std::string model_type_of(const std::string& json_text, const std::string& source) {
  return type_of(parse_object(json_text, source), source);
}

Gpt2Config parse_gpt2_config(const std::string& text, const std::string& source) {
  const nlohmann::json json = parse_object(text, source);
  expect_type(json, "gpt2", source);
  Gpt2Config c;
  read(json, "vocab_size", c.vocab_size, 1, kMaxDim, source);
  read(json, "n_positions", c.n_positions, 1, kMaxDim, source);
  read(json, "n_embd", c.n_embd, 1, int64_t{1} << 20, source);
  read(json, "n_layer", c.n_layer, 1, 4096, source);
  read(json, "n_head", c.n_head, 1, int64_t{1} << 20, source);
  if (auto it = json.find("n_inner"); it != json.end() && !it->is_null()) {
    read(json, "n_inner", c.n_inner, 1, kMaxDim, source);
  }
  read_choice(json, "activation_function", c.activation_function, kActivations, source);
  read(json, "layer_norm_epsilon", c.layer_norm_epsilon, source);
  read(json, "scale_attn_weights", c.scale_attn_weights, source);
  read(json, "scale_attn_by_inverse_layer_idx", c.scale_attn_by_inverse_layer_idx, source);
  read(json, "bos_token_id", c.bos_token_id, 0, kMaxDim, source);
  read(json, "eos_token_id", c.eos_token_id, 0, kMaxDim, source);
  read(json, "tie_word_embeddings", c.tie_word_embeddings, source);
  c.architectures = read_architectures(json, source);
  AK_CHECK(c.n_embd % c.n_head == 0, source, ": n_embd (", c.n_embd, ") must be divisible by n_head (", c.n_head,
           ")");
  return c;
}

BertConfig parse_bert_config(const std::string& text, const std::string& source) {
  const nlohmann::json json = parse_object(text, source);
  expect_type(json, "bert", source);
  BertConfig c;
  read(json, "vocab_size", c.vocab_size, 1, kMaxDim, source);
  read(json, "hidden_size", c.hidden_size, 1, int64_t{1} << 20, source);
  read(json, "num_hidden_layers", c.num_hidden_layers, 1, 4096, source);
  read(json, "num_attention_heads", c.num_attention_heads, 1, int64_t{1} << 20, source);
  read(json, "intermediate_size", c.intermediate_size, 1, kMaxDim, source);
  read_choice(json, "hidden_act", c.hidden_act, kActivations, source);
  read(json, "max_position_embeddings", c.max_position_embeddings, 1, kMaxDim, source);
  read(json, "type_vocab_size", c.type_vocab_size, 1, kMaxDim, source);
  read(json, "layer_norm_eps", c.layer_norm_eps, source);
  if (auto it = json.find("pad_token_id"); it != json.end() && !it->is_null()) {
    read(json, "pad_token_id", c.pad_token_id, 0, kMaxDim, source);
  }
  read_choice(json, "position_embedding_type", c.position_embedding_type, {"absolute"}, source);
  read(json, "tie_word_embeddings", c.tie_word_embeddings, source);
  c.architectures = read_architectures(json, source);
  AK_CHECK(c.hidden_size % c.num_attention_heads == 0, source, ": hidden_size (", c.hidden_size,
           ") must be divisible by num_attention_heads (", c.num_attention_heads, ")");
  AK_CHECK(c.pad_token_id < c.vocab_size, source, ": pad_token_id (", c.pad_token_id, ") must be below vocab_size (",
           c.vocab_size, ")");
  return c;
}

Gpt2Config load_gpt2_config(const std::string& path) { return parse_gpt2_config(io::read_text_file(path, "config"), path); }
BertConfig load_bert_config(const std::string& path) { return parse_bert_config(io::read_text_file(path, "config"), path); }

}  // namespace attnkit::models
