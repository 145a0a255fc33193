// layer_norm (ops/layer_norm.h): forward against the formula (biased
// variance, eps inside the square root), gradients for x, weight and bias.
#include <cmath>

#include "gradcheck.h"
#include "isa_scope.h"
#include "reference.h"

namespace attnkit::testing {
namespace {

struct LayerNormCase {
  const char* name;
  Shape x, normalized;
  bool weight, bias;
  Layout layout = Layout::Contiguous;
};

const std::vector<LayerNormCase>& layer_norm_cases() {
  static const std::vector<LayerNormCase> cases = {
      {"last_dim_affine", {3, 5}, {5}, true, true},
      {"last_dim_plain", {2, 3, 6}, {6}, false, false},
      {"last_dim_weight_only", {4, 5}, {5}, true, false},
      {"last_dim_bias_only", {4, 5}, {5}, false, true},
      {"two_dims_affine", {2, 3, 4}, {3, 4}, true, true},
      {"two_dims_plain", {2, 3, 4}, {3, 4}, false, false},
      {"transposed_input", {3, 6}, {6}, true, true, Layout::Transposed},
      {"strided_input", {2, 2, 5}, {2, 5}, true, true, Layout::Strided},
      {"whole_tensor", {4, 3}, {4, 3}, true, true},
  };
  return cases;
}

class LayerNorm : public ::testing::TestWithParam<size_t> {
 protected:
  const LayerNormCase& c() const { return layer_norm_cases()[GetParam()]; }
  Tensor x() const { return relayout(randn_tensor(c().x, 81, 1.5), c().layout); }
  Tensor weight() const { return c().weight ? uniform_tensor(c().normalized, 82, 0.5, 1.5) : Tensor(); }
  Tensor bias() const { return c().bias ? randn_tensor(c().normalized, 83) : Tensor(); }
};

TEST_P(LayerNorm, ForwardMatchesFormula) {
  Tensor x = this->x(), w = weight(), b = bias();
  const int64_t norm_numel = shape_numel(c().normalized);
  for (double eps : {1e-5, 0.1}) {
    Tensor y = layer_norm(x, c().normalized, w, b, eps);
    EXPECT_EQ(y.shape(), x.shape());
    EXPECT_TRUE(all_close(y, layer_norm_reference(x, norm_numel, w, b, eps), 1e-5, 1e-5))
        << "eps " << eps;
  }
}

TEST_P(LayerNorm, Gradcheck) {
  Tensor x = leaf(this->x());
  Tensor w = c().weight ? leaf(weight()) : Tensor();
  Tensor b = c().bias ? leaf(bias()) : Tensor();
  const Shape normalized = c().normalized;
  EXPECT_TRUE(gradcheck(
      [&](const auto& in) { return layer_norm(in[0], normalized, in[1], in[2]); }, {x, w, b}));
}

INSTANTIATE_TEST_SUITE_P(LayerNorm, LayerNorm, ::testing::Range<size_t>(0, layer_norm_cases().size()),
                         [](const auto& info) { return std::string(layer_norm_cases()[info.param].name); });

TEST(LayerNormProperties, OnlyTheAffineParametersRequireGrad) {
  Tensor x = randn_tensor({4, 5}, 93);
  Tensor w = leaf(uniform_tensor({5}, 94, 0.5, 1.5)), b = leaf(randn_tensor({5}, 95));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return layer_norm(x, {5}, in[0], in[1]); }, {w, b}));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return layer_norm(x, {5}, in[0]); }, {w}));
}

TEST(LayerNormProperties, BackwardMatchesClosedForm) {
  Tensor x = leaf(relayout(randn_tensor({3, 7}, 89, 2.0), Layout::Transposed));
  Tensor w = leaf(uniform_tensor({7}, 90, 0.5, 1.5)), b = leaf(randn_tensor({7}, 91));
  Tensor dy = randn_tensor({3, 7}, 92);
  layer_norm(x, {7}, w, b, 1e-3).backward(dy);
  LayerNormGrads expected = layer_norm_backward_reference(x, 7, w, dy, 1e-3);
  EXPECT_TRUE(all_close(x.grad(), expected.x, 1e-5, 1e-4));
  EXPECT_TRUE(all_close(w.grad(), expected.weight, 1e-5, 1e-4));
  EXPECT_TRUE(all_close(b.grad(), expected.bias, 1e-6, 1e-5));
}

