// The spatial attention blocks (nn/vision): NonLocal, ResidualAttention and
// SpatialTransformer — shapes, parameter names, the initial identity, the
// forward against a plain composition of ops, finite-difference gradchecks of
// the input and the parameters on tiny shapes, the attention maps, and the
// errors. Parity against PyTorch is tests/python/test_parity_vision_spatial_blocks.py.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

using nn::vision::Localization;
using nn::vision::NonLocal;
using nn::vision::ResidualAttention;
using nn::vision::SpatialTransformer;

// Tiny shapes run single-threaded: a parallel region over a few hundred
// elements gains nothing, and on a loaded machine it waits for the second
// thread to be scheduled (milliseconds per op).
class SingleThreaded : public ::testing::Test {
 protected:
  void SetUp() override { set_num_threads(1); }

 private:
  ThreadCountGuard threads_;
};
class VisionNonLocal : public SingleThreaded {};
class VisionResidualAttention : public SingleThreaded {};
class VisionSpatialTransformer : public SingleThreaded {};

std::vector<std::string> parameter_names(const nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& [name, t] : module.named_parameters()) names.push_back(name);
  return names;
}

// Overwrites every parameter with small random values (a fresh NonLocal has a
// zero norm, a fresh SpatialTransformer a zero fc_loc: both pass no gradient
// to the layers before them).
void randomize_parameters(nn::Module& module, uint64_t seed, double scale = 0.5) {
  NoGradGuard no_grad;
  for (auto& [name, t] : module.named_parameters()) t.copy_(randn_tensor(t.shape(), seed++, scale));
}

std::vector<Tensor> with_parameters(Tensor x, const nn::Module& module) {
  std::vector<Tensor> inputs = {std::move(x)};
  for (const Tensor& p : module.parameters()) inputs.push_back(p);
  return inputs;
}

// ---- NonLocal ----------------------------------------------------------------

TEST_F(VisionNonLocal, ShapesNamesAndIdentityAtInit) {
  Generator generator(3);
  NonLocal block({.in_channels = 16}, &generator);
  EXPECT_EQ(block.rd_channels, 8);  // make_divisible(16 / 8, 8) = 8, as timm
  EXPECT_DOUBLE_EQ(block.scale, 0.25);  // in_channels^-½, not rd_channels'
  EXPECT_EQ(parameter_names(block), (std::vector<std::string>{"t.weight", "t.bias", "p.weight", "p.bias", "g.weight",
                                                              "g.bias", "z.weight", "z.bias", "norm.weight",
                                                              "norm.bias"}));
  EXPECT_EQ(block.t->weight.shape(), (Shape{8, 16, 1, 1}));
  EXPECT_EQ(block.z->weight.shape(), (Shape{16, 8, 1, 1}));
  EXPECT_FALSE(block.attention_map().defined());
  Tensor x = randn_tensor({2, 16, 3, 5}, 1);
  EXPECT_TRUE(all_close(block.forward(x), x, 0, 0)) << "a fresh block (zero norm) is the identity";
  EXPECT_EQ(NonLocal({.in_channels = 64, .rd_channels = 5}).rd_channels, 5);
  EXPECT_DOUBLE_EQ(NonLocal({.in_channels = 64, .use_scale = false}).scale, 1.0);
  EXPECT_EQ(block.repr().substr(0, 9), "NonLocal(");
}

