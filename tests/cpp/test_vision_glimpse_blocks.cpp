// The glimpse blocks (nn/vision/dynamic_capacity.h, recurrent_attention.h):
// DynamicCapacity's saliency against its closed form, its forward against a
// recomposition from its own pieces, finite-difference gradients of input
// and every parameter, the maps, nets of your own, bad input; RAM's glimpse
// sensor against plain crops and pooling, its maps, reproducible sampling,
// the gradients each part of the hybrid loss sends (and does not send), a
// finite-difference check where the sample does not depend on the weights,
// bad input, and that it learns a small task.
// Filter: --gtest_filter='VisionGlimpse*'.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <numbers>
#include <set>
#include <vector>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

using nn::vision::DynamicCapacity;
using nn::vision::DynamicCapacityOptions;
using nn::vision::FeatureNet;
using nn::vision::RecurrentAttention;
using nn::vision::RecurrentAttentionOptions;
using nn::vision::RecurrentAttentionOutput;

// ---- DynamicCapacity -------------------------------------------------------------

DynamicCapacityOptions small_dcn(int64_t patch_size = 2, int64_t patch_stride = 2, int64_t patch_padding = 0) {
  return {.in_channels = 2, .num_classes = 3, .dim = 3, .top_k = 2, .patch_size = patch_size,
          .patch_stride = patch_stride, .patch_padding = patch_padding, .fine_width = 3};
}

// The saliency worked out by hand: with z = W_c · mean(SiLU(u)) + b_c,
// u = W_t F + b_t (the 1×1 layer), p = softmax(z) and H = -Σ p log p,
//   ∂H/∂z = -p (log p + H),  ∂H/∂F[:, y, x] = W_tᵀ ((W_cᵀ ∂H/∂z) / (h w) ⊙ SiLU'(u)),
// SiLU'(u) = s (1 + u (1 - s)), s = sigmoid(u).
Tensor closed_form_saliency(const DynamicCapacity& dcn, const Tensor& coarse) {  // coarse (B, D, h, w)
  NoGradGuard no_grad;
  const int64_t rows = coarse.size(2), cols = coarse.size(3);
  Tensor u = conv2d(coarse, dcn.top->weight, dcn.top->bias);                      // (B, D, h, w)
  Tensor z = linear(mean(silu(u), {2, 3}), dcn.classifier->weight, dcn.classifier->bias);  // (B, K)
  Tensor log_p = log_softmax(z, 1), p = softmax(z, 1);
  Tensor entropy = neg(sum(mul(p, log_p), {1}, true));                            // (B, 1)
  Tensor dz = neg(mul(p, add(log_p, entropy)));                                   // (B, K)
  Tensor dpooled = matmul(dz, dcn.classifier->weight);                            // (B, D)
  Tensor s = sigmoid(u);
  Tensor slope = mul(s, add(mul(u, neg(sub(s, 1.0))), 1.0));                     // SiLU'(u)
  Tensor du = mul(div(dpooled.unsqueeze(2).unsqueeze(3), static_cast<double>(rows * cols)), slope);  // (B, D, h, w)
  Tensor w_top = dcn.top->weight.reshape({dcn.top->weight.size(0), dcn.top->weight.size(1)});  // (D_out, D_in)
  Tensor df = matmul(du.permute({0, 2, 3, 1}), w_top);                            // (B, h, w, D_in)
  return sqrt(sum(mul(df, df), {3}));                                             // (B, h, w)
}

Tensor run_coarse(const DynamicCapacity& dcn, const Tensor& x) {
  return std::dynamic_pointer_cast<nn::vision::DynamicCapacityCoarseNet>(dcn.coarse_net)->forward(x);
}

