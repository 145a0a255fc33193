// Counter-based RNG (core/rng.h): Philox known answers, reproducibility
// across seeds, generators and thread counts, and sane distributions.
#include <cmath>
#include <set>

#include "test_support.h"

namespace attnkit::testing {
namespace {

TEST(Philox, KnownAnswerVectors) {
  // Random123's kat_vectors for philox4x32 with 10 rounds.
  using Words = std::array<uint32_t, 4>;
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (Words{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, WordIndexing) {
  auto block = philox4x32({5, 0, 0, 0}, {42, 0});
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(philox_word(42, 5, i), block[i]);
  auto next = philox4x32({6, 0, 0, 0}, {42, 0});
  EXPECT_EQ(philox_word(42, 5, 4), next[0]);
  auto high = philox4x32({1, 1, 0, 0}, {7, 9});  // 64-bit counter and key split in halves
  EXPECT_EQ(philox_word((uint64_t{9} << 32) | 7, (uint64_t{1} << 32) | 1, 0), high[0]);
}

TEST(Philox, UnitFloat) {
  EXPECT_EQ(uint_to_unit_float(0), 0.0f);
  EXPECT_LT(uint_to_unit_float(0xffffffffu), 1.0f);
  EXPECT_EQ(uint_to_unit_float(0x80000000u), 0.5f);
}

TEST(Rand, ElementIIsAFunctionOfSeedAndIndex) {
  // The header's contract: element i of a fresh generator's first draw is
  // uint_to_unit_float(philox_word(seed, 0, i)).
  Generator gen(1234);
  Tensor r = rand({37}, &gen);
  std::vector<double> v = values(r);
  for (uint64_t i = 0; i < 37; ++i) {
    EXPECT_EQ(v[i], uint_to_unit_float(philox_word(1234, 0, i))) << "element " << i;
  }
  // The generator reserved ceil(37 / 4) = 10 blocks; the next draw starts there.
  Tensor s = rand({4}, &gen);
  EXPECT_EQ(s.at({0}), uint_to_unit_float(philox_word(1234, 10, 0)));
}

TEST(Rand, SameSeedSameNumbers) {
  Generator a(7), b(7), c(8);
  std::vector<double> first = values(rand({1000}, &a));
  EXPECT_TRUE(all_close(rand({1000}, &b), first, 0, 0));
  EXPECT_FALSE(all_close(rand({1000}, &c), first, 0, 0));
  // The next draw continues the stream rather than repeating it.
  EXPECT_FALSE(all_close(rand({1000}, &a), first, 0, 0));
  a.manual_seed(7);
  EXPECT_EQ(a.seed(), 7u);
  EXPECT_TRUE(all_close(rand({1000}, &a), first, 0, 0));
  // The default generator.
  manual_seed(11);
  EXPECT_EQ(default_generator().seed(), 11u);
  std::vector<double> d = values(randn({100}));
  manual_seed(11);
  EXPECT_TRUE(all_close(randn({100}), d, 0, 0));
}

TEST(Rand, ReserveHandsOutDisjointRanges) {
  Generator gen(3);
  EXPECT_EQ(gen.reserve(5).first_block, 0u);
  EXPECT_EQ(gen.reserve(2).first_block, 5u);
  EXPECT_EQ(gen.reserve(1).first_block, 7u);
  gen.manual_seed(4);
  EXPECT_EQ(gen.reserve(1).first_block, 0u);
}

TEST(Rand, SameNumbersOnOneAndTwoThreads) {
  ThreadCountGuard restore;
  const Shape shape{400003};  // > 100k elements, not a multiple of 4
  std::vector<std::vector<double>> draws[2];
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    EXPECT_EQ(get_num_threads(), threads);
    Generator gen(99);
    draws[threads - 1].push_back(values(rand(shape, &gen)));
    draws[threads - 1].push_back(values(randn(shape, &gen)));
    draws[threads - 1].push_back(values(uniform(shape, -3, 5, &gen)));
    draws[threads - 1].push_back(values(randint(-7, 1000, shape, &gen)));
  }
  for (size_t k = 0; k < draws[0].size(); ++k) {
    EXPECT_TRUE(draws[0][k] == draws[1][k]) << "draw " << k << " differs between 1 and 2 threads";
  }
}

TEST(Rand, UniformRange) {
  Generator gen(5);
  std::vector<double> v = values(rand({200000}, &gen));
  double lo = 1, hi = 0, mean = 0;
  for (double x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    mean += x;
  }
  mean /= v.size();
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  EXPECT_LT(lo, 1e-3);
  EXPECT_GT(hi, 1 - 1e-3);
  EXPECT_NEAR(mean, 0.5, 0.005);  // sd of the mean: 0.29 / sqrt(2e5) = 6.5e-4

  std::vector<double> u = values(uniform({100000}, -2.0, 6.0, &gen));
  double ulo = 1e9, uhi = -1e9, umean = 0;
  for (double x : u) {
    ulo = std::min(ulo, x);
    uhi = std::max(uhi, x);
    umean += x;
  }
  EXPECT_GE(ulo, -2.0);
  EXPECT_LT(uhi, 6.0);
  EXPECT_NEAR(umean / u.size(), 2.0, 0.05);
}

TEST(Rand, NormalMoments) {
  Generator gen(6);
  std::vector<double> v = values(randn({200001}, &gen));
  double mean = 0, sq = 0, within_one = 0;
  for (double x : v) {
    mean += x;
    EXPECT_TRUE(std::isfinite(x));
    within_one += std::abs(x) < 1.0;
  }
  mean /= v.size();
  for (double x : v) sq += (x - mean) * (x - mean);
  const double sd = std::sqrt(sq / (v.size() - 1));
  EXPECT_NEAR(mean, 0.0, 0.01);  // sd of the mean: 2.2e-3
  EXPECT_NEAR(sd, 1.0, 0.01);
  EXPECT_NEAR(within_one / v.size(), 0.6827, 0.01);
}

TEST(Rand, RandintRangeAndCoverage) {
  Generator gen(8);
  std::vector<double> v = values(randint(-3, 4, {70000}, &gen));
  EXPECT_EQ(randint(0, 2, {3}, &gen).dtype(), kInt64);
  std::vector<int64_t> counts(7, 0);
  for (double x : v) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 4);
    ++counts[static_cast<size_t>(x + 3)];
  }
  for (int64_t c : counts) EXPECT_NEAR(c, 10000, 500);  // sd ~ 93
  EXPECT_TRUE(throws_error_naming([&] { randint(5, 5, {2}, &gen); }, "randint"));
}

TEST(Rand, ShapesAndDtypes) {
  Generator gen(9);
  Tensor r = rand({2, 3, 4}, &gen);
  EXPECT_EQ(r.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(r.dtype(), kFloat32);
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_EQ(randn({}, &gen).dim(), 0);
  EXPECT_EQ(rand({0, 3}, &gen).numel(), 0);
  // Consecutive elements are not all equal (a broken counter would repeat).
  std::set<double> distinct;
  for (double x : values(randn({64}, &gen))) distinct.insert(x);
  EXPECT_EQ(distinct.size(), 64u);
}

TEST(Threading, SetAndGet) {
  ThreadCountGuard restore;
  set_num_threads(1);
  EXPECT_EQ(get_num_threads(), 1);
  set_num_threads(2);
  EXPECT_EQ(get_num_threads(), 2);
  EXPECT_TRUE(throws_error_naming([] { set_num_threads(0); }, "set_num_threads"));
}

}  // namespace
}  // namespace attnkit::testing
