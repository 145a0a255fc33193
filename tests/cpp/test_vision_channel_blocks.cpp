// The channel-attention blocks (nn/vision: SqueezeExcite, ECA, CBAM,
// SelectiveKernel): parameter names and shapes as timm's, the forward against
// a plain composition of ops written from the paper's equations, the
// attention maps, finite-difference gradchecks of the input and of every
// parameter (train and eval mode where there is a BatchNorm), and bad input.
#include <cmath>
#include <set>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

using nn::vision::CBAM;
using nn::vision::ECA;
using nn::vision::SelectiveKernel;
using nn::vision::SqueezeExcite;

// Forward tolerance against the composition: the same ops in another order
// (the MLP over 2B samples at once, the paths summed without stacking).
constexpr double kAtol = 1e-5, kRtol = 1e-5;

std::vector<std::string> names(const nn::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [name, t] : named) out.push_back(name);
  return out;
}

// The block's input and every parameter, for gradcheck (parameters are
// leaves that alias the module's own tensors, so perturbing them perturbs it).
std::vector<Tensor> input_and_parameters(const Tensor& x, const nn::Module& block) {
  std::vector<Tensor> inputs = {x};
  for (const Tensor& p : block.parameters()) inputs.push_back(p);
  return inputs;
}

// Running statistics away from 0 / 1 and affine parameters away from 1 / 0,
// so eval mode is not the identity and a wrong buffer would show.
void randomise_batch_norms(const nn::Module& block, uint64_t seed) {
  for (auto& [name, t] : block.named_buffers()) {
    if (t.dtype() != kFloat32) continue;
    const bool is_var = name.find("running_var") != std::string::npos;
    t.copy_(is_var ? uniform_tensor(t.shape(), seed++, 0.5, 2.0) : randn_tensor(t.shape(), seed++, 0.3));
  }
  NoGradGuard no_grad;
  for (auto& [name, t] : block.named_parameters()) {
    if (name.find("bn.") != std::string::npos) t.copy_(uniform_tensor(t.shape(), seed++, 0.5, 1.5));
  }
}

