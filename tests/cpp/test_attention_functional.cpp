// attnkit::functional attention (functional/*.h): finite-difference gradients
// through every mask kind and GQA, fully masked rows, and errors. Parity with
// PyTorch lives in tests/python/test_attention_functional.py.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

using functional::SdpaOptions;

Tensor sdpa(const std::vector<Tensor>& in, const SdpaOptions& options) {
  return functional::scaled_dot_product_attention(in[0], in[1], in[2], options).output;
}

TEST(Sdpa, GradcheckUnmasked) {
  std::vector<Tensor> in{leaf(randn_tensor({2, 2, 3, 4}, 1)), leaf(randn_tensor({2, 2, 5, 4}, 2)),
                         leaf(randn_tensor({2, 2, 5, 3}, 3))};
  EXPECT_TRUE(gradcheck([](const auto& x) { return sdpa(x, {}); }, in));
}

TEST(Sdpa, GradcheckCausalAndScaled) {
  std::vector<Tensor> in{leaf(randn_tensor({1, 2, 5, 4}, 4)), leaf(randn_tensor({1, 2, 5, 4}, 5)),
                         leaf(randn_tensor({1, 2, 5, 4}, 6))};
  SdpaOptions options;
  options.is_causal = true;
  options.scale = 0.7;
  EXPECT_TRUE(gradcheck([options](const auto& x) { return sdpa(x, options); }, in));
}

TEST(Sdpa, GradcheckFloatMaskAndGqa) {
  std::vector<Tensor> in{leaf(randn_tensor({1, 4, 3, 4}, 7)), leaf(randn_tensor({1, 2, 6, 4}, 8)),
                         leaf(randn_tensor({1, 2, 6, 2}, 9)), leaf(randn_tensor({3, 6}, 10))};
  EXPECT_TRUE(gradcheck(
      [](const auto& x) {
        SdpaOptions options;
        options.enable_gqa = true;
        options.attn_mask = x[3];  // the additive mask is differentiable too
        return sdpa(x, options);
      },
      in));
}

// Dropout's mask is a function of the seed: with a fresh generator per
// evaluation every finite difference sees the same mask, so the fused
// backward (which regenerates it) must match them.
TEST(Sdpa, GradcheckWithDropoutOnTheFusedPath) {
  std::vector<Tensor> in{leaf(randn_tensor({1, 2, 9, 8}, 40)), leaf(randn_tensor({1, 2, 11, 8}, 41)),
                         leaf(randn_tensor({1, 2, 11, 8}, 42))};
  EXPECT_TRUE(gradcheck(
      [](const auto& x) {
        Generator generator(123);
        SdpaOptions options;
        options.dropout_p = 0.3;
        options.is_causal = true;
        options.generator = &generator;
        functional::SdpaOutput out = functional::scaled_dot_product_attention(x[0], x[1], x[2], options);
        if (out.output.grad_fn()) {  // finite differences evaluate without recording
          EXPECT_EQ(out.output.grad_fn()->name(), "scaled_dot_product_attention");  // the fused node
        }
        return out.output;
      },
      in));
}

TEST(Sdpa, FullyMaskedRowIsZeroWithZeroGradient) {
  Tensor q = leaf(randn_tensor({3, 4}, 11)), k = leaf(randn_tensor({5, 4}, 12));
  Tensor v = leaf(randn_tensor({5, 2}, 13));
  Tensor mask = ones({3, 5}, kBool);
  mask.select(0, 1).fill_(0.0);
  SdpaOptions options;
  options.attn_mask = mask;
  options.return_lse = true;
  auto out = functional::scaled_dot_product_attention(q, k, v, options);
  EXPECT_EQ(out.output.at({1, 0}), 0.0);
  EXPECT_EQ(out.output.at({1, 1}), 0.0);
  EXPECT_EQ(out.lse.at({1}), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isfinite(out.lse.at({0})));
  sum(out.output).backward();
  for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(q.grad().at({1, j}), 0.0);
  EXPECT_TRUE(std::isfinite(sum(k.grad()).item()));
  // A row-finite gradcheck with the dead row present.
  EXPECT_TRUE(gradcheck([options](const auto& x) { return sdpa(x, options); },
                        {leaf(randn_tensor({3, 4}, 14)), leaf(randn_tensor({5, 4}, 15)),
                         leaf(randn_tensor({5, 2}, 16))}));
}

