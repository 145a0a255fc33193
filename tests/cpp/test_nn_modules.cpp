// attnkit::nn: the Module system (registration, dotted names, state dicts and
// their errors, train/eval), Linear against plain loops, and
// MultiheadAttention against a composition of functional ops. Parity with
// torch.nn lives in tests/python/test_nn_attention.py.
#include <cmath>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

struct Block : nn::Module {
  Block() {
    scale = register_parameter("scale", ones({3}));
    proj = register_module("proj", std::make_shared<nn::Linear>(3, 2));
    running = register_buffer("running", zeros({2}));
  }
  Tensor scale, running;
  std::shared_ptr<nn::Linear> proj;
};

TEST(Module, NamesParametersBuffersAndChildren) {
  Block block;
  std::vector<std::string> names;
  for (auto& [name, t] : block.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"scale", "proj.weight", "proj.bias"}));
  EXPECT_EQ(block.parameters().size(), 3u);
  EXPECT_TRUE(block.proj->weight.requires_grad());
  nn::StateDict state = block.state_dict();
  EXPECT_EQ(state.size(), 4u);
  EXPECT_TRUE(state.count("running"));
  block.eval();
  EXPECT_FALSE(block.proj->is_training());
  block.train();
  EXPECT_TRUE(block.proj->is_training());
}

TEST(Module, LoadStateDictCopiesInPlaceAndNamesEveryProblem) {
  Block source, target;
  source.scale.copy_(full({3}, 2.0));
  target.load_state_dict(source.state_dict());
  EXPECT_EQ(target.scale.at({1}), 2.0);
  EXPECT_TRUE(all_close(target.proj->weight, source.proj->weight, 0, 0));

  nn::StateDict bad = source.state_dict();
  bad["proj.weight"] = zeros({2, 4});
  EXPECT_TRUE(throws_error_naming([&] { target.load_state_dict(bad); },
                                  "size mismatch for \"proj.weight\": checkpoint (2, 4), model (2, 3)"));
  nn::StateDict partial = source.state_dict();
  partial.erase("proj.bias");
  partial["other"] = zeros({1});
  EXPECT_TRUE(throws_error_naming([&] { target.load_state_dict(partial); },
                                  "Missing keys: \"proj.bias\". Unexpected keys: \"other\""));
  nn::LoadResult loose = target.load_state_dict(partial, false);
  EXPECT_EQ(loose.missing_keys, std::vector<std::string>{"proj.bias"});
  EXPECT_EQ(loose.unexpected_keys, std::vector<std::string>{"other"});
  EXPECT_TRUE(throws_error_naming([&] { target.register_parameter("scale", ones({1})); },
                                  "\"scale\" is already registered"));
}

TEST(Linear, MatchesPlainLoopsAndGradchecks) {
  nn::Linear layer(4, 3);
  Tensor x = randn_tensor({2, 4}, 1);
  Tensor y = layer.forward(x);
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t o = 0; o < 3; ++o) {
      double expected = layer.bias.at({o});
      for (int64_t k = 0; k < 4; ++k) expected += x.at({i, k}) * layer.weight.at({o, k});
      EXPECT_NEAR(y.at({i, o}), expected, 1e-5);
    }
  }
  Tensor w = leaf(randn_tensor({3, 4}, 2)), b = leaf(randn_tensor({3}, 3));
  EXPECT_TRUE(gradcheck([](const auto& in) { return nn::linear(in[0], in[1], in[2]); },
                        {leaf(randn_tensor({2, 5, 4}, 4)), w, b}));
}