// Every value of a map in (0, 1).
::testing::AssertionResult in_open_unit_interval(const Tensor& map) {
  for (double v : values(map)) {
    if (!(v > 0.0 && v < 1.0)) return ::testing::AssertionFailure() << "map value " << v << " outside (0, 1)";
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------- SqueezeExcite

TEST(VisionChannelSqueezeExcite, ParametersAsTimm) {
  SqueezeExcite se({.channels = 64});
  EXPECT_EQ(se.rd_channels, 8);  // 64 / 16 = 4, rounded to the nearest multiple of 8, at least 8
  EXPECT_EQ(names(se.named_parameters()),
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(se.fc1->weight.shape(), (Shape{8, 64, 1, 1}));
  EXPECT_EQ(se.fc2->weight.shape(), (Shape{64, 8, 1, 1}));
  EXPECT_EQ(SqueezeExcite({.channels = 256}).rd_channels, 16);
  EXPECT_EQ(SqueezeExcite({.channels = 256, .rd_ratio = 0.25, .rd_divisor = 1}).rd_channels, 64);
  EXPECT_EQ(SqueezeExcite({.channels = 64, .rd_channels = 5}).rd_channels, 5);

  SqueezeExcite normed({.channels = 16, .bias = false, .use_norm = true});
  EXPECT_EQ(names(normed.named_parameters()),
            (std::vector<std::string>{"fc1.weight", "bn.weight", "bn.bias", "fc2.weight"}));
  EXPECT_EQ(names(normed.named_buffers()),
            (std::vector<std::string>{"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}));
  EXPECT_NE(se.repr().find("SqueezeExcite(\n  channels=64, rd_channels=8\n  (fc1): Conv2d(64, 8"), std::string::npos)
      << se.repr();
}

TEST(VisionChannelSqueezeExcite, ForwardAgainstComposition) {
  for (bool add_maxpool : {false, true}) {
    Generator gen(1);
    SqueezeExcite se({.channels = 8, .rd_channels = 3, .add_maxpool = add_maxpool}, &gen);
    EXPECT_FALSE(se.attention_map().defined());
    Tensor x = randn_tensor({2, 8, 5, 6}, 1);
    Tensor y = se.forward(x);
    ASSERT_EQ(y.shape(), x.shape());

    NoGradGuard no_grad;
    Tensor s = mean(x.reshape({2, 8, 30}), {2}).reshape({2, 8, 1, 1});
    if (add_maxpool) s = (s + max(x.reshape({2, 8, 30}), 2).values.reshape({2, 8, 1, 1})) / 2.0;
    Tensor z = relu(conv2d(s, se.fc1->weight, se.fc1->bias));
    Tensor w = sigmoid(conv2d(z, se.fc2->weight, se.fc2->bias));  // (2, 8, 1, 1)
    EXPECT_TRUE(all_close(y, x * w, kAtol, kRtol)) << "add_maxpool " << add_maxpool;
    EXPECT_TRUE(all_close(se.attention_map(), w.reshape({2, 8}), kAtol, kRtol));
    EXPECT_FALSE(se.attention_map().requires_grad());
    EXPECT_TRUE(in_open_unit_interval(se.attention_map()));
  }
}

TEST(VisionChannelSqueezeExcite, Gradcheck) {
  Generator gen(2);
  SqueezeExcite se({.channels = 6, .rd_channels = 3}, &gen);
  Tensor x = leaf(randn_tensor({2, 6, 4, 4}, 2));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return se.forward(in[0]); }, input_and_parameters(x, se)));

  SqueezeExcite maxpool({.channels = 6, .rd_channels = 3, .add_maxpool = true}, &gen);
  Tensor xm = leaf(distinct_tensor({2, 6, 4, 4}, 3));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return maxpool.forward(in[0]); }, input_and_parameters(xm, maxpool)));
}

TEST(VisionChannelSqueezeExcite, GradcheckWithNormTrainAndEval) {
  Generator gen(3);
  SqueezeExcite se({.channels = 4, .rd_channels = 2, .use_norm = true}, &gen);
  Tensor x = leaf(randn_tensor({3, 4, 3, 3}, 5));
  for (bool training : {true, false}) {
    randomise_batch_norms(se, 4);  // afresh: the training-mode calls moved the running statistics
    se.train(training);
    EXPECT_TRUE(gradcheck([&](const auto& in) { return se.forward(in[0]); }, input_and_parameters(x, se)))
        << "training " << training;
  }
}

TEST(VisionChannelSqueezeExcite, BadInputAndOptions) {
  SqueezeExcite se({.channels = 8});
  EXPECT_TRUE(throws_error_naming([&] { se.forward(zeros({8, 4, 4})); }, "SqueezeExcite: expected a 4-D input"));
  EXPECT_TRUE(throws_error_naming([&] { se.forward(zeros({2, 6, 4, 4})); }, "SqueezeExcite: expected 8 channels"));
  EXPECT_TRUE(throws_error_naming([&] { se.forward(zeros({2, 8, 0, 4})); }, "at least 1×1"));
  EXPECT_TRUE(throws_error_naming([] { SqueezeExcite({.channels = 0}); }, "channels must be positive"));
  EXPECT_TRUE(throws_error_naming([] { SqueezeExcite({.channels = 8, .rd_ratio = 0}); }, "rd_ratio"));
  EXPECT_TRUE(throws_error_naming([] { SqueezeExcite({.channels = 8, .rd_channels = -1}); }, "rd_channels"));
  EXPECT_TRUE(throws_error_naming([] { SqueezeExcite({.channels = 8, .rd_divisor = 0}); }, "rd_divisor"));
}

// ---------------------------------------------------------------- ECA