// The forward rebuilt from the block's pieces and its chosen positions.
Tensor recomposed_logits(const DynamicCapacity& dcn, const Tensor& x) {
  NoGradGuard no_grad;
  const DynamicCapacityOptions& o = dcn.options();
  Tensor coarse = run_coarse(dcn, x).contiguous();
  const int64_t cols = coarse.size(3), pad = o.patch_padding;
  Tensor merged = coarse.clone();
  auto fine_net = std::dynamic_pointer_cast<nn::vision::DynamicCapacityFineNet>(dcn.fine_net);
  Tensor positions = dcn.selected_positions();
  for (int64_t b = 0; b < x.size(0); ++b) {
    for (int64_t m = 0; m < o.top_k; ++m) {
      const int64_t i = static_cast<int64_t>(positions.at({b, m, 0}));
      const int64_t j = static_cast<int64_t>(positions.at({b, m, 1}));
      // The patch, cut with explicit zeros where it leaves the image.
      Tensor patch = zeros({1, o.in_channels, o.patch_size, o.patch_size});
      for (int64_t c = 0; c < o.in_channels; ++c) {
        for (int64_t dy = 0; dy < o.patch_size; ++dy) {
          for (int64_t dx = 0; dx < o.patch_size; ++dx) {
            const int64_t y = i * o.patch_stride - pad + dy, xx = j * o.patch_stride - pad + dx;
            if (y < 0 || xx < 0 || y >= x.size(2) || xx >= x.size(3)) continue;
            patch.data<float>()[(c * o.patch_size + dy) * o.patch_size + dx] =
                static_cast<float>(x.at({b, c, y, xx}));
          }
        }
      }
      Tensor fine = fine_net->forward(patch).reshape({o.dim});
      for (int64_t d = 0; d < o.dim; ++d) {
        merged.data<float>()[((b * o.dim + d) * coarse.size(2) + i) * cols + j] = static_cast<float>(fine.at({d}));
      }
    }
  }
  return dcn.top_layers(merged);
}

TEST(VisionGlimpseDynamicCapacity, ShapesMapsAndTheForwardRecomposed) {
  for (auto geometry : {small_dcn(2, 2, 0), small_dcn(3, 2, 1)}) {
    Generator generator(11);
    DynamicCapacity dcn(geometry, &generator);
    Tensor x = randn_tensor({2, 2, 6, 6}, 3);
    Tensor logits = dcn.forward(x);
    EXPECT_EQ(logits.shape(), Shape({2, 3}));
    Tensor saliency = dcn.attention_map();
    EXPECT_EQ(saliency.shape(), Shape({2, 3, 3}));
    EXPECT_FALSE(saliency.requires_grad());
    EXPECT_EQ(dcn.selected_positions().shape(), Shape({2, 2, 2}));
    EXPECT_EQ(dcn.selected_positions().dtype(), kInt64);
    EXPECT_EQ(dcn.selected_regions().shape(), Shape({2, 2, 4}));
    EXPECT_TRUE(all_close(saliency, closed_form_saliency(dcn, run_coarse(dcn, x)), 1e-6, 1e-4));
    EXPECT_TRUE(all_close(logits, recomposed_logits(dcn, x), 1e-5, 1e-5));

    for (int64_t b = 0; b < 2; ++b) {
      std::set<int64_t> chosen;
      double previous = INFINITY;
      for (int64_t m = 0; m < 2; ++m) {
        const int64_t i = static_cast<int64_t>(dcn.selected_positions().at({b, m, 0}));
        const int64_t j = static_cast<int64_t>(dcn.selected_positions().at({b, m, 1}));
        const double s = saliency.at({b, i, j});
        EXPECT_LE(s, previous);  // largest first
        previous = s;
        chosen.insert(i * 3 + j);
        const int64_t y0 = i * geometry.patch_stride - geometry.patch_padding;
        const int64_t x0 = j * geometry.patch_stride - geometry.patch_padding;
        EXPECT_TRUE(all_close(dcn.selected_regions().select(0, b).select(0, m),
                              std::vector<double>{double(y0), double(x0), double(y0 + geometry.patch_size),
                                                  double(x0 + geometry.patch_size)},
                              0, 0));
      }
      for (int64_t p = 0; p < 9; ++p) {  // every other position is no more salient
        if (!chosen.count(p)) EXPECT_LE(saliency.at({b, p / 3, p % 3}), previous);
      }
    }
  }
}

