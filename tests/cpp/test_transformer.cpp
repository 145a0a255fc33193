// attnkit::nn's Transformer in C++: parameter names as torch's, the causal
// mask helper, and a small model that learns to copy a sequence with plain
// SGD (its loss must fall) — the layers, masks and autograd working together.
// Parity with torch.nn.Transformer lives in tests/python/test_transformer.py.
#include <cmath>
#include <limits>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

nn::TransformerOptions small_options() {
  nn::TransformerOptions o;
  o.layer.d_model = 16;
  o.layer.nhead = 2;
  o.layer.dim_feedforward = 32;
  o.layer.dropout = 0.0;
  o.layer.batch_first = true;
  o.num_encoder_layers = 1;
  o.num_decoder_layers = 1;
  return o;
}

TEST(Transformer, ParameterNamesFollowTorch) {
  nn::Transformer model(small_options());
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_parameters()) names.push_back(name);
  ASSERT_EQ(names.size(), 34u);  // 12 (encoder layer) + 2 (norm) + 18 (decoder layer) + 2 (norm)
  EXPECT_EQ(names[0], "encoder.layers.0.self_attn.in_proj_weight");
  EXPECT_EQ(names[12], "encoder.norm.weight");
  EXPECT_EQ(names[18], "decoder.layers.0.multihead_attn.in_proj_weight");
  EXPECT_EQ(names.back(), "decoder.norm.bias");
}

TEST(Transformer, SquareSubsequentMask) {
  Tensor m = nn::generate_square_subsequent_mask(3);
  EXPECT_EQ(m.at({0, 0}), 0.0);
  EXPECT_EQ(m.at({0, 1}), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(m.at({2, 1}), 0.0);
}

TEST(Transformer, LearnsToCopyWithSgd) {
  Generator generator(1);
  nn::TransformerOptions options = small_options();
  nn::Transformer model(options, &generator);
  nn::Embedding embed(6, 16, std::nullopt, &generator);
  nn::Linear head(16, 6, true, &generator);
  // Sequences of 5 tokens in 1..5; the decoder reads <0> + target[:-1] and predicts target.
  Tensor src = randint(1, 6, {8, 5}, &generator);
  Tensor tgt_in = cat({zeros({8, 1}, kInt64), src.narrow(1, 0, 4)}, 1);
  nn::TransformerMasks masks;
  masks.tgt_mask = nn::generate_square_subsequent_mask(5);
  std::vector<Tensor> params = model.parameters();
  for (const Tensor& p : embed.parameters()) params.push_back(p);
  for (const Tensor& p : head.parameters()) params.push_back(p);
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    Tensor out = model.forward(embed.forward(src), embed.forward(tgt_in), masks);  // (8, 5, 16)
    Tensor loss = cross_entropy(head.forward(out).reshape({40, 6}), src.reshape({40}));
    if (step == 0) first = loss.item();
    last = loss.item();
    for (Tensor& p : params) p.set_grad(Tensor());
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor& p : params) p.copy_(sub(p, mul(p.grad(), 0.1)));
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << ", last " << last;
}

}  // namespace
}  // namespace attnkit::testing