TEST(VisionChannelEca, AdaptiveKernelSize) {
  // t = int(|log2(C) + 1| / 2), odd, at least 3 (the paper's eq. 12 with timm's rounding).
  EXPECT_EQ(nn::vision::eca_kernel_size(1), 3);
  EXPECT_EQ(nn::vision::eca_kernel_size(64), 3);     // 3.5 -> 3
  EXPECT_EQ(nn::vision::eca_kernel_size(256), 5);    // 4.5 -> 4 -> 5
  EXPECT_EQ(nn::vision::eca_kernel_size(512), 5);    // 5
  EXPECT_EQ(nn::vision::eca_kernel_size(2048), 7);   // 6 -> 7
  EXPECT_EQ(nn::vision::eca_kernel_size(64, 1.0, 1.0), 7);
  EXPECT_EQ(nn::vision::eca_kernel_size(1 << 29), 15);  // log(2^29) / log(2) rounds above 29, as Python's
  ECA eca({.channels = 256});
  EXPECT_EQ(eca.kernel_size, 5);
  EXPECT_EQ(eca.conv->weight.shape(), (Shape{1, 1, 5}));
  EXPECT_EQ(names(eca.named_parameters()), (std::vector<std::string>{"conv.weight"}));
  EXPECT_EQ(ECA({.kernel_size = 9}).kernel_size, 9);  // without channels, as given
}

TEST(VisionChannelEca, ForwardAgainstComposition) {
  Generator gen(4);
  ECA eca({.channels = 12}, &gen);
  Tensor x = randn_tensor({2, 12, 3, 5}, 6);
  Tensor y = eca.forward(x);
  NoGradGuard no_grad;
  Tensor s = mean(x.reshape({2, 12, 15}), {2}).reshape({2, 1, 12});
  Tensor w = sigmoid(conv1d(s, eca.conv->weight, {}, {.padding = 1})).reshape({2, 12, 1, 1});
  EXPECT_TRUE(all_close(y, x * w, kAtol, kRtol));
  EXPECT_EQ(eca.attention_map().shape(), (Shape{2, 12}));
  EXPECT_TRUE(all_close(eca.attention_map(), w.reshape({2, 12}), kAtol, kRtol));
  EXPECT_TRUE(in_open_unit_interval(eca.attention_map()));

  ECA any({.kernel_size = 5});  // no channels given: any count
  EXPECT_EQ(any.forward(randn_tensor({1, 3, 2, 2}, 7)).shape(), (Shape{1, 3, 2, 2}));
  EXPECT_EQ(any.forward(randn_tensor({1, 9, 2, 2}, 8)).shape(), (Shape{1, 9, 2, 2}));
}

TEST(VisionChannelEca, Gradcheck) {
  Generator gen(5);
  ECA eca({.channels = 8}, &gen);
  Tensor x = leaf(randn_tensor({2, 8, 3, 4}, 9));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return eca.forward(in[0]); }, input_and_parameters(x, eca)));
}

TEST(VisionChannelEca, BadInputAndOptions) {
  ECA eca({.channels = 8});
  EXPECT_TRUE(throws_error_naming([&] { eca.forward(zeros({2, 8, 4})); }, "ECA: expected a 4-D input"));
  EXPECT_TRUE(throws_error_naming([&] { eca.forward(zeros({2, 4, 4, 4})); }, "ECA: expected 8 channels"));
  EXPECT_TRUE(throws_error_naming([] { ECA({.kernel_size = 4}); }, "kernel_size must be odd"));
  EXPECT_TRUE(throws_error_naming([] { ECA({.kernel_size = 0}); }, "kernel_size must be odd"));
  EXPECT_TRUE(throws_error_naming([] { ECA({.channels = 8, .gamma = 0}); }, "gamma must be positive"));
  EXPECT_TRUE(throws_error_naming([] { ECA({.channels = 0}); }, "channels must be positive"));
}