TEST(VisionGlimpseDynamicCapacity, SaliencyTrainsNothingAndRunsUnderNoGrad) {
  Generator generator(5);
  DynamicCapacity dcn(small_dcn(), &generator);
  Tensor x = randn_tensor({2, 2, 6, 6}, 8);
  Tensor with_grad = dcn.forward(x);
  for (const auto& [name, p] : dcn.named_parameters()) EXPECT_FALSE(p.grad().defined()) << name;
  Tensor saliency = dcn.attention_map();
  NoGradGuard no_grad;
  dcn.eval();
  Tensor without = dcn.forward(x);
  EXPECT_FALSE(without.requires_grad());
  EXPECT_TRUE(all_close(without, with_grad, 0, 0));
  EXPECT_TRUE(all_close(dcn.attention_map(), saliency, 0, 0));
  for (const auto& [name, p] : dcn.named_parameters()) EXPECT_FALSE(p.grad().defined()) << name;
}

TEST(VisionGlimpseDynamicCapacity, TiesGoToTheLowerIndex) {
  Generator generator(5);
  DynamicCapacity dcn(small_dcn(), &generator);
  dcn.forward(zeros({1, 2, 6, 6}));  // a blank image: every coarse vector alike
  std::vector<double> saliency = values(dcn.attention_map());
  for (double s : saliency) EXPECT_EQ(s, saliency[0]);
  EXPECT_TRUE(all_close(dcn.selected_positions(), std::vector<double>{0, 0, 0, 1}, 0, 0));
}

TEST(VisionGlimpseDynamicCapacity, GradcheckInputAndEveryParameter) {
  ThreadCountGuard threads;
  set_num_threads(1);  // a few hundred tiny forwards: threads would cost more than they give
  Generator generator(21);
  DynamicCapacityOptions o = small_dcn();
  o.in_channels = 1;
  o.fine_width = 2;
  DynamicCapacity dcn(o, &generator);
  std::vector<Tensor> inputs = {leaf(randn_tensor({2, 1, 4, 4}, 4))};  // a 2x2 coarse map, 2 of 4 chosen
  for (const Tensor& p : dcn.parameters()) inputs.push_back(p);
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return dcn.forward(in[0]); }, inputs));
  // Both nets and the head received gradient.
  for (const auto& [name, p] : dcn.named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
}

TEST(VisionGlimpseDynamicCapacity, NetsOfYourOwnAreChildren) {
  Generator generator(2);
  const DynamicCapacityOptions o = small_dcn();
  auto coarse = std::make_shared<nn::Conv2d>(
      nn::ConvOptions{.in_channels = 2, .out_channels = 3, .kernel_size = 2, .stride = 2}, &generator);
  auto fine = std::make_shared<nn::Conv2d>(nn::ConvOptions{.in_channels = 2, .out_channels = 3, .kernel_size = 2},
                                           &generator);
  DynamicCapacity dcn(o, FeatureNet{coarse, [coarse](const Tensor& x) { return coarse->forward(x); }},
                      FeatureNet{fine, [fine](const Tensor& x) { return fine->forward(x); }}, &generator);
  nn::StateDict state = dcn.state_dict();
  EXPECT_TRUE(state.count("coarse_net.weight") && state.count("fine_net.bias") && state.count("top.weight") &&
              state.count("classifier.bias"));
  EXPECT_EQ(state.size(), 8u);
  Tensor x = leaf(randn_tensor({2, 2, 6, 6}, 9));
  sum(dcn.forward(x)).backward();
  EXPECT_TRUE(fine->weight.grad().defined());
  EXPECT_TRUE(coarse->weight.grad().defined());
  EXPECT_NE(dcn.repr().find("\n  (coarse_net): Conv2d(2, 3, kernel_size=(2, 2), stride=(2, 2))\n"), std::string::npos)
      << dcn.repr();
}

// A one-convolution FeatureNet of 2 input channels.
FeatureNet conv_net(int64_t out_channels, int64_t kernel, int64_t stride) {
  auto conv = std::make_shared<nn::Conv2d>(
      nn::ConvOptions{.in_channels = 2, .out_channels = out_channels, .kernel_size = kernel, .stride = stride});
  return {conv, [conv](const Tensor& x) { return conv->forward(x); }};
}

