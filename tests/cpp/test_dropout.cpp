// dropout (ops/dropout.h): inverted dropout with a counter-based mask.
#include <cmath>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

TEST(Dropout, KeptValuesAreScaledAndTheRestZero) {
  const double p = 0.3;
  Tensor x = away_from_zero({50, 40}, 111, 0.5);
  Generator gen(7);
  Tensor y = dropout(x, p, true, &gen);
  EXPECT_EQ(y.shape(), x.shape());
  std::vector<double> xv = values(x), yv = values(y);
  int64_t dropped = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) {
      ++dropped;
    } else {
      EXPECT_NEAR(yv[i], xv[i] / (1 - p), 1e-6 * std::abs(xv[i])) << "element " << i;
    }
  }
  // 2000 draws: the fraction is within 5 standard deviations (~0.05) of p.
  EXPECT_NEAR(static_cast<double>(dropped) / 2000.0, p, 0.05);
}

TEST(Dropout, MaskFractionIsCloseToP) {
  for (double p : {0.1, 0.5, 0.9}) {
    Generator gen(2024);
    Tensor y = dropout(ones({200000}), p, true, &gen);
    double zeros = 0;
    for (double v : values(y)) zeros += v == 0.0;
    // sd = sqrt(p (1 - p) / n) <= 0.0012; allow ~5 sd.
    EXPECT_NEAR(zeros / 200000.0, p, 0.006) << "p " << p;
  }
}

TEST(Dropout, SameSeedSameMask) {
  Tensor x = randn_tensor({1000}, 112);
  Generator a(5), b(5), c(6);
  std::vector<double> ya = values(dropout(x, 0.5, true, &a));
  EXPECT_TRUE(all_close(dropout(x, 0.5, true, &b), ya, 0, 0));
  EXPECT_FALSE(all_close(dropout(x, 0.5, true, &c), ya, 0, 0));
  // The generator advances: a second draw from the same generator differs.
  EXPECT_FALSE(all_close(dropout(x, 0.5, true, &a), ya, 0, 0));
  // The default generator, reseeded, repeats itself.
  manual_seed(99);
  std::vector<double> first = values(dropout(x, 0.5));
  manual_seed(99);
  EXPECT_TRUE(all_close(dropout(x, 0.5), first, 0, 0));
}

TEST(Dropout, SameMaskOnOneAndTwoThreads) {
  ThreadCountGuard restore;
  Tensor x = ones({300001});
  set_num_threads(1);
  Generator g1(77);
  std::vector<double> one = values(dropout(x, 0.4, true, &g1));
  set_num_threads(2);
  Generator g2(77);
  EXPECT_TRUE(all_close(dropout(x, 0.4, true, &g2), one, 0, 0));
}

TEST(Dropout, IdentityCases) {
  Tensor x = randn_tensor({4, 5}, 113);
  EXPECT_TRUE(all_close(dropout(x, 0.5, false), x, 0, 0));  // eval
  Generator gen(1);
  EXPECT_TRUE(all_close(dropout(x, 0.0, true, &gen), x, 0, 0));
  EXPECT_TRUE(all_close(dropout(x, 1.0, true, &gen), std::vector<double>(20, 0.0), 0, 0));
}

TEST(Dropout, Gradcheck) {
  // A fresh generator with the same seed per evaluation: the same mask, so
  // dropout is a fixed linear map the finite differences can see.
  Tensor x = leaf(relayout(randn_tensor({6, 7}, 114), Layout::Transposed));
  EXPECT_TRUE(gradcheck(
      [](const auto& in) {
        Generator gen(31);
        return dropout(in[0], 0.4, true, &gen);
      },
      {x}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return dropout(in[0], 0.4, false); }, {x}));
}

TEST(Dropout, GradientIsTheMaskOverKeep) {
  Tensor x = leaf(away_from_zero({500}, 115));
  Generator gen(3);
  Tensor y = dropout(x, 0.25, true, &gen);
  y.backward(ones({500}));
  std::vector<double> xv = values(x), yv = values(y), gv = values(x.grad());
  for (size_t i = 0; i < xv.size(); ++i) {
    double expected = yv[i] == 0.0 ? 0.0 : 1.0 / 0.75;
    EXPECT_NEAR(gv[i], expected, 1e-6) << "element " << i;
  }
}

}  // namespace
}  // namespace attnkit::testing