// ---------------------------------------------------------------- CBAM

TEST(VisionChannelCbam, ParametersAsTimm) {
  CBAM cbam({.channels = 8});
  EXPECT_EQ(cbam.rd_channels, 1);  // 8 / 16 rounded to the nearest integer, at least 1
  EXPECT_EQ(names(cbam.named_parameters()),
            (std::vector<std::string>{"channel.fc1.weight", "channel.fc2.weight", "spatial.conv.conv.weight",
                                      "spatial.conv.bn.weight", "spatial.conv.bn.bias"}));
  EXPECT_EQ(names(cbam.named_buffers()),
            (std::vector<std::string>{"spatial.conv.bn.running_mean", "spatial.conv.bn.running_var",
                                      "spatial.conv.bn.num_batches_tracked"}));
  EXPECT_EQ(cbam.spatial->conv->conv->weight.shape(), (Shape{1, 2, 7, 7}));
  EXPECT_EQ(CBAM({.channels = 256}).rd_channels, 16);
  CBAM biased({.channels = 64, .rd_ratio = 0.25, .spatial_kernel_size = 3, .mlp_bias = true});
  EXPECT_EQ(biased.rd_channels, 16);
  EXPECT_TRUE(biased.channel->fc1->bias.defined());
  EXPECT_EQ(biased.spatial->conv->conv->weight.shape(), (Shape{1, 2, 3, 3}));
}

TEST(VisionChannelCbam, ForwardAgainstCompositionTrainAndEval) {
  Generator gen(6);
  CBAM cbam({.channels = 6, .rd_channels = 2, .spatial_kernel_size = 3, .mlp_bias = true}, &gen);
  randomise_batch_norms(cbam, 10);
  Tensor x = randn_tensor({2, 6, 5, 4}, 11);
  for (bool training : {true, false}) {
    cbam.train(training);
    const nn::BatchNorm2d& bn = *cbam.spatial->conv->bn;
    Tensor running_mean = bn.running_mean.clone(), running_var = bn.running_var.clone();
    Tensor y = cbam.forward(x);
    ASSERT_EQ(y.shape(), x.shape());

    NoGradGuard no_grad;
    const nn::vision::CbamChannelAttention& ch = *cbam.channel;
    auto mlp = [&](const Tensor& s) {
      return conv2d(relu(conv2d(s, ch.fc1->weight, ch.fc1->bias)), ch.fc2->weight, ch.fc2->bias);
    };
    Tensor flat = x.reshape({2, 6, 20});
    Tensor wc = sigmoid(mlp(mean(flat, {2}).reshape({2, 6, 1, 1})) +
                        mlp(max(flat, 2).values.reshape({2, 6, 1, 1})));  // (2, 6, 1, 1)
    Tensor xc = x * wc;
    Tensor d = cat({mean(xc, {1}, true), max(xc, 1, true).values}, 1);  // (2, 2, 5, 4)
    Tensor ws = sigmoid(batch_norm(conv2d(d, cbam.spatial->conv->conv->weight, {}, {.padding = 1}), running_mean,
                                   running_var, bn.weight, bn.bias, training));  // (2, 1, 5, 4)
    EXPECT_TRUE(all_close(y, xc * ws, kAtol, kRtol)) << "training " << training;
    EXPECT_TRUE(all_close(cbam.attention_map(), ws, kAtol, kRtol));
    EXPECT_TRUE(all_close(cbam.channel_attention_map(), wc.reshape({2, 6}), kAtol, kRtol));
    EXPECT_TRUE(in_open_unit_interval(cbam.attention_map()));
    EXPECT_TRUE(in_open_unit_interval(cbam.channel_attention_map()));
    if (training) {  // the block updated its running statistics as the composition did
      EXPECT_TRUE(all_close(bn.running_mean, running_mean, 1e-6, 1e-6));
      EXPECT_EQ(bn.num_batches_tracked.item(), 1.0);
    }
  }
}