TEST(VisionGlimpseDynamicCapacity, BadInputAndOptions) {
  Generator generator(1);
  DynamicCapacity dcn(small_dcn(), &generator);
  auto forward_fails = [](DynamicCapacity& block, const Shape& shape, const char* needle) {
    return throws_error_naming([&] { block.forward(randn_tensor(shape, 1)); }, needle);
  };
  EXPECT_TRUE(forward_fails(dcn, {2, 6, 6}, "DynamicCapacity: expected input of shape (B, C, H, W)"));
  EXPECT_TRUE(forward_fails(dcn, {1, 3, 6, 6}, "expected 2 input channels"));
  EXPECT_TRUE(forward_fails(dcn, {1, 2, 1, 6}, "smaller than one patch"));
  EXPECT_TRUE(forward_fails(dcn, {1, 2, 2, 2}, "top_k=2 is more than the 1"));

  auto options_fail = [](auto change, const char* needle) {
    DynamicCapacityOptions o = small_dcn();
    change(o);
    return throws_error_naming([o] { DynamicCapacity{o}; }, needle);
  };
  EXPECT_TRUE(options_fail([](auto& o) { o.top_k = 0; }, "DynamicCapacity: top_k must be positive"));
  EXPECT_TRUE(options_fail([](auto& o) { o.patch_padding = 2; }, "patch_padding must be in [0, patch_size)"));
  EXPECT_TRUE(options_fail([](auto& o) { o.in_channels = 0; }, "in_channels must be positive"));

  // Nets of your own that disagree with the options.
  DynamicCapacity wrong_dim(small_dcn(), conv_net(5, 2, 2), FeatureNet{});
  EXPECT_TRUE(forward_fails(wrong_dim, {1, 2, 6, 6}, "the coarse net must give (1, 3, h, w)"));
  DynamicCapacity too_many(small_dcn(), conv_net(3, 1, 1), FeatureNet{});
  EXPECT_TRUE(forward_fails(too_many, {1, 2, 6, 6}, "reaches past the input"));
  DynamicCapacity wrong_fine(small_dcn(), FeatureNet{}, conv_net(3, 1, 1));
  EXPECT_TRUE(forward_fails(wrong_fine, {1, 2, 6, 6}, "the fine net must give (2, 3, 1, 1) or (2, 3)"));
}

// ---- the glimpse sensor ----------------------------------------------------------

using nn::vision::glimpse_sensor;

Tensor crop(const Tensor& image, int64_t y0, int64_t x0, int64_t side) {  // image (C, H, W), zeros outside
  Tensor out = zeros({image.size(0), side, side});
  for (int64_t c = 0; c < image.size(0); ++c)
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x) {
        const int64_t iy = y0 + y, ix = x0 + x;
        if (iy < 0 || ix < 0 || iy >= image.size(1) || ix >= image.size(2)) continue;
        out.data<float>()[(c * side + y) * side + x] = static_cast<float>(image.at({c, iy, ix}));
      }
  return out;
}

TEST(VisionGlimpseSensor, PixelAlignedGlimpsesAreCropsAndPooledCrops) {
  Tensor image = randn_tensor({3, 2, 8, 8}, 17);
  // Centres in pixels (x, y): (4, 4), (2, 5) and the corner (0, 0), where
  // most of each patch lies outside and reads zeros.
  Tensor where = from_vector({0.0f, 0.0f, -0.5f, 0.25f, -1.0f, -1.0f}, {3, 2});
  Tensor glimpses = glimpse_sensor(image, where, 2, 2);  // (B, k, C, g, g)
  ASSERT_EQ(glimpses.shape(), Shape({3, 2, 2, 2, 2}));
  const int64_t centres[3][2] = {{4, 4}, {2, 5}, {0, 0}};
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t cx = centres[b][0], cy = centres[b][1];
    Tensor fine = crop(image.select(0, b), cy - 1, cx - 1, 2);
    Tensor coarse = avg_pool2d(crop(image.select(0, b), cy - 2, cx - 2, 4), 2);
    EXPECT_TRUE(all_close(glimpses.select(0, b).select(0, 0), fine, 1e-6, 1e-6)) << "sample " << b;
    EXPECT_TRUE(all_close(glimpses.select(0, b).select(0, 1), coarse, 1e-6, 1e-6)) << "sample " << b;
  }
}