TEST_F(VisionNonLocal, MatchesPlainCompositionAndMap) {
  NonLocal block({.in_channels = 6, .rd_channels = 3});
  randomize_parameters(block, 10);
  Tensor x = randn_tensor({2, 6, 3, 4}, 2);
  Tensor y = block.forward(x);

  // The embedded-Gaussian non-local op written out: softmax(θᵀφ · C^-½) gᵀ.
  const int64_t b = 2, c = 3, hw = 12;
  Tensor theta = conv2d(x, block.t->weight, block.t->bias).reshape({b, c, hw}).transpose(1, 2);  // (B, HW, C')
  Tensor phi = conv2d(x, block.p->weight, block.p->bias).reshape({b, c, hw});                    // (B, C', HW)
  Tensor g = conv2d(x, block.g->weight, block.g->bias).reshape({b, c, hw}).transpose(1, 2);      // (B, HW, C')
  Tensor weights = softmax(mul(matmul(theta, phi), 1.0 / std::sqrt(6.0)), -1);                  // (B, HW, HW)
  Tensor attended = matmul(weights, g).transpose(1, 2).reshape({b, c, 3, 4});
  Tensor z = conv2d(attended, block.z->weight, block.z->bias);
  Tensor expected = add(batch_norm(z, Tensor(), Tensor(), block.norm->weight, block.norm->bias, true), x);
  EXPECT_TRUE(all_close(y, expected, 1e-5, 1e-4));

  Tensor map = block.attention_map();
  EXPECT_FALSE(map.requires_grad());
  EXPECT_TRUE(all_close(map, weights, 1e-6, 1e-5));
  EXPECT_TRUE(all_close(sum(map, {-1}), ones({b, hw}), 1e-5, 0)) << "rows sum to 1";
}

TEST_F(VisionNonLocal, GradcheckInputAndParameters) {
  // Sharp attention (scale 1, weights ~N(0, 1)): a softmax that averages over
  // all positions makes z(·) nearly constant per channel, and the training-mode
  // norm then divides by a tiny deviation, amplifying float32 rounding past
  // what finite differences can resolve.
  NonLocal block({.in_channels = 4, .use_scale = false, .rd_channels = 2});
  randomize_parameters(block, 20, 1.0);
  Tensor x = leaf(randn_tensor({2, 4, 3, 3}, 3));
  // The block is smooth, so a wide step costs no truncation error and keeps the
  // float32 rounding of the loss (~1e-6) small beside the difference.
  const GradcheckOptions wide{.eps = 1e-2};
  EXPECT_TRUE(gradcheck([&](const auto& in) { return block.forward(in[0]); }, with_parameters(x, block), wide));
  block.eval();
  EXPECT_TRUE(gradcheck([&](const auto& in) { return block.forward(in[0]); }, with_parameters(x, block), wide))
      << "eval mode";
}

TEST_F(VisionNonLocal, BadInput) {
  NonLocal block({.in_channels = 8});
  EXPECT_TRUE(throws_error_naming([&] { block.forward(randn_tensor({8, 4, 4}, 1)); }, "NonLocal: expected input"));
  EXPECT_TRUE(throws_error_naming([&] { block.forward(randn_tensor({1, 6, 4, 4}, 1)); }, "expected 8 input channels"));
  EXPECT_TRUE(throws_error_naming([] { NonLocal({.in_channels = 0}); }, "NonLocal: in_channels"));
  EXPECT_TRUE(throws_error_naming([] { NonLocal({.in_channels = 8, .rd_ratio = 0}); }, "NonLocal: rd_ratio"));
  EXPECT_TRUE(throws_error_naming([] { NonLocal({.in_channels = 8, .rd_channels = 0}); }, "NonLocal: rd_channels"));
}

// ---- ResidualAttention ---------------------------------------------------------