TEST(VisionChannelCbam, GradcheckTrainAndEval) {
  Generator gen(7);
  CBAM cbam({.channels = 4, .rd_channels = 2, .spatial_kernel_size = 3, .mlp_bias = true}, &gen);
  // Distinct values: no ties for the two maxima, and away from the kinks by more than eps.
  Tensor x = leaf(distinct_tensor({2, 4, 4, 4}, 13, 0.05));
  for (bool training : {true, false}) {
    randomise_batch_norms(cbam, 12);  // afresh: the training-mode calls moved the running statistics
    cbam.train(training);
    EXPECT_TRUE(gradcheck([&](const auto& in) { return cbam.forward(in[0]); }, input_and_parameters(x, cbam)))
        << "training " << training;
  }
}

TEST(VisionChannelCbam, TiedChannelMaximaShareTheGradient) {
  // After a ReLU many positions have every channel at 0: the channel max ties
  // across all C, and the input gradient through it is split C ways.
  Generator gen(8);
  CBAM cbam({.channels = 4, .rd_channels = 2, .spatial_kernel_size = 3}, &gen);
  cbam.eval();
  Tensor x = leaf(relu(randn_tensor({2, 4, 5, 5}, 14) - 1.0).detach());
  cbam.forward(x).backward(ones({2, 4, 5, 5}));
  std::vector<double> g = values(x.grad());
  for (double v : g) ASSERT_TRUE(std::isfinite(v));
}

TEST(VisionChannelCbam, BadInputAndOptions) {
  CBAM cbam({.channels = 8});
  EXPECT_TRUE(throws_error_naming([&] { cbam.forward(zeros({2, 8})); }, "CBAM: expected a 4-D input"));
  EXPECT_TRUE(throws_error_naming([&] { cbam.forward(zeros({2, 7, 4, 4})); }, "CBAM: expected 8 channels"));
  EXPECT_TRUE(throws_error_naming([] { CBAM({.channels = 8, .spatial_kernel_size = 6}); },
                                  "spatial_kernel_size must be odd"));
  EXPECT_TRUE(throws_error_naming([] { CBAM({.channels = 8, .rd_ratio = -1}); }, "rd_ratio"));
  EXPECT_TRUE(throws_error_naming([] { CBAM({.channels = -3}); }, "channels must be positive"));
}

// ---------------------------------------------------------------- SelectiveKernel