TEST(VisionGlimpseSensor, GradcheckImage) {
  ThreadCountGuard threads;
  set_num_threads(1);
  Tensor image = leaf(randn_tensor({2, 2, 6, 5}, 3));
  Tensor where = from_vector({0.13f, -0.31f, 0.77f, 0.52f}, {2, 2});  // between pixels, partly outside
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return glimpse_sensor(in[0], where, 3, 2); }, {image}));
}

TEST(VisionGlimpseSensor, BadInput) {
  Tensor image = randn_tensor({2, 1, 6, 6}, 3);
  auto fails = [](auto call, const char* needle) { return throws_error_naming(call, needle); };
  EXPECT_TRUE(fails([&] { glimpse_sensor(image, zeros({3, 2}), 2, 1); }, "expected locations of shape (2, 2)"));
  EXPECT_TRUE(fails([&] { glimpse_sensor(image.select(0, 0), zeros({2, 2}), 2, 1); }, "expected images of shape"));
  EXPECT_TRUE(fails([&] { glimpse_sensor(image, zeros({2, 2}), 0, 1); }, "glimpse_size and num_scales must be"));
}

// ---- RecurrentAttention ----------------------------------------------------------

RecurrentAttentionOptions small_ram(const std::string& core = "rnn") {
  return {.in_channels = 2, .num_classes = 3, .glimpse_size = 2, .num_scales = 2, .num_glimpses = 3,
          .glimpse_hidden = 5, .location_hidden = 4, .glimpse_dim = 6, .hidden_size = 7, .std = 0.2, .core = core};
}

TEST(VisionGlimpseRecurrentAttention, ShapesMapsAndStateDictNames) {
  for (std::string core : {"rnn", "lstm"}) {
    Generator init(4), noise(9);
    RecurrentAttention ram(small_ram(core), &init);
    EXPECT_FALSE(ram.attention_map().defined());
    Tensor x = randn_tensor({2, 2, 6, 6}, 1);
    RecurrentAttentionOutput out = ram.forward(x, &noise);
    EXPECT_EQ(out.log_probs.shape(), Shape({2, 3}));
    EXPECT_EQ(out.locations.shape(), Shape({2, 3, 2}));
    EXPECT_EQ(out.log_pi.shape(), Shape({2, 3}));
    EXPECT_EQ(out.baselines.shape(), Shape({2, 3}));
    EXPECT_TRUE(all_close(sum(exp(out.log_probs), {1}), std::vector<double>{1, 1}, 1e-5, 1e-5));
    for (double v : values(out.locations)) EXPECT_TRUE(v >= -1 && v <= 1) << v;
    EXPECT_TRUE(all_close(ram.attention_map(), out.locations, 0, 0));
    EXPECT_FALSE(ram.attention_map().requires_grad());
    // Boxes: side 2 and 4 around the centre ((x + 1) W / 2, (y + 1) H / 2).
    Tensor boxes = ram.glimpse_boxes();
    ASSERT_EQ(boxes.shape(), Shape({2, 3, 2, 4}));
    const double cx = (out.locations.at({1, 2, 0}) + 1) * 3, cy = (out.locations.at({1, 2, 1}) + 1) * 3;
    EXPECT_TRUE(all_close(boxes.select(0, 1).select(0, 2).select(0, 1),
                          std::vector<double>{cy - 2, cx - 2, cy + 2, cx + 2}, 1e-5, 1e-6));
    nn::StateDict state = ram.state_dict();
    for (const char* key : {"glimpse_net.patch_fc.weight", "glimpse_net.location_fc.bias", "glimpse_net.what.weight",
                            "glimpse_net.where.bias", "core.weight_ih", "core.weight_hh", "core.bias_ih",
                            "core.bias_hh", "location_net.weight", "baseline_net.bias", "classifier.weight"}) {
      EXPECT_TRUE(state.count(key)) << key;
    }
    EXPECT_EQ(state.at("core.weight_ih").shape(), Shape({(core == "lstm" ? 4 : 1) * 7, 6}));
    EXPECT_EQ(state.at("glimpse_net.patch_fc.weight").shape(), Shape({5, 2 * 2 * 2 * 2}));
  }
}