TEST(Attention, GradcheckEveryScoreFunction) {
  Tensor w = leaf(randn_tensor({3, 4}, 20));
  Tensor wk = leaf(randn_tensor({5, 3}, 21)), wq = leaf(randn_tensor({5, 4}, 22));
  Tensor v = leaf(randn_tensor({5}, 23));
  Tensor mask = ones({1, 6}, kBool);
  mask.select(1, 2).fill_(0.0);
  std::vector<Tensor> in{leaf(randn_tensor({2, 4, 4}, 24)), leaf(randn_tensor({2, 6, 3}, 25)), w, wk, wq, v};
  EXPECT_TRUE(gradcheck(
      [mask](const auto& x) {
        functional::ScoreFn bilinear = [&](const Tensor& q, const Tensor& k) {
          return functional::bilinear_score(q, k, x[2]);
        };
        functional::ScoreFn additive = [&](const Tensor& q, const Tensor& k) {
          return functional::additive_score(q, k, x[3], x[4], x[5]);
        };
        Tensor a = functional::attention(x[0], x[1], Tensor(), bilinear, mask).output;
        Tensor b = functional::attention(x[0], x[1], Tensor(), additive).weights;
        return add(sum(a), sum(mul(b, b)));
      },
      in));
}

TEST(Attention, WeightsRowsSumToOne) {
  Tensor q = randn_tensor({2, 3, 8}, 30), k = randn_tensor({2, 7, 8}, 31);
  auto out = functional::attention(q, k, Tensor(), functional::scaled_dot_score);
  Tensor row_sums = sum(out.weights, {-1});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t m = 0; m < 3; ++m) EXPECT_NEAR(row_sums.at({b, m}), 1.0, 1e-6);
  EXPECT_EQ(out.output.shape(), (Shape{2, 3, 8}));  // plain mode reads out the keys
}

TEST(AttentionErrors, NameTheOp) {
  EXPECT_TRUE(throws_error_naming([] {
    functional::scaled_dot_product_attention(randn({2, 3, 4}), randn({2, 5, 3}), randn({2, 5, 3}));
  }, "scaled_dot_product_attention"));
  EXPECT_TRUE(throws_error_naming([] {
    SdpaOptions options;
    options.enable_gqa = true;
    functional::scaled_dot_product_attention(randn({1, 3, 2, 4}), randn({1, 2, 2, 4}),
                                             randn({1, 2, 2, 4}), options);
  }, "scaled_dot_product_attention"));
  EXPECT_TRUE(throws_error_naming([] { functional::dot_score(randn({2, 3}), randn({2, 4})); }, "dot_score"));
  EXPECT_TRUE(throws_error_naming([] {
    functional::bilinear_score(randn({2, 3}), randn({2, 4}), randn({3, 3}));
  }, "bilinear_score"));
  EXPECT_TRUE(throws_error_naming([] {
    functional::attention(randn({2, 3}), randn({4, 3}), randn({5, 2}), functional::dot_score);
  }, "attention"));
  EXPECT_TRUE(throws_error_naming([] {
    functional::masked_softmax(randn({2, 3}), ones({2, 3}));
  }, "masked_softmax"));
}

}  // namespace
}  // namespace attnkit::testing