// out = concat_h softmax(q_h k_hᵀ/√d) v_h Woᵀ + bo, built from functional ops.
TEST(MultiheadAttention, EqualsItsDefinitionComposedFromOps) {
  Generator generator(7);
  nn::MultiheadAttentionOptions options;
  options.embed_dim = 8;
  options.num_heads = 2;
  options.batch_first = true;
  nn::MultiheadAttention mha(options, &generator);
  NoGradGuard no_grad;
  mha.in_proj_bias.copy_(randn_tensor({24}, 8));
  Tensor x = randn_tensor({2, 5, 8}, 9), memory = randn_tensor({2, 6, 8}, 10);
  auto out = mha.forward(x, memory, memory);
  const int64_t E = 8, H = 2, d = 4;
  Tensor q = nn::linear(x, mha.in_proj_weight.narrow(0, 0, E), mha.in_proj_bias.narrow(0, 0, E));
  Tensor k = nn::linear(memory, mha.in_proj_weight.narrow(0, E, E), mha.in_proj_bias.narrow(0, E, E));
  Tensor v = nn::linear(memory, mha.in_proj_weight.narrow(0, 2 * E, E), mha.in_proj_bias.narrow(0, 2 * E, E));
  std::vector<Tensor> heads, weights;
  for (int64_t h = 0; h < H; ++h) {
    Tensor qh = q.narrow(2, h * d, d), kh = k.narrow(2, h * d, d), vh = v.narrow(2, h * d, d);
    Tensor w = softmax(div(matmul(qh, kh.transpose(1, 2)), std::sqrt(4.0)), -1);
    heads.push_back(matmul(w, vh));
    weights.push_back(w);
  }
  Tensor expected = mha.out_proj->forward(cat(heads, -1));
  EXPECT_TRUE(all_close(out.output, expected, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(out.weights, div(add(weights[0], weights[1]), 2.0), 1e-5, 1e-6));
}

TEST(MultiheadAttention, SelfAttentionCausalEqualsAnExplicitMask) {
  nn::MultiheadAttention mha(16, 4);
  Tensor x = randn_tensor({7, 3, 16}, 11);  // (L, N, E)
  nn::MultiheadAttentionCall causal;
  causal.is_causal = true;
  nn::MultiheadAttentionCall masked;
  masked.attn_mask = gt(arange(7.0).unsqueeze(0), arange(7.0).unsqueeze(1));  // true = may not attend
  auto a = mha.forward(x, x, x, causal), b = mha.forward(x, x, x, masked);
  EXPECT_TRUE(all_close(a.output, b.output, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(a.weights, b.weights, 1e-5, 1e-6));
}

TEST(MultiheadAttention, ErrorsNameTheProblem) {
  EXPECT_TRUE(throws_error_naming([] { nn::MultiheadAttention(10, 3); },
                                  "MultiheadAttention: embed_dim (10) must be divisible by num_heads (3)"));
  nn::MultiheadAttention mha(8, 2);
  Tensor x = randn_tensor({4, 2, 8}, 12);
  EXPECT_TRUE(throws_error_naming([&] { mha.forward(x, x, randn_tensor({4, 2, 5}, 13)); },
                                  "value has 5 features, expected vdim 8"));
  EXPECT_TRUE(throws_error_naming([&] { mha.forward(randn_tensor({2, 2, 2, 8}, 14), x, x); },
                                  "query must be (L, E) unbatched or (L, N, E)"));
}

TEST(ScoreAttentionModules, GradcheckThroughTheParameters) {
  nn::BilinearAttention bilinear(3, 4);
  Tensor q = randn_tensor({2, 3}, 20), k = randn_tensor({5, 4}, 21);
  EXPECT_TRUE(gradcheck(
      [&](const auto& in) { return functional::attention(in[0], in[1], Tensor(), [&](const Tensor& a, const Tensor& b) {
                                      return functional::bilinear_score(a, b, in[2]);
                                    }).output; },
      {leaf(q), leaf(k), leaf(bilinear.weight.detach())}));
  nn::AdditiveAttention additive(3, 4, 6);
  auto out = additive.forward(q, k);
  EXPECT_EQ(out.weights.shape(), (Shape{2, 5}));
  sum(out.output).backward();
  EXPECT_TRUE(additive.w_key.grad().defined() && additive.v.grad().defined());
}

}  // namespace
}  // namespace attnkit::testing

namespace attnkit::testing {
namespace {

TEST(KVCache, StepByStepEqualsOnePassWithoutReallocating) {
  const int64_t B = 1, H = 2, N = 9, E = 8;
  Tensor q = randn_tensor({B, H, N, E}, 30), k = randn_tensor({B, H, N, E}, 31), v = randn_tensor({B, H, N, E}, 32);
  functional::SdpaOptions causal;
  causal.is_causal = true;
  Tensor full = functional::scaled_dot_product_attention(q, k, v, causal).output;
  nn::KVCache cache(B, H, 16, E);
  const void* storage = cache.keys().data_ptr();
  std::vector<Tensor> steps;
  for (int64_t t = 0; t < N; ++t) {
    cache.append(k.narrow(2, t, 1), v.narrow(2, t, 1));
    steps.push_back(cache.attend(q.narrow(2, t, 1)).output);
    EXPECT_EQ(cache.keys().data_ptr(), storage);
  }
  EXPECT_TRUE(all_close(cat(steps, 2), full, 1e-5, 2e-6));
  EXPECT_TRUE(throws_error_naming([&] { cache.append(randn_tensor({B, H, 8, E}, 33), randn_tensor({B, H, 8, E}, 34)); },
                                  "KVCache.append: 8 more steps exceed the capacity: 9 cached of 16"));
}

}  // namespace
}  // namespace attnkit::testing