TEST(VisionGlimpseRecurrentAttention, SamplingIsReproducibleAndTheNoiseIsTheGenerators) {
  Generator init(4);
  RecurrentAttention ram(small_ram(), &init);
  Tensor x = randn_tensor({2, 2, 6, 6}, 2);
  Generator a(77), b(77), c(77);
  RecurrentAttentionOutput first = ram.forward(x, &a), second = ram.forward(x, &b);
  RecurrentAttentionOutput given = ram.forward(x, randn({2, 3, 2}, &c));
  for (auto* out : {&second, &given}) {
    EXPECT_TRUE(all_close(out->locations, first.locations, 0, 0));
    EXPECT_TRUE(all_close(out->log_probs, first.log_probs, 0, 0));
    EXPECT_TRUE(all_close(out->log_pi, first.log_pi, 0, 0));
  }
  // The locations are the noise's: l_t = clamp(μ_t + σ ε_t), so log π_t is the
  // standard normal's log-density of the (unclamped) ε_t, less 2 log σ.
  Generator d(77);
  std::vector<double> eps = values(randn({2, 3, 2}, &d));
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t t = 0; t < 3; ++t) {
      const double e0 = eps[(n * 3 + t) * 2], e1 = eps[(n * 3 + t) * 2 + 1];
      const double expected = -0.5 * (e0 * e0 + e1 * e1) - 2 * std::log(0.2) - std::log(2 * std::numbers::pi);
      EXPECT_NEAR(first.log_pi.at({n, t}), expected, 1e-4);
    }
  }
  // The first location is drawn around tanh(location_net.bias): h_0 = 0.
  for (int64_t k = 0; k < 2; ++k) {
    const double mu = std::tanh(ram.location_net->bias.at({k}));
    EXPECT_NEAR(first.locations.at({0, 0, k}), std::clamp(mu + 0.2 * eps[k], -1.0, 1.0), 1e-5);
  }
}

TEST(VisionGlimpseRecurrentAttention, EvalTakesTheMeanAndDrawsNothing) {
  Generator init(4);
  RecurrentAttention ram(small_ram(), &init);
  ram.eval();
  Tensor x = randn_tensor({2, 2, 6, 6}, 2);
  Generator g(5);
  RecurrentAttentionOutput first = ram.forward(x, &g);
  EXPECT_EQ(g.state().first_block, 0u);
  RecurrentAttentionOutput again = ram.forward(x, Tensor());
  EXPECT_TRUE(all_close(again.locations, first.locations, 0, 0));
  const double at_mean = -2 * std::log(0.2) - std::log(2 * std::numbers::pi);
  EXPECT_TRUE(all_close(first.log_pi, std::vector<double>(6, at_mean), 1e-5, 1e-6));
  for (int64_t k = 0; k < 2; ++k) {
    EXPECT_NEAR(first.locations.at({1, 0, k}), std::tanh(ram.location_net->bias.at({k})), 1e-6);
  }
}