namespace attnkit::testing {
namespace {

TEST(HardAttention, LogProbGradcheckAndChosenRows) {
  Tensor q = leaf(randn_tensor({2, 3, 4}, 40)), k = leaf(randn_tensor({2, 5, 4}, 41));
  Tensor v = randn_tensor({2, 5, 2}, 42);
  auto out = functional::hard_attention(q, k, v, functional::scaled_dot_score);
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t m = 0; m < 3; ++m) {
      const int64_t j = static_cast<int64_t>(out.index.at({b, m}));
      EXPECT_EQ(out.output.at({b, m, 1}), v.at({b, j, 1}));
      EXPECT_NEAR(out.log_prob.at({b, m}), std::log(out.weights.at({b, m, j})), 1e-6);
    }
  }
  // With the choice fixed (argmax is locally constant), log_prob is smooth in q and k.
  EXPECT_TRUE(gradcheck(
      [](const auto& x) {
        return functional::hard_attention(x[0], x[1], Tensor(), functional::scaled_dot_score).log_prob;
      },
      {q, k}));
}

TEST(HardAttention, SamplingRepeatsWithASeedAndAvoidsMaskedKeys) {
  Tensor q = randn_tensor({64, 4}, 43), k = randn_tensor({6, 4}, 44);
  Tensor mask = ones({6}, kBool);
  mask.select(0, 3).fill_(0.0);
  Generator first(7), second(7);
  auto a = functional::hard_attention(q, k, Tensor(), functional::dot_score, mask,
                                      functional::HardMode::Sample, &first);
  auto b = functional::hard_attention(q, k, Tensor(), functional::dot_score, mask,
                                      functional::HardMode::Sample, &second);
  for (int64_t i = 0; i < 64; ++i) {
    EXPECT_EQ(a.index.at({i}), b.index.at({i}));
    EXPECT_NE(a.index.at({i}), 3.0);
  }
}

TEST(GumbelSoftmax, HardIsOneHotWithTheSoftGradient) {
  Tensor logits = leaf(randn_tensor({3, 5}, 45));
  Tensor weights = randn_tensor({3, 5}, 46);
  Generator g1(3), g2(3);
  Tensor hard = functional::gumbel_softmax(logits, 0.7, true, &g1);
  sum(mul(hard, weights)).backward();
  Tensor hard_grad = logits.grad().clone();
  logits.set_grad(Tensor());
  Tensor soft = functional::gumbel_softmax(logits, 0.7, false, &g2);
  sum(mul(soft, weights)).backward();
  EXPECT_TRUE(all_close(hard_grad, logits.grad(), 1e-7, 1e-6));
  for (int64_t r = 0; r < 3; ++r) EXPECT_NEAR(sum(hard.select(0, r)).item(), 1.0, 1e-6);
  EXPECT_TRUE(throws_error_naming([&] { functional::gumbel_softmax(logits, 0.0); }, "gumbel_softmax"));
}

}  // namespace
}  // namespace attnkit::testing