TEST(LayerNormProperties, EveryIsaMatchesTheReference) {
  // The row kernels are compiled for the baseline and for AVX2; both, on
  // rows that are and are not multiples of the 8 lanes, with and without
  // affine parameters, forward and backward.
  for (kernels::Isa isa : kernels::kAllIsas) {
    if (!kernels::cpu_has(isa)) continue;
    kernels::IsaScope scope(isa);
    for (int64_t cols : {5, 8, 64, 203}) {
      Tensor x = leaf(randn_tensor({40, cols}, 200 + static_cast<uint64_t>(cols), 2.0) + 3.0);
      Tensor w = leaf(uniform_tensor({cols}, 301, 0.5, 1.5)), b = leaf(randn_tensor({cols}, 302));
      Tensor dy = randn_tensor({40, cols}, 303);
      Tensor y = layer_norm(x, {cols}, w, b);
      EXPECT_TRUE(all_close(y, layer_norm_reference(x, cols, w, b, 1e-5), 1e-5, 1e-4))
          << kernels::isa_name(isa) << " cols " << cols;
      y.backward(dy);
      LayerNormGrads expected = layer_norm_backward_reference(x, cols, w, dy, 1e-5);
      EXPECT_TRUE(all_close(x.grad(), expected.x, 1e-5, 1e-4)) << kernels::isa_name(isa) << " cols " << cols;
      EXPECT_TRUE(all_close(w.grad(), expected.weight, 1e-4, 1e-4)) << kernels::isa_name(isa) << " cols " << cols;
      EXPECT_TRUE(all_close(b.grad(), expected.bias, 1e-5, 1e-5)) << kernels::isa_name(isa) << " cols " << cols;
      Tensor plain = leaf(randn_tensor({40, cols}, 400 + static_cast<uint64_t>(cols)));
      Tensor y_plain = layer_norm(plain, {cols});
      EXPECT_TRUE(all_close(y_plain, layer_norm_reference(plain, cols, Tensor(), Tensor(), 1e-5), 1e-5, 1e-4));
      y_plain.backward(dy);
      EXPECT_TRUE(all_close(plain.grad(), layer_norm_backward_reference(plain, cols, Tensor(), dy, 1e-5).x, 1e-5,
                            1e-4));
    }
  }
}

TEST(LayerNormProperties, ZeroMeanUnitVariance) {
  Tensor x = randn_tensor({8, 64}, 84, 3.0) + 5.0;
  Tensor y = layer_norm(x, {64}, Tensor(), Tensor(), 0.0);
  std::vector<double> v = values(y);
  for (int r = 0; r < 8; ++r) {
    double mean = 0, sq = 0;
    for (int i = 0; i < 64; ++i) mean += v[r * 64 + i];
    mean /= 64;
    for (int i = 0; i < 64; ++i) sq += (v[r * 64 + i] - mean) * (v[r * 64 + i] - mean);
    EXPECT_NEAR(mean, 0.0, 1e-5);
    EXPECT_NEAR(sq / 64, 1.0, 1e-4);  // biased variance
  }
}

TEST(LayerNormProperties, ConstantRowsGiveBias) {
  // var = 0: y = 0 / sqrt(eps) * w + b = b, finite.
  Tensor x = full({2, 4}, 3.0);
  Tensor b = from_vector({1, 2, 3, 4}, {4});
  Tensor y = layer_norm(x, {4}, ones({4}), b);
  EXPECT_TRUE(all_close(y, {1, 2, 3, 4, 1, 2, 3, 4}, 1e-6, 0));
  Tensor xl = leaf(full({2, 4}, 3.0));
  layer_norm(xl, {4}).backward(randn_tensor({2, 4}, 85));
  for (double g : values(xl.grad())) EXPECT_TRUE(std::isfinite(g));
}

TEST(LayerNormProperties, WideRows) {
  Tensor x = randn_tensor({3, 1000}, 86, 2.0) + 100.0;  // offset tests a stable variance
  Tensor w = uniform_tensor({1000}, 87, 0.5, 1.5), b = randn_tensor({1000}, 88);
  EXPECT_TRUE(all_close(layer_norm(x, {1000}, w, b),
                        layer_norm_reference(x, 1000, w, b, 1e-5), 1e-4, 1e-4));
}

}  // namespace
}  // namespace attnkit::testing