// Each part of the hybrid loss trains its own networks only.
TEST(VisionGlimpseRecurrentAttention, EachLossPartReachesItsOwnNetworks) {
  Generator init(6);
  RecurrentAttention ram(small_ram(), &init);
  Tensor x = randn_tensor({4, 2, 6, 6}, 5);
  Tensor labels = from_vector_i64({0, 1, 2, 1}, {4});
  auto grads_after = [&](auto pick) {
    ram.zero_grad();
    Generator g(3);
    nn::vision::ReinforceLoss loss = nn::vision::reinforce_loss(ram.forward(x, &g), labels);
    pick(loss).backward();
    std::set<std::string> reached;
    for (const auto& [name, p] : ram.named_parameters()) {
      if (p.grad().defined() && max(abs(p.grad())).item() > 0) reached.insert(name.substr(0, name.find('.')));
    }
    return reached;
  };
  using Set = std::set<std::string>;
  EXPECT_EQ(grads_after([](auto& l) { return l.classification; }), Set({"glimpse_net", "core", "classifier"}));
  EXPECT_EQ(grads_after([](auto& l) { return l.reinforce; }), Set({"location_net"}));
  EXPECT_EQ(grads_after([](auto& l) { return l.baseline; }), Set({"baseline_net"}));

  // With one glimpse (h_0 = 0): μ = tanh(b_l), so the REINFORCE gradient of
  // b_l is the score function -mean_n (R_n - b) (l_n - μ) / σ² (1 - μ²), and
  // the baseline's bias gets 2 mean_n (b - R_n).
  RecurrentAttentionOptions one = small_ram();
  one.num_glimpses = 1;
  Generator init1(8);
  RecurrentAttention ram1(one, &init1);
  Tensor eps = randn_tensor({4, 1, 2}, 12);
  RecurrentAttentionOutput out = ram1.forward(x, eps);
  nn::vision::ReinforceLoss loss = nn::vision::reinforce_loss(out, labels);
  add(loss.reinforce, loss.baseline).backward();
  const double b = ram1.baseline_net->bias.at({0});
  double baseline_grad = 0;
  std::vector<double> location_grad(2, 0.0);
  for (int64_t n = 0; n < 4; ++n) {
    const double reward = static_cast<double>(values(argmax(out.log_probs, 1))[n] == values(labels)[n]);
    baseline_grad += 2 * (b - reward) / 4;
    for (int64_t k = 0; k < 2; ++k) {
      const double mu = std::tanh(ram1.location_net->bias.at({k}));
      location_grad[k] += -(reward - b) * (0.2 * eps.at({n, 0, k})) / (0.2 * 0.2) * (1 - mu * mu) / 4;
    }
  }
  EXPECT_NEAR(ram1.baseline_net->bias.grad().at({0}), baseline_grad, 1e-5);
  EXPECT_TRUE(all_close(ram1.location_net->bias.grad(), location_grad, 1e-4, 1e-4));
  EXPECT_NEAR(loss.total.item(), loss.classification.item() + loss.reinforce.item() + loss.baseline.item(), 1e-5);
}

// Where the sample cannot move with the weights (one glimpse, its μ from
// h_0 = 0 and the location net's bias, which is left out), finite
// differences see the same function as backprop: the NLL through classifier,
// core, glimpse net and the sensor to the image.
TEST(VisionGlimpseRecurrentAttention, GradcheckOfTheClassificationPath) {
  for (std::string core : {"rnn", "lstm"}) {
    ThreadCountGuard threads;
    set_num_threads(1);
    RecurrentAttentionOptions o = small_ram(core);
    o.num_glimpses = 1;
    o.glimpse_hidden = o.location_hidden = o.glimpse_dim = 3;
    o.hidden_size = 4;
    Generator init(13);
    RecurrentAttention ram(o, &init);
    Tensor eps = randn_tensor({2, 1, 2}, 4, 0.5);
    std::vector<Tensor> inputs = {leaf(randn_tensor({2, 2, 5, 5}, 6))};
    for (const auto& [name, p] : ram.named_parameters()) {
      if (name.rfind("location_net", 0) != 0 && name.rfind("baseline_net", 0) != 0) inputs.push_back(p);
    }
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return ram.forward(in[0], eps).log_probs; }, inputs))
        << core;
  }
}