namespace attnkit::testing {
namespace {

// The fused kernels (ATTNKIT_SDPA=fused) against the composed reference
// (ATTNKIT_SDPA=reference): output, lse and every gradient.
TEST(FusedSdpa, HeadsOfTheOutputLieSideBySide) {
  // The fused output (N, H, L, Ev) is a view of (N, L, H, Ev) storage, so
  // merging the heads (transpose + reshape, as MultiheadAttention does) is a
  // view; its values are those of the composed path.
  struct Restore {
    ~Restore() { unsetenv("ATTNKIT_SDPA"); }
  } restore;
  Tensor q = randn_tensor({2, 3, 7, 4}, 1), k = randn_tensor({2, 3, 9, 4}, 2), v = randn_tensor({2, 3, 9, 5}, 3);
  setenv("ATTNKIT_SDPA", "fused", 1);
  Tensor fused = functional::scaled_dot_product_attention(q, k, v, {}).output;
  setenv("ATTNKIT_SDPA", "reference", 1);
  Tensor composed = functional::scaled_dot_product_attention(q, k, v, {}).output;
  EXPECT_TRUE(all_close(fused, composed, 1e-5, 1e-5));
  EXPECT_TRUE(fused.transpose(1, 2).is_contiguous());
  EXPECT_EQ(fused.transpose(1, 2).reshape({2, 7, 15}).data_ptr(), fused.data_ptr());
}

TEST(FusedSdpa, MatchesTheComposedReference) {
  struct Restore {
    ~Restore() { unsetenv("ATTNKIT_SDPA"); }
  } restore;
  struct Case {
    Shape q, k, v;
    bool causal;
    int mask;  // 0 none, 1 bool, 2 float
    bool gqa;
    double dropout = 0.0;
  };
  const std::vector<Case> cases = {
      {{2, 3, 65, 16}, {2, 3, 129, 16}, {2, 3, 129, 8}, false, 0, false},
      {{2, 3, 65, 16}, {2, 3, 129, 16}, {2, 3, 129, 8}, true, 0, false, 0.2},
      {{1, 4, 40, 8}, {1, 2, 50, 8}, {1, 2, 50, 8}, false, 1, true, 0.5},
      {{1, 2, 130, 32}, {1, 2, 70, 32}, {1, 2, 70, 32}, true, 0, false},
      {{1, 2, 64, 24}, {1, 2, 200, 24}, {1, 2, 200, 24}, false, 1, false},
      {{2, 2, 7, 8}, {2, 2, 9, 8}, {2, 2, 9, 4}, false, 2, false},
      {{2, 4, 33, 16}, {2, 1, 140, 16}, {2, 1, 140, 16}, true, 0, true},
      {{3, 1, 5, 8}, {1, 1, 6, 8}, {1, 1, 6, 8}, false, 0, false},  // k, v broadcast over batch
  };
  uint64_t seed = 50;
  for (const Case& c : cases) {
    Tensor q = randn_tensor(c.q, seed++), k = randn_tensor(c.k, seed++), v = randn_tensor(c.v, seed++);
    functional::SdpaOptions options;
    options.is_causal = c.causal;
    options.enable_gqa = c.gqa;
    options.return_lse = true;
    options.dropout_p = c.dropout;
    const int64_t L = c.q[2], S = c.k[2];
    if (c.mask == 1) {
      options.attn_mask = gt(randn_tensor({L, S}, seed++), -0.5);
      options.attn_mask.select(1, 0).fill_(1.0);
    } else if (c.mask == 2) {
      options.attn_mask = randn_tensor({c.q[1], L, S}, seed++);
    }
    Tensor upstream = randn_tensor({c.q[0], c.q[1], L, c.v[3]}, seed++);
    struct Run {
      functional::SdpaOutput out;
      std::vector<Tensor> inputs;
    };
    auto run = [&](const char* path) {
      setenv("ATTNKIT_SDPA", path, 1);
      Generator generator(77);  // the same dropout mask on both paths
      functional::SdpaOptions seeded = options;
      seeded.generator = &generator;
      Run r{{}, {leaf(q.clone()), leaf(k.clone()), leaf(v.clone())}};
      r.out = functional::scaled_dot_product_attention(r.inputs[0], r.inputs[1], r.inputs[2], seeded);
      r.out.output.backward(upstream);
      return r;
    };
    Run fused = run("fused"), reference = run("reference");
    ASSERT_EQ(fused.out.output.grad_fn()->name(), "scaled_dot_product_attention");  // really fused
    ASSERT_NE(reference.out.output.grad_fn()->name(), "scaled_dot_product_attention");
    EXPECT_TRUE(all_close(fused.out.output, reference.out.output.detach(), 1e-5, 2e-6)) << shape_str(c.q);
    EXPECT_TRUE(all_close(fused.out.lse, reference.out.lse, 1e-5, 1e-5)) << shape_str(c.q);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(all_close(fused.inputs[i].grad(), reference.inputs[i].grad(), 1e-5, 1e-5))
          << shape_str(c.q) << " gradient of input " << i;
    }
  }
}

}  // namespace
}  // namespace attnkit::testing
