// config.json of Hugging Face model folders (models/hf_config.h): GPT-2 and
// BERT configs as transformers writes them map field for field, absent
// fields take transformers' defaults, and damaged or foreign configs are
// errors naming the file and the field.
#include <cstdio>
#include <fstream>

#include "test_support.h"

namespace attnkit::testing {
namespace {

// transformers' GPT2Config(n_embd=64, n_layer=2, n_head=4).to_json_string(), trimmed.
const char* kGpt2 = R"({
  "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
  "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_inner": null,
  "n_layer": 2, "n_positions": 128, "reorder_and_upcast_attn": false, "resid_pdrop": 0.1,
  "scale_attn_by_inverse_layer_idx": false, "scale_attn_weights": true, "vocab_size": 1000
})";

// sentence-transformers/all-MiniLM-L6-v2's config.json.
const char* kMiniLm = R"({
  "_name_or_path": "nreimers/MiniLM-L6-H384-uncased", "architectures": ["BertModel"],
  "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": false, "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1, "hidden_size": 384, "initializer_range": 0.02, "intermediate_size": 1536,
  "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 12,
  "num_hidden_layers": 6, "pad_token_id": 0, "position_embedding_type": "absolute",
  "transformers_version": "4.8.2", "type_vocab_size": 2, "use_cache": true, "vocab_size": 30522
})";

TEST(HfConfig, Gpt2FieldsMapOneToOne) {
  models::Gpt2Config c = models::parse_gpt2_config(kGpt2);
  EXPECT_EQ(c.vocab_size, 1000);
  EXPECT_EQ(c.n_positions, 128);
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.inner_dim(), 256);  // n_inner null: 4 n_embd
  EXPECT_EQ(c.activation_function, "gelu_new");
  EXPECT_DOUBLE_EQ(c.layer_norm_epsilon, 1e-5);
  EXPECT_TRUE(c.scale_attn_weights);
  EXPECT_EQ(c.eos_token_id, 50256);
  EXPECT_EQ(c.architectures, std::vector<std::string>{"GPT2LMHeadModel"});
  EXPECT_EQ(models::model_type_of(kGpt2), "gpt2");
}

TEST(HfConfig, BertFieldsMapOneToOne) {
  models::BertConfig c = models::parse_bert_config(kMiniLm);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_size, 384);
  EXPECT_EQ(c.num_hidden_layers, 6);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(models::model_type_of(kMiniLm), "bert");
}

TEST(HfConfig, AbsentFieldsTakeTransformersDefaults) {
  models::Gpt2Config g = models::parse_gpt2_config(R"({"model_type": "gpt2"})");
  EXPECT_EQ(g.vocab_size, 50257);
  EXPECT_EQ(g.n_embd, 768);
  EXPECT_EQ(g.inner_dim(), 3072);
  models::BertConfig b = models::parse_bert_config(R"({"architectures": ["BertForMaskedLM"]})");
  EXPECT_EQ(b.hidden_size, 768);
  EXPECT_EQ(b.intermediate_size, 3072);
  EXPECT_DOUBLE_EQ(b.layer_norm_eps, 1e-12);
}

TEST(HfConfig, LoadsFromAFile) {
  const std::string path = ::testing::TempDir() + "attnkit_config.json";
  std::ofstream(path) << kMiniLm;
  EXPECT_EQ(models::load_bert_config(path).hidden_size, 384);
  std::remove(path.c_str());
  EXPECT_TRUE(throws_error_naming([&] { models::load_bert_config(path); }, "cannot open the config file"));
}

TEST(HfConfig, BadConfigsAreErrorsNamingTheField) {
  using models::parse_bert_config;
  using models::parse_gpt2_config;
  EXPECT_TRUE(throws_error_naming([] { parse_gpt2_config("{\"n_embd\": 64", "m/config.json"); },
                                  "m/config.json: not valid JSON"));
  EXPECT_TRUE(throws_error_naming([] { parse_gpt2_config("[1, 2]"); }, "must be a JSON object, got array"));
  EXPECT_TRUE(throws_error_naming([] { parse_gpt2_config(R"({"model_type": "llama"})"); },
                                  "model_type \"llama\" is not an architecture attnkit runs (gpt2, bert)"));
  EXPECT_TRUE(throws_error_naming([] { parse_gpt2_config(R"({"architectures": ["T5Model"]})"); },
                                  "neither model_type nor architectures"));
  EXPECT_TRUE(throws_error_naming([] { parse_gpt2_config(kMiniLm); }, "this is a bert config, expected gpt2"));
  EXPECT_TRUE(throws_error_naming([] { parse_gpt2_config(R"({"model_type": "gpt2", "n_embd": "64"})"); },
                                  "\"n_embd\" must be an integer, got string"));
  EXPECT_TRUE(throws_error_naming([] { parse_gpt2_config(R"({"model_type": "gpt2", "n_layer": 0})"); },
                                  "\"n_layer\" must be in 1..4096, got 0"));
  EXPECT_TRUE(throws_error_naming(
      [] { parse_gpt2_config(R"({"model_type": "gpt2", "vocab_size": 18446744073709551615})"); },
      "\"vocab_size\" must be in 1.."));
  EXPECT_TRUE(throws_error_naming([] { parse_gpt2_config(R"({"model_type": "gpt2", "n_embd": 64, "n_head": 5})"); },
                                  "n_embd (64) must be divisible by n_head (5)"));
  EXPECT_TRUE(throws_error_naming(
      [] { parse_gpt2_config(R"({"model_type": "gpt2", "activation_function": "mish"})"); },
      "\"activation_function\" is \"mish\"; attnkit supports gelu_new"));
  EXPECT_TRUE(throws_error_naming(
      [] { parse_bert_config(R"({"model_type": "bert", "position_embedding_type": "relative_key"})"); },
      "attnkit supports absolute"));
  EXPECT_TRUE(throws_error_naming([] { parse_bert_config(R"({"model_type": "bert", "layer_norm_eps": -1})"); },
                                  "\"layer_norm_eps\" must be a positive number"));
  EXPECT_TRUE(throws_error_naming([] { parse_bert_config(std::string(100, '[') + std::string(100, ']')); },
                                  "nests deeper than 32 levels"));
}

}  // namespace
}  // namespace attnkit::testing