TEST_F(VisionResidualAttention, ShapesNamesAndMask) {
  ResidualAttention block({.channels = 8, .depth = 2});
  const std::vector<std::string> names = parameter_names(block);
  auto has = [&](const std::string& name) { return std::find(names.begin(), names.end(), name) != names.end(); };
  for (const char* name : {"pre.0.norm1.weight", "pre.0.conv1.weight", "trunk.1.conv3.weight",
                           "mask.down.0.0.conv2.weight", "mask.down.1.0.norm3.bias", "mask.skip.0.conv1.weight",
                           "mask.bottom.0.conv1.weight", "mask.up.0.0.conv3.weight", "mask.norm1.weight",
                           "mask.conv1.weight", "mask.conv2.weight", "mask.conv2.bias", "post.0.conv3.weight"}) {
    EXPECT_TRUE(has(name)) << name;
  }
  EXPECT_FALSE(has("pre.0.conv1.bias")) << "the units' convs have no bias";
  EXPECT_EQ(block.pre->items()[0]->conv2->weight.shape(), (Shape{2, 2, 3, 3}));
  EXPECT_FALSE(block.attention_map().defined());

  for (int64_t depth : {1, 2, 3}) {
    ResidualAttention b({.channels = 4, .p = 0, .t = 1, .depth = depth});
    Tensor x = randn_tensor({2, 4, 7, 5}, 4);  // odd sizes: 7 -> 4 -> 2 -> 1 and back
    Tensor y = b.forward(x);
    EXPECT_EQ(y.shape(), x.shape());
    Tensor mask = b.attention_map();
    ASSERT_EQ(mask.shape(), x.shape());
    EXPECT_FALSE(mask.requires_grad());
    for (double v : values(mask)) EXPECT_TRUE(v > 0 && v < 1) << v;
    // With p = 0 the output is the attention residual itself: (1 + M) · T.
    Tensor trunk = b.trunk->forward(x);
    EXPECT_TRUE(all_close(y, mul(add(mask, 1.0), trunk), 1e-6, 1e-6)) << "depth " << depth;
  }
  EXPECT_EQ(ResidualAttention({.channels = 4, .p = 0, .t = 0, .r = 0}).parameters().size(), 7u)
      << "no units: only the mask's 1×1 head";
}

TEST_F(VisionResidualAttention, UnitIsPreActivationBottleneck) {
  nn::vision::ResidualUnit unit(4);
  randomize_parameters(unit, 30);
  Tensor x = randn_tensor({2, 4, 3, 3}, 5);
  auto bn = [](const Tensor& v, const std::shared_ptr<nn::BatchNorm2d>& n) {
    return batch_norm(v, Tensor(), Tensor(), n->weight, n->bias, true);
  };
  Tensor h = conv2d(relu(bn(x, unit.norm1)), unit.conv1->weight);
  h = conv2d(relu(bn(h, unit.norm2)), unit.conv2->weight, Tensor(), {.padding = 1});
  h = conv2d(relu(bn(h, unit.norm3)), unit.conv3->weight);
  EXPECT_TRUE(all_close(unit.forward(x), add(h, x), 1e-5, 1e-5));
}

// Finite differences need a function without kinks near the point, and every
// perturbation moves every activation (the norms use batch statistics). So the
// norms get weight 0.2 and bias 1: a normalised value of a few units stays above
// -5, keeping every ReLU input positive (the ReLU's own gradient is tested with
// the op) and the activations O(1), so a step of 3e-3 has small truncation and
// rounding errors. Max-pooling stays kink-free by construction: the tests
// perturb nothing upstream of a pooling except the input, whose values are
// 0.05 apart, so no 3×3 window changes its pick.
std::vector<Tensor> smooth_residual_attention_inputs(ResidualAttention& block, const Tensor& x,
                                                     const std::vector<std::string>& prefixes) {
  NoGradGuard no_grad;
  for (auto& [name, t] : block.named_parameters()) {
    if (name.find("norm") == std::string::npos) continue;
    t.fill_(name.ends_with(".weight") ? 0.2 : 1.0);
  }
  std::vector<Tensor> inputs;
  if (x.defined()) inputs.push_back(x);
  for (const auto& [name, t] : block.named_parameters()) {
    for (const std::string& prefix : prefixes) {
      if (name.starts_with(prefix)) inputs.push_back(t);
    }
  }
  return inputs;
}

