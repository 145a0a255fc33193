// GPT-2 and BERT without a Python reference (the parity tests against
// transformers are in tests/python): the cache agrees with one pass, padding
// changes nothing for real tokens, a model saved and loaded from a folder
// gives the same output, and broken folders are clear errors.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_support.h"

namespace attnkit::testing {
namespace {

namespace fs = std::filesystem;

models::Gpt2Config tiny_gpt2() {
  models::Gpt2Config c;
  c.vocab_size = 50;
  c.n_positions = 32;
  c.n_embd = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.eos_token_id = 49;
  return c;
}

models::BertConfig tiny_bert() {
  models::BertConfig c;
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 24;
  c.max_position_embeddings = 20;
  return c;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = values(a), y = values(b);
  EXPECT_EQ(x.size(), y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

fs::path scratch_folder(const std::string& name) {
  fs::path folder = fs::temp_directory_path() / ("attnkit_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder;
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Gpt2, CachedStepsEqualOnePass) {
  Generator gen(3);
  models::Gpt2LMHeadModel model(tiny_gpt2(), &gen);
  NoGradGuard no_grad;
  const Tensor input = id_matrix({{1, 5, 9, 13, 2, 7, 30, 31}});
  const Tensor whole = model.forward(input);
  models::Gpt2Cache cache = model.transformer->make_cache(1, 8);
  const Tensor first = model.forward(input.narrow(1, 0, 5), &cache);
  const Tensor rest = model.forward(input.narrow(1, 5, 3), &cache);
  EXPECT_LT(max_abs_diff(first, whole.narrow(1, 0, 5)), 1e-5);
  EXPECT_LT(max_abs_diff(rest, whole.narrow(1, 5, 3)), 1e-5);
}

TEST(Gpt2, GreedyGenerationIsTheArgmaxOfTheFullForward) {
  Generator gen(4);
  models::Gpt2LMHeadModel model(tiny_gpt2(), &gen);
  models::GenerationOptions options;
  options.max_new_tokens = 6;
  options.use_stop_tokens = false;
  const models::GenerationResult result = model.generate({3, 4, 5}, options);
  ASSERT_EQ(result.tokens.size(), 6u);
  std::vector<int64_t> sequence{3, 4, 5};
  NoGradGuard no_grad;
  for (int64_t token : result.tokens) {
    const Tensor logits = model.forward(from_vector_i64(sequence, {1, static_cast<int64_t>(sequence.size())}));
    const Tensor last = logits.select(1, logits.size(1) - 1);
    EXPECT_EQ(static_cast<int64_t>(argmax(last).item()), token);
    sequence.push_back(token);
  }
}

TEST(Gpt2, SavedFolderLoadsBackAndBrokenFoldersAreErrors) {
  Generator gen(5);
  models::Gpt2LMHeadModel model(tiny_gpt2(), &gen);
  const fs::path folder = scratch_folder("gpt2");
  write_text(folder / "config.json",
             R"({"model_type": "gpt2", "vocab_size": 50, "n_positions": 32, "n_embd": 16, "n_layer": 2,
                 "n_head": 2, "eos_token_id": 49})");
  io::save_safetensors((folder / "model.safetensors").string(), model.state_dict());
  auto loaded = models::Gpt2LMHeadModel::from_pretrained(folder.string());
  NoGradGuard no_grad;
  const Tensor input = id_matrix({{1, 2, 3, 4}});
  EXPECT_EQ(max_abs_diff(loaded->forward(input), model.forward(input)), 0.0);

  // One tensor missing: the error names it.
  auto state = model.state_dict();
  state.erase("transformer.h.1.ln_2.bias");
  io::save_safetensors((folder / "model.safetensors").string(), state);
  try {
    models::Gpt2LMHeadModel::from_pretrained(folder.string());
    FAIL() << "a missing tensor loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("transformer.h.1.ln_2.bias"), std::string::npos) << e.what();
  }
  fs::remove(folder / "model.safetensors");
  write_text(folder / "pytorch_model.bin", "pickle");
  EXPECT_THROW(models::Gpt2LMHeadModel::from_pretrained(folder.string()), ValueError);
  EXPECT_THROW(models::BertModel::from_pretrained(folder.string()), ValueError);  // a GPT-2 config
  fs::remove_all(folder);
}

TEST(Bert, PaddingChangesNothingForRealTokens) {
  Generator gen(6);
  models::BertModel model(tiny_bert(), true, &gen);
  NoGradGuard no_grad;
  // Row 0 alone, then batched with a longer row 1 (row 0 padded on the right).
  const Tensor alone = model.forward(id_matrix({{2, 7, 9, 3}})).last_hidden_state;
  const Tensor batch_ids = id_matrix({{2, 7, 9, 3, 0, 0}, {2, 5, 6, 8, 11, 3}});
  const Tensor mask = id_matrix({{1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 1, 1}});
  const models::BertOutput batched = model.forward(batch_ids, mask);
  EXPECT_LT(max_abs_diff(batched.last_hidden_state.select(0, 0).narrow(0, 0, 4), alone.select(0, 0)), 1e-5);
  EXPECT_EQ(max_abs_diff(batched.last_hidden_state.select(0, 0).narrow(0, 4, 2), zeros({2, 16})), 0.0);
  EXPECT_EQ(batched.pooler_output.shape(), (Shape{2, 16}));
}

TEST(Bert, CapturedAttentionRowsAreDistributionsOverRealTokens) {
  Generator gen(7);
  models::BertModel model(tiny_bert(), false, &gen);
  NoGradGuard no_grad;
  models::AttentionCapture capture;
  capture.layers = {-1};
  capture.heads = {0, 3};
  model.forward(id_matrix({{2, 7, 9, 0}, {2, 5, 6, 8}}), id_matrix({{1, 1, 1, 0}, {1, 1, 1, 1}}), Tensor(), &capture);
  ASSERT_EQ(capture.weights.size(), 1u);
  const Tensor w = capture.weights[0];
  ASSERT_EQ(w.shape(), (Shape{2, 2, 4, 4}));
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t i = 0; i < 3; ++i) {
      double row = 0;
      for (int64_t j = 0; j < 4; ++j) row += w.at({0, h, i, j});
      EXPECT_NEAR(row, 1.0, 1e-5);
      EXPECT_EQ(w.at({0, h, i, 3}), 0.0);  // the pad key
    }
  }
  capture.layers = {2};
  EXPECT_THROW(model.forward(id_matrix({{2, 3}}), Tensor(), Tensor(), &capture), ValueError);
}

TEST(Bert, BadInputsAreErrors) {
  Generator gen(8);
  models::BertForMaskedLM model(tiny_bert(), &gen);
  NoGradGuard no_grad;
  EXPECT_THROW(model.forward(id_matrix({std::vector<int64_t>(21, 1)})), ValueError);  // past max positions
  EXPECT_THROW(model.forward(id_matrix({{1, 2}}), id_matrix({{1, 1, 1}})), ValueError);     // mask shape
  EXPECT_THROW(model.forward(id_matrix({{1, 40}})), ValueError);                      // id outside the vocabulary
  EXPECT_THROW(model.forward(from_vector({1.0f, 2.0f}, {1, 2})), ValueError);   // float ids
}

}  // namespace
}  // namespace attnkit::testing
