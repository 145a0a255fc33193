// The fused linear op (ops/linear.h): y = x Wᵀ + b with the bias added in the
// GEMM's epilogue, against plain double loops over many shapes and layouts,
// and its gradients (dx, dW straight into W's layout, db as column sums) by
// finite differences.
#include "gradcheck.h"

namespace attnkit::testing {
namespace {

// Σ_k x[r, k] W[o, k] + b[o] in double, x flattened to rows.
std::vector<double> linear_reference(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t in = w.size(1), out = w.size(0), rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  std::vector<double> xv = values(x), wv = values(w), bv = b.defined() ? values(b) : std::vector<double>(out, 0.0);
  std::vector<double> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double total = bv[static_cast<size_t>(o)];
      for (int64_t k = 0; k < in; ++k) total += xv[static_cast<size_t>(r * in + k)] * wv[static_cast<size_t>(o * in + k)];
      y[static_cast<size_t>(r * out + o)] = total;
    }
  }
  return y;
}

TEST(LinearOp, MatchesPlainLoopsOverShapesAndLayouts) {
  struct Case {
    Shape x;
    int64_t out;
    bool bias;
  };
  const Case cases[] = {{{5}, 3, true},           {{2, 4}, 3, false},          {{3, 70, 50}, 130, true},
                        {{300, 257}, 65, true},   {{1, 1, 600}, 17, true},     {{400, 40}, 300, false},
                        {{7, 0}, 4, true}};
  uint64_t seed = 1;
  for (const Case& c : cases) {
    for (Layout layout : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
      const int64_t in = c.x.back();
      Tensor x = relayout(randn_tensor(c.x, seed++), layout);
      Tensor w = randn_tensor({c.out, in}, seed++, 0.3);
      Tensor b = c.bias ? randn_tensor({c.out}, seed++) : Tensor();
      Tensor y = linear(x, w, b);
      Shape want_shape = c.x;
      want_shape.back() = c.out;
      EXPECT_EQ(y.shape(), want_shape);
      EXPECT_TRUE(all_close(y, linear_reference(x, w, b), 1e-4, 1e-4))
          << shape_str(c.x) << " out " << c.out << " " << layout_name(layout);
    }
  }
  // bfloat16 weights are widened.
  Tensor x = randn_tensor({4, 9}, 50), w = randn_tensor({6, 9}, 51).to(kBFloat16);
  EXPECT_TRUE(all_close(linear(x, w), linear_reference(x, w.to(kFloat32), Tensor()), 1e-4, 1e-4));
}

TEST(LinearOp, Gradchecks) {
  for (bool with_bias : {true, false}) {
    Tensor x = leaf(relayout(randn_tensor({2, 3, 5}, 60), Layout::Transposed));
    Tensor w = leaf(randn_tensor({4, 5}, 61)), b = leaf(randn_tensor({4}, 62));
    if (with_bias) {
      EXPECT_TRUE(gradcheck([](const auto& in) { return linear(in[0], in[1], in[2]); }, {x, w, b}));
    } else {
      EXPECT_TRUE(gradcheck([](const auto& in) { return linear(in[0], in[1]); }, {x, w}));
    }
  }
  // Only some inputs asking for gradients.
  Tensor x = randn_tensor({3, 5}, 63), w = leaf(randn_tensor({4, 5}, 64));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return linear(x, in[0]); }, {w}));
}

TEST(LinearOp, BadShapesAreErrors) {
  EXPECT_TRUE(throws_error_naming([] { linear(zeros({2, 3}), zeros({4, 5})); },
                                  "linear: input of shape (2, 3) has 3 features, the weight expects 5"));
  EXPECT_TRUE(throws_error_naming([] { linear(zeros({2, 3}), zeros({3})); }, "weight must be (out_features"));
  EXPECT_TRUE(throws_error_naming([] { linear(zeros({2, 3}), zeros({4, 3}), zeros({5})); }, "bias must be (4)"));
  EXPECT_TRUE(throws_error_naming([] { linear(zeros({2, 3}, kInt64), zeros({4, 3})); }, "floating point"));
}

}  // namespace
}  // namespace attnkit::testing