TEST_F(VisionResidualAttention, GradcheckInputAndParametersDepth1) {
  Generator generator(1);
  ResidualAttention block({.channels = 4, .p = 0, .t = 1, .r = 1, .depth = 1}, &generator);
  Tensor x = leaf(distinct_tensor({1, 4, 5, 5}, 6));
  // The input, the trunk, the mask's unit before and the 1×1 head after its pooling.
  std::vector<Tensor> inputs =
      smooth_residual_attention_inputs(block, x, {"trunk.", "mask.down.0.", "mask.norm", "mask.conv"});
  EXPECT_TRUE(gradcheck([&](const auto& in) { return block.forward(in[0]); }, inputs, {.eps = 3e-3}));
}

TEST_F(VisionResidualAttention, GradcheckParametersDepth2) {
  Generator generator(2);
  ResidualAttention block({.channels = 4, .p = 0, .t = 1, .r = 1, .depth = 2}, &generator);
  Tensor x = distinct_tensor({1, 4, 5, 5}, 7);  // 5 -> 3 -> 2 and back
  // Everything after the first pooling: the second down unit, the bottom, the
  // skip connection, the up unit and the head. (Perturbing the first down unit
  // would move the second pooling's input: a near-tie there is a kink.)
  std::vector<Tensor> inputs = smooth_residual_attention_inputs(
      block, Tensor(), {"mask.down.1.", "mask.bottom.", "mask.skip.", "mask.up.", "mask.norm", "mask.conv"});
  EXPECT_TRUE(gradcheck([&](const auto&) { return block.forward(x); }, inputs, {.eps = 3e-3}));
}

TEST_F(VisionResidualAttention, EvalUsesRunningStatistics) {
  ResidualAttention block({.channels = 4, .p = 1, .t = 1});
  Tensor x = randn_tensor({2, 4, 4, 4}, 7);
  Tensor train_out = block.forward(x);
  block.eval();
  Tensor eval_out = block.forward(x);
  EXPECT_EQ(eval_out.shape(), x.shape());
  EXPECT_FALSE(all_close(eval_out, train_out, 1e-3, 1e-3)) << "eval mode normalises with the running statistics";
  EXPECT_EQ(block.pre->items()[0]->norm1->num_batches_tracked.item(), 1.0);
}

TEST_F(VisionResidualAttention, BadInput) {
  ResidualAttention block({.channels = 8});
  EXPECT_TRUE(throws_error_naming([&] { block.forward(randn_tensor({8, 4, 4}, 1)); },
                                  "ResidualAttention: expected input (B, C, H, W)"));
  EXPECT_TRUE(throws_error_naming([&] { block.forward(randn_tensor({1, 4, 4, 4}, 1)); },
                                  "expected 8 input channels"));
  EXPECT_TRUE(throws_error_naming([] { ResidualAttention({.channels = 6}); }, "positive multiple of 4"));
  EXPECT_TRUE(throws_error_naming([] { ResidualAttention({.channels = 8, .depth = 0}); }, "depth"));
  EXPECT_TRUE(throws_error_naming([] { ResidualAttention({.channels = 8, .r = -1}); }, "must be >= 0"));
}

// ---- SpatialTransformer ---------------------------------------------------------

// A small localisation net of our own: average-pool to 2×2, Linear, tanh.
struct PooledLocalization : nn::Module {
  explicit PooledLocalization(int64_t channels) {
    fc = register_module("fc", std::make_shared<nn::Linear>(channels * 4, 4));
  }
  std::string name() const override { return "PooledLocalization"; }
  Tensor forward(const Tensor& x) const { return tanh(fc->forward(adaptive_avg_pool2d(x, 2).flatten(1))); }
  std::shared_ptr<nn::Linear> fc;
};