TEST(VisionChannelSelectiveKernel, ParametersAsTimm) {
  SelectiveKernel sk({.in_channels = 8});
  EXPECT_EQ(sk.out_channels, 8);
  EXPECT_EQ(sk.num_paths, 2);
  EXPECT_EQ(sk.kernel_size, (std::vector<int64_t>{3, 3}));  // 5×5 as a 3×3 with dilation 2
  EXPECT_EQ(sk.dilation, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(sk.attn_channels, 8);  // 8 / 16 rounded to a multiple of 8, at least 8
  EXPECT_EQ(names(sk.named_parameters()),
            (std::vector<std::string>{"paths.0.conv.weight", "paths.0.bn.weight", "paths.0.bn.bias",
                                      "paths.1.conv.weight", "paths.1.bn.weight", "paths.1.bn.bias",
                                      "attn.fc_reduce.weight", "attn.bn.weight", "attn.bn.bias",
                                      "attn.fc_select.weight"}));
  EXPECT_EQ(sk.paths->operator[](0).conv->weight.shape(), (Shape{8, 4, 3, 3}));  // split input: 4 channels each
  EXPECT_EQ(sk.paths->operator[](1).conv->padding, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(sk.attn->fc_select->weight.shape(), (Shape{16, 8, 1, 1}));

  SelectiveKernel wide({.in_channels = 6, .out_channels = 12, .kernel_size = {3, 5, 7}, .stride = 2, .groups = 2,
                        .rd_channels = 4, .keep_3x3 = false, .split_input = false});
  EXPECT_EQ(wide.kernel_size, (std::vector<int64_t>{3, 5, 7}));
  EXPECT_EQ(wide.dilation, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(wide.paths->operator[](2).conv->weight.shape(), (Shape{12, 3, 7, 7}));
  EXPECT_EQ(wide.paths->operator[](2).conv->padding, (std::vector<int64_t>{3, 3}));  // (1 + 6) / 2
  EXPECT_EQ(wide.attn->fc_reduce->weight.shape(), (Shape{4, 12, 1, 1}));
  // groups is capped at out_channels, as timm.
  EXPECT_EQ(SelectiveKernel({.in_channels = 8, .groups = 64, .split_input = false}).groups, 8);
}

// The paper's equations with the functional ops, eval mode (running statistics).
Tensor sk_composition(const SelectiveKernel& sk, const Tensor& x, Tensor* attention) {
  NoGradGuard no_grad;
  auto bn_eval = [](const Tensor& t, const nn::BatchNorm2d& bn) {
    return batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, false);
  };
  const int64_t p = sk.num_paths, path_in = sk.split_input ? sk.in_channels / p : sk.in_channels;
  std::vector<Tensor> u;
  for (int64_t i = 0; i < p; ++i) {
    const nn::vision::ConvNormAct& path = sk.paths->operator[](static_cast<size_t>(i));
    Tensor xi = sk.split_input ? x.narrow(1, i * path_in, path_in).contiguous() : x;
    u.push_back(relu(bn_eval(conv2d(xi, path.conv->weight, {},
                                    {.stride = sk.stride,
                                     .padding = path.conv->padding,
                                     .dilation = sk.dilation[i],
                                     .groups = sk.groups}),
                             *path.bn)));
  }
  Tensor stacked = stack(u, 1);  // (B, P, C, H, W)
  const int64_t b = x.size(0), c = sk.out_channels;
  Tensor s = mean(sum(stacked, {1}), {2, 3}, true);
  Tensor z = relu(bn_eval(conv2d(s, sk.attn->fc_reduce->weight), *sk.attn->bn));
  Tensor a = softmax(conv2d(z, sk.attn->fc_select->weight).reshape({b, p, c, 1, 1}), 1);
  *attention = a.reshape({b, p, c});
  return sum(stacked * a, {1});
}

void check_sk_against_composition(const nn::vision::SelectiveKernelOptions& options, const Shape& input,
                                  uint64_t seed) {
  Generator gen(seed);
  SelectiveKernel sk(options, &gen);
  randomise_batch_norms(sk, seed);
  sk.eval();
  Tensor x = randn_tensor(input, seed);
  Tensor y = sk.forward(x);
  Tensor a;
  Tensor expected = sk_composition(sk, x, &a);
  EXPECT_EQ(y.shape(), expected.shape());
  EXPECT_TRUE(all_close(y, expected, kAtol, kRtol));
  EXPECT_TRUE(all_close(sk.attention_map(), a, kAtol, kRtol));
  // The selection weights are a softmax over paths: in (0, 1), summing to 1.
  EXPECT_TRUE(in_open_unit_interval(sk.attention_map()));
  EXPECT_TRUE(all_close(sum(sk.attention_map(), {1}), ones({x.size(0), sk.out_channels}), 1e-6, 1e-6));
}

TEST(VisionChannelSelectiveKernel, ForwardAgainstComposition) {
  {
    SCOPED_TRACE("default: 3×3 and dilated 3×3, split input");
    check_sk_against_composition({.in_channels = 4, .rd_channels = 3}, {2, 4, 6, 6}, 20);
  }
  {
    SCOPED_TRACE("three paths, stride 2, whole input to each");
    check_sk_against_composition({.in_channels = 4, .out_channels = 6, .kernel_size = {3, 5, 7}, .stride = 2,
                                  .rd_channels = 2, .split_input = false},
                                 {2, 4, 7, 5}, 21);
  }
  {
    SCOPED_TRACE("stride 2, dilation 2, groups 2");
    check_sk_against_composition({.in_channels = 8, .out_channels = 4, .stride = 2, .dilation = 2, .groups = 2,
                                  .rd_channels = 2},
                                 {3, 8, 6, 7}, 22);
  }
  {
    SCOPED_TRACE("true 5×5 kernels (keep_3x3 off)");
    check_sk_against_composition({.in_channels = 6, .kernel_size = {3, 5}, .rd_channels = 2, .keep_3x3 = false},
                                 {2, 6, 5, 5}, 23);
  }
}

// A batch whose samples differ in level (-1, 0.5, 2, ...) more than within
// themselves: the attention's BatchNorm normalises one pooled value per
// sample, and samples with near-equal descriptors would make that (and a
// float32 finite difference through it) ill-conditioned.
Tensor distinct_samples(const Shape& shape, uint64_t seed) {
  std::vector<float> levels;
  for (int64_t b = 0; b < shape[0]; ++b) levels.push_back(-1.0f + 1.5f * static_cast<float>(b));
  return (randn_tensor(shape, seed, 0.5) + from_vector(levels, {shape[0], 1, 1, 1})).detach();
}

TEST(VisionChannelSelectiveKernel, GradcheckTrainAndEval) {
  // Tiny (two 1-channel paths into 4 channels, 3×3 images), with a seed whose
  // ReLU inputs stay clear of 0 by more than the finite difference's step.
  Generator gen(9);
  SelectiveKernel sk({.in_channels = 2, .out_channels = 4, .rd_channels = 2}, &gen);
  Tensor x = leaf(distinct_samples({3, 2, 3, 3}, 140));
  for (bool training : {true, false}) {
    randomise_batch_norms(sk, 40);  // afresh: the training-mode calls moved the running statistics
    sk.train(training);
    EXPECT_TRUE(gradcheck([&](const auto& in) { return sk.forward(in[0]); }, input_and_parameters(x, sk)))
        << "training " << training;
  }
}

TEST(VisionChannelSelectiveKernel, BadInputAndOptions) {
  SelectiveKernel sk({.in_channels = 8});
  EXPECT_TRUE(throws_error_naming([&] { sk.forward(zeros({2, 6, 4, 4})); }, "SelectiveKernel: expected 8 channels"));
  EXPECT_TRUE(throws_error_naming([&] { sk.forward(zeros({8, 4, 4})); }, "expected a 4-D input"));
  EXPECT_TRUE(throws_error_naming([&] { sk.forward(zeros({1, 8, 4, 4})); }, "more than one sample"));
  sk.eval();
  EXPECT_EQ(sk.forward(zeros({1, 8, 4, 4})).shape(), (Shape{1, 8, 4, 4}));  // eval mode takes one sample
  EXPECT_TRUE(throws_error_naming([] { SelectiveKernel({.in_channels = 8, .kernel_size = {3, 4}}); },
                                  "odd and at least 3"));
  EXPECT_TRUE(throws_error_naming([] { SelectiveKernel({.in_channels = 8, .kernel_size = {1, 3}}); },
                                  "odd and at least 3"));
  EXPECT_TRUE(throws_error_naming([] { SelectiveKernel({.in_channels = 8, .kernel_size = {}}); },
                                  "at least one kernel size"));
  EXPECT_TRUE(throws_error_naming([] { SelectiveKernel({.in_channels = 9}); }, "divisible by the number of paths"));
  EXPECT_TRUE(throws_error_naming([] { SelectiveKernel({.in_channels = 8, .groups = 3}); }, "groups=3"));
  EXPECT_TRUE(throws_error_naming([] { SelectiveKernel({.in_channels = 8, .stride = 0}); }, "stride"));
}

}  // namespace
}  // namespace attnkit::testing