TEST(VisionGlimpseRecurrentAttention, BadInputAndOptions) {
  Generator init(1);
  RecurrentAttention ram(small_ram(), &init);
  auto fails = [](auto call, const char* needle) { return throws_error_naming(call, needle); };
  EXPECT_TRUE(fails([&] { ram.forward(randn_tensor({2, 6, 6}, 1)); },
                    "RecurrentAttention: expected input of shape (B, C, H, W)"));
  EXPECT_TRUE(fails([&] { ram.forward(randn_tensor({2, 1, 6, 6}, 1)); }, "expected 2 input channels"));
  EXPECT_TRUE(fails([&] { ram.forward(randn_tensor({2, 2, 6, 6}, 1), zeros({2, 2, 2})); },
                    "training needs location noise of shape (2, 3, 2), got (2, 2, 2)"));
  RecurrentAttentionOutput out = ram.forward(randn_tensor({2, 2, 6, 6}, 1));
  using nn::vision::reinforce_loss;
  EXPECT_TRUE(fails([&] { reinforce_loss(out, from_vector_i64({0, 3}, {2})); }, "labels must be in [0, 3)"));
  EXPECT_TRUE(fails([&] { reinforce_loss(out, from_vector_i64({0}, {1})); }, "expected int64 labels of shape (2)"));
  EXPECT_TRUE(fails([&] { reinforce_loss(out, zeros({2})); }, "expected int64 labels"));
  auto with = [](auto change) {
    RecurrentAttentionOptions o = small_ram();
    change(o);
    return [o] { RecurrentAttention{o}; };
  };
  EXPECT_TRUE(throws_error_naming(with([](auto& o) { o.std = 0; }), "std must be positive"));
  EXPECT_TRUE(throws_error_naming(with([](auto& o) { o.core = "gru"; }), "core must be \"rnn\" or \"lstm\""));
  EXPECT_TRUE(throws_error_naming(with([](auto& o) { o.num_scales = 0; }), "num_scales must be in [1, 16]"));
  EXPECT_TRUE(throws_error_naming(with([](auto& o) { o.num_glimpses = 0; }), "num_glimpses must be positive"));
  EXPECT_TRUE(throws_error_naming(with([](auto& o) { o.hidden_size = 0; }), "must be positive"));
}

// Which quadrant of an 8×8 image holds a bright 2×2 blob? Chance is 1/4.
struct QuadrantBatch {
  Tensor images, labels;
};

QuadrantBatch quadrant_batch(TestRng& rng, int64_t batch) {
  std::vector<float> pixels(static_cast<size_t>(batch * 64));
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  for (int64_t n = 0; n < batch; ++n) {
    float* image = pixels.data() + n * 64;
    for (int64_t p = 0; p < 64; ++p) image[p] = static_cast<float>(0.1 * rng.normal());
    const int64_t quadrant = static_cast<int64_t>(rng.uniform() * 4) % 4;
    const int64_t y = (quadrant / 2) * 4 + static_cast<int64_t>(rng.uniform() * 3);
    const int64_t x = (quadrant % 2) * 4 + static_cast<int64_t>(rng.uniform() * 3);
    for (int64_t dy = 0; dy < 2; ++dy)
      for (int64_t dx = 0; dx < 2; ++dx) image[(y + dy) * 8 + x + dx] += 1.0f;
    labels[static_cast<size_t>(n)] = quadrant;
  }
  return {from_vector(pixels, {batch, 1, 8, 8}), from_vector_i64(labels, {batch})};
}

TEST(VisionGlimpseRecurrentAttention, LearnsWhichQuadrantHoldsTheBlob) {
  ThreadCountGuard threads;
  set_num_threads(1);  // batches of 32 tiny images: one thread is fastest, and steady on a loaded machine
  const auto start = std::chrono::steady_clock::now();
  Generator init(3), noise(4);
  RecurrentAttention ram({.in_channels = 1, .num_classes = 4, .glimpse_size = 4, .num_scales = 2, .num_glimpses = 2,
                          .glimpse_hidden = 16, .location_hidden = 8, .glimpse_dim = 32, .hidden_size = 32,
                          .std = 0.15},
                         &init);
  train::Adam adam(ram.parameters(), {.lr = 1e-2});
  TestRng rng(2024);
  for (int step = 0; step < 150; ++step) {
    QuadrantBatch data = quadrant_batch(rng, 32);
    adam.zero_grad();
    nn::vision::reinforce_loss(ram.forward(data.images, &noise), data.labels).total.backward();
    adam.step();
  }
  ram.eval();
  QuadrantBatch test = quadrant_batch(rng, 256);
  NoGradGuard no_grad;
  std::vector<double> predicted = values(argmax(ram.forward(test.images).log_probs, 1)), truth = values(test.labels);
  int correct = 0;
  for (size_t n = 0; n < truth.size(); ++n) correct += predicted[n] == truth[n];
  EXPECT_GT(correct, 0.9 * 256) << "accuracy " << correct / 256.0 << " (chance 0.25)";
  std::cout << "[ RAM      ] quadrant accuracy " << correct / 256.0 << " after 150 steps in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
}

}  // namespace
}  // namespace attnkit::testing