TEST_F(VisionSpatialTransformer, DefaultNetStartsAsIdentity) {
  Generator generator(5);
  auto stn = std::make_shared<SpatialTransformer>(
      nn::vision::SpatialTransformerOptions{.in_channels = 1, .input_size = {32, 32}}, &generator);
  EXPECT_EQ(parameter_names(*stn),
            (std::vector<std::string>{"localization.conv1.weight", "localization.conv1.bias",
                                      "localization.conv2.weight", "localization.conv2.bias",
                                      "localization.fc.weight", "localization.fc.bias", "fc_loc.weight",
                                      "fc_loc.bias"}));
  auto& net = dynamic_cast<nn::vision::StnLocalization&>(*stn->localization);
  EXPECT_EQ(net.fc->in_features, 10 * 4 * 4);  // 32 -conv 7-> 26 -pool-> 13 -conv 5-> 9 -pool-> 4
  EXPECT_FALSE(stn->theta().defined() || stn->warped().defined() || stn->attention_map().defined());

  Tensor x = randn_tensor({2, 1, 32, 32}, 8);
  Tensor y = stn->forward(x);
  EXPECT_TRUE(all_close(y, x, 1e-5, 1e-5)) << "the identity transform at init";
  EXPECT_TRUE(all_close(stn->theta(), from_vector({1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0}, {2, 2, 3}), 0, 0));
  EXPECT_EQ(stn->attention_map().shape(), (Shape{2, 32, 32, 2}));
  EXPECT_TRUE(all_close(stn->warped(), y, 0, 0));
  EXPECT_FALSE(stn->warped().requires_grad() || stn->theta().requires_grad());
}

TEST_F(VisionSpatialTransformer, ForwardIsAffineGridThenGridSample) {
  for (bool align_corners : {false, true}) {
    SpatialTransformer stn({.in_channels = 2, .input_size = {18, 20}, .output_size = {5, 7},
                            .padding_mode = "border", .align_corners = align_corners});
    randomize_parameters(stn, 40, 0.2);
    Tensor x = randn_tensor({3, 2, 18, 20}, 9);
    Tensor y = stn.forward(x);
    ASSERT_EQ(y.shape(), (Shape{3, 2, 5, 7}));
    Tensor theta = stn.fc_loc->forward(dynamic_cast<nn::vision::StnLocalization&>(*stn.localization).forward(x));
    theta = theta.reshape({3, 2, 3});
    Tensor grid = affine_grid(theta, {3, 2, 5, 7}, align_corners);
    EXPECT_TRUE(all_close(stn.theta(), theta, 0, 0));
    EXPECT_TRUE(all_close(stn.attention_map(), grid, 0, 0));
    EXPECT_TRUE(all_close(y, grid_sample(x, grid, "bilinear", "border", align_corners), 0, 0));
  }
}

TEST_F(VisionSpatialTransformer, TranslationShiftsTheImage) {
  // θ = [1 0 2/W; 0 1 0]: output column w reads input column w + 1 (the last one reads zeros).
  auto net = std::make_shared<PooledLocalization>(1);
  SpatialTransformer stn({.in_channels = 1, .localization_features = 4}, Localization::of(net));
  {
    NoGradGuard no_grad;
    stn.fc_loc->bias.copy_(from_vector({1, 0, 2.0f / 5, 0, 1, 0}, {6}));
  }
  Tensor x = randn_tensor({1, 1, 4, 5}, 10);
  Tensor y = stn.forward(x);
  EXPECT_TRUE(all_close(y.narrow(3, 0, 4), x.narrow(3, 1, 4), 1e-5, 1e-5));
  EXPECT_TRUE(all_close(y.narrow(3, 4, 1), zeros({1, 1, 4, 1}), 1e-5, 0));
}

TEST_F(VisionSpatialTransformer, GradcheckOwnLocalizationNet) {
  auto net = std::make_shared<PooledLocalization>(2);
  // Bicubic sampling: its gradient with respect to the grid is continuous.
  // Bilinear's jumps wherever a sample point crosses a pixel centre, and with
  // every parameter moving every sample point some crossing lands inside ±eps;
  // the Python test checks bilinear gradients against PyTorch instead.
  SpatialTransformer stn({.in_channels = 2, .output_size = {4, 5}, .localization_features = 4, .mode = "bicubic"},
                         Localization::of(net));
  EXPECT_EQ(parameter_names(stn), (std::vector<std::string>{"localization.fc.weight", "localization.fc.bias",
                                                            "fc_loc.weight", "fc_loc.bias"}));
  randomize_parameters(stn, 50, 0.3);
  {
    NoGradGuard no_grad;  // a generic transform near the identity: sample points away from pixel centres
    stn.fc_loc->bias.copy_(from_vector({0.9f, 0.13f, 0.07f, -0.11f, 0.8f, -0.05f}, {6}));
  }
  Tensor x = leaf(randn_tensor({2, 2, 6, 6}, 11));
  // A wide step: sample coordinates are float32 (~2e-7 of a pixel), which puts
  // ~1e-6 of noise on the loss.
  EXPECT_TRUE(
      gradcheck([&](const auto& in) { return stn.forward(in[0]); }, with_parameters(x, stn), {.eps = 1e-2}));
}

TEST_F(VisionSpatialTransformer, LocalizationFromALambda) {
  // Any module and any function: here the features are the module's Linear over the image mean.
  auto fc = std::make_shared<nn::Linear>(1, 3);
  SpatialTransformer stn({.in_channels = 3, .localization_features = 3},
                         Localization{fc, [fc](const Tensor& x) { return fc->forward(mean(x, {1, 2, 3}).unsqueeze(1)); }});
  Tensor x = randn_tensor({2, 3, 5, 5}, 12);
  EXPECT_TRUE(all_close(stn.forward(x), x, 1e-5, 1e-5));
  EXPECT_EQ(stn.localization, fc);
}

TEST_F(VisionSpatialTransformer, BadInput) {
  using Options = nn::vision::SpatialTransformerOptions;
  SpatialTransformer stn({.in_channels = 1, .input_size = {20, 20}});
  EXPECT_TRUE(throws_error_naming([&] { stn.forward(randn_tensor({1, 20, 20}, 1)); },
                                  "SpatialTransformer: expected input (B, C, H, W)"));
  EXPECT_TRUE(throws_error_naming([&] { stn.forward(randn_tensor({1, 2, 20, 20}, 1)); },
                                  "expected 1 input channels"));
  EXPECT_TRUE(throws_error_naming([&] { stn.forward(randn_tensor({1, 1, 24, 20}, 1)); },
                                  "built for inputs of 20 x 20"));
  EXPECT_TRUE(throws_error_naming([] { SpatialTransformer(Options{.in_channels = 1}); }, "needs input_size"));
  EXPECT_TRUE(throws_error_naming([] { SpatialTransformer(Options{.in_channels = 1, .input_size = {17, 30}}); },
                                  "at least 18 x 18"));
  EXPECT_TRUE(throws_error_naming(
      [] { SpatialTransformer(Options{.in_channels = 1, .input_size = {20, 20}, .mode = "linear"}); }, "mode"));
  EXPECT_TRUE(throws_error_naming(
      [] { SpatialTransformer(Options{.in_channels = 1, .input_size = {20, 20}, .padding_mode = "wrap"}); },
      "padding_mode"));
  EXPECT_TRUE(throws_error_naming(
      [] { SpatialTransformer(Options{.in_channels = 1, .input_size = {20, 20}, .output_size = {0, 3}}); },
      "output_size"));
  auto net = std::make_shared<PooledLocalization>(1);
  EXPECT_TRUE(throws_error_naming([&] { SpatialTransformer(Options{.in_channels = 1}, Localization::of(net)); },
                                  "localization_features"));
  SpatialTransformer wrong_width({.in_channels = 1, .localization_features = 5}, Localization::of(net));
  EXPECT_TRUE(throws_error_naming([&] { wrong_width.forward(randn_tensor({2, 1, 6, 6}, 1)); },
                                  "should give features (2, 5)"));
  EXPECT_TRUE(throws_error_naming(
      [&] { SpatialTransformer(Options{.in_channels = 1, .localization_features = 4}, Localization{net, nullptr}); },
      "no forward function"));
}

}  // namespace
}  // namespace attnkit::testing
