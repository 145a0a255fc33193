// grid_sample and affine_grid (ops/grid_sample.h, ops/affine_grid.h): the
// fast sampler against the reference loops over random shapes and every
// option; finite-difference gradients away from pixel boundaries; the
// documented NaN results; bad input.
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "isa_scope.h"
#include "kernels/grid_sample.h"
#include "kernels/grid_sample_reference.h"

namespace attnkit::testing {
namespace {

using kernels::GridSampleArgs;
using kernels::GridSampleMode;
using kernels::GridSamplePadding;

constexpr GridSampleMode kModes[] = {GridSampleMode::Bilinear, GridSampleMode::Nearest, GridSampleMode::Bicubic};
constexpr GridSamplePadding kPaddings[] = {GridSamplePadding::Zeros, GridSamplePadding::Border,
                                           GridSamplePadding::Reflection};
const char* const kModeNames[] = {"bilinear", "nearest", "bicubic"};
const char* const kPaddingNames[] = {"zeros", "border", "reflection"};

// ---- the kernels: fast against reference --------------------------------------

struct KernelCase {
  int64_t n, c, h_in, w_in, h_out, w_out;
};

// The output of one kernel call and both gradients.
struct KernelResult {
  std::vector<float> out, grad_input, grad_grid;
};

KernelResult run_kernels(const GridSampleArgs& a, const std::vector<float>& up, bool fast, bool want_input,
                         bool want_grid) {
  KernelResult r;
  r.out.assign(a.batch * a.channels * a.out_height * a.out_width, -7.0f);
  r.grad_input.assign(want_input ? a.batch * a.channels * a.in_height * a.in_width : 0, -7.0f);
  r.grad_grid.assign(want_grid ? a.batch * a.out_height * a.out_width * 2 : 0, -7.0f);
  float* gi = want_input ? r.grad_input.data() : nullptr;
  float* gg = want_grid ? r.grad_grid.data() : nullptr;
  if (fast) {
    kernels::grid_sample_forward(r.out.data(), a);
    kernels::grid_sample_backward(gi, gg, up.data(), a);
  } else {
    kernels::grid_sample_forward_reference(r.out.data(), a);
    kernels::grid_sample_backward_reference(gi, gg, up.data(), a);
  }
  return r;
}

::testing::AssertionResult close(const std::vector<float>& actual, const std::vector<float>& expected, double atol,
                                 double rtol, const char* what) {
  if (actual.size() != expected.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  int64_t bad = 0;
  std::ostringstream report;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    const bool same = (std::isnan(a) && std::isnan(e)) || std::fabs(a - e) <= atol + rtol * std::fabs(e);
    if (!same && bad++ < 5) report << "\n  " << what << "[" << i << "]: " << a << ", expected " << e;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << actual.size() << " differ" << report.str();
}

// Grid values over [-1.4, 1.4]: a quarter of the locations fall outside the
// input, so every padding rule is exercised.
std::vector<float> random_uniform(size_t n, std::mt19937& gen, float low, float high) {
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Grids of smooth warps (rotation, zoom, shift per image) as a Spatial
// Transformer makes them: most 8-pixel steps lie wholly inside the input (the
// kernel's unmasked path), the rest cross its edges.
std::vector<float> affine_grid_values(const KernelCase& k, std::mt19937& gen) {
  std::uniform_real_distribution<float> angle(-0.4f, 0.4f), zoom(0.6f, 1.3f), shift(-0.3f, 0.3f);
  std::vector<float> grid;
  for (int64_t n = 0; n < k.n; ++n) {
    const float a = angle(gen), z = zoom(gen), tx = shift(gen), ty = shift(gen);
    for (int64_t i = 0; i < k.h_out; ++i) {
      for (int64_t j = 0; j < k.w_out; ++j) {
        const float x = (2.0f * j + 1) / k.w_out - 1, y = (2.0f * i + 1) / k.h_out - 1;
        grid.push_back(z * (std::cos(a) * x - std::sin(a) * y) + tx);
        grid.push_back(z * (std::sin(a) * x + std::cos(a) * y) + ty);
      }
    }
  }
  return grid;
}

// The fast kernels against the reference on one input and grid, every mode,
// padding and align_corners, with both gradients, only the input's and only
// the grid's.
void expect_fast_matches_reference(const KernelCase& k, const std::vector<float>& input,
                                   const std::vector<float>& grid, const std::vector<float>& up, const char* what) {
  for (int m = 0; m < 3; ++m) {
    for (int p = 0; p < 3; ++p) {
      for (bool align : {false, true}) {
        GridSampleArgs a{input.data(), grid.data(), k.n, k.c, k.h_in, k.w_in, k.h_out, k.w_out,
                         kModes[m],    kPaddings[p], align};
        SCOPED_TRACE(::testing::Message() << kModeNames[m] << " " << kPaddingNames[p] << " align " << align << " N"
                                          << k.n << " C" << k.c << " in " << k.h_in << "x" << k.w_in << " out "
                                          << k.h_out << "x" << k.w_out << " " << what);
        const KernelResult expected = run_kernels(a, up, false, true, true);
        for (int want = 0; want < 3; ++want) {
          const bool want_input = want != 2, want_grid = want != 1;
          const KernelResult got = run_kernels(a, up, true, want_input, want_grid);
          EXPECT_TRUE(close(got.out, expected.out, 1e-5, 1e-5, "output"));
          if (want_input) {
            EXPECT_TRUE(close(got.grad_input, expected.grad_input, 1e-5, 1e-5, "grad_input"));
          }
          // Σ over channels in another order (each neighbour's sum first).
          if (want_grid) {
            EXPECT_TRUE(close(got.grad_grid, expected.grad_grid, 2e-4, 1e-4, "grad_grid"));
          }
        }
      }
    }
  }
}

TEST(GridSampleKernel, FastMatchesReferenceOverShapesAndOptions) {
  if (!kernels::cpu_has_avx2()) GTEST_SKIP() << "no AVX2: the reference is the only path";
  kernels::IsaScope scope(kernels::Isa::Avx2);
  // Widths around the 8-pixel step, one-pixel inputs (the padded-pair path),
  // and shapes past the parallel threshold with small batches (channel
  // groups with separate grid-gradient sums).
  const std::vector<KernelCase> cases = {
      {2, 3, 5, 7, 4, 9},  {1, 1, 1, 1, 3, 3},   {3, 2, 4, 1, 2, 11}, {2, 2, 1, 6, 5, 8},
      {1, 4, 9, 13, 7, 1}, {2, 5, 11, 8, 6, 17}, {1, 8, 20, 24, 48, 48}, {3, 6, 16, 15, 30, 33},
  };
  std::mt19937 gen(2024);
  for (const KernelCase& k : cases) {
    const std::vector<float> input = random_uniform(k.n * k.c * k.h_in * k.w_in, gen, -2.0f, 2.0f);
    const std::vector<float> up = random_uniform(k.n * k.c * k.h_out * k.w_out, gen, -1.0f, 1.0f);
    expect_fast_matches_reference(k, input, random_uniform(k.n * k.h_out * k.w_out * 2, gen, -1.4f, 1.4f), up,
                                  "random grid");
    expect_fast_matches_reference(k, input, affine_grid_values(k, gen), up, "affine grid");
  }
}

TEST(GridSampleKernel, SameResultOnOneAndTwoThreads) {
  ThreadCountGuard guard;
  std::mt19937 gen(5);
  const KernelCase k{2, 6, 30, 31, 40, 37};
  const std::vector<float> input = random_uniform(k.n * k.c * k.h_in * k.w_in, gen, -1.0f, 1.0f);
  const std::vector<float> grid = random_uniform(k.n * k.h_out * k.w_out * 2, gen, -1.2f, 1.2f);
  const std::vector<float> up = random_uniform(k.n * k.c * k.h_out * k.w_out, gen, -1.0f, 1.0f);
  for (int m = 0; m < 2; ++m) {
    GridSampleArgs a{input.data(), grid.data(), k.n, k.c, k.h_in, k.w_in, k.h_out, k.w_out, kModes[m],
                     GridSamplePadding::Zeros, false};
    set_num_threads(1);
    const KernelResult one = run_kernels(a, up, true, true, true);
    set_num_threads(2);
    const KernelResult two = run_kernels(a, up, true, true, true);
    // The scatter order within an image is fixed; the grid gradient's channel
    // blocks may be summed in another grouping.
    EXPECT_TRUE(close(two.out, one.out, 0, 0, "output"));
    EXPECT_TRUE(close(two.grad_input, one.grad_input, 0, 0, "grad_input"));
    EXPECT_TRUE(close(two.grad_grid, one.grad_grid, 1e-5, 1e-5, "grad_grid"));
  }
}

// ---- the op: gradients by finite differences ----------------------------------

// A normalised grid value whose pixel coordinate is `u` on an axis of `size`.
float grid_value(float u, int64_t size, bool align_corners) {
  return align_corners ? 2 * u / static_cast<float>(size - 1) - 1 : (2 * u + 1) / static_cast<float>(size) - 1;
}

// (N, H_out, W_out, 2) grid whose pixel coordinates have fractional parts in
// [0.15, 0.35] or [0.65, 0.85]: away from the jumps of floor (whole numbers),
// of rounding and of the mirror lines of reflection (halves), and from the
// edges where padding clamps. Some lie outside the input.
Tensor smooth_grid(int64_t n, int64_t h_out, int64_t w_out, int64_t h_in, int64_t w_in, bool align_corners,
                   uint64_t seed) {
  TestRng rng(seed);
  std::vector<float> v;
  for (int64_t i = 0; i < n * h_out * w_out; ++i) {
    for (int64_t size : {w_in, h_in}) {
      const int64_t whole = static_cast<int64_t>(rng.uniform() * (size + 3)) - 2;  // -2 .. size
      const float fraction = 0.15f + 0.2f * static_cast<float>(rng.uniform()) + (rng.uniform() < 0.5 ? 0.5f : 0.0f);
      const float u = static_cast<float>(whole) + fraction;
      v.push_back(grid_value(u, size, align_corners));
    }
  }
  return from_vector(v, {n, h_out, w_out, 2});
}

TEST(GridSample, GradcheckEveryOption) {
  const int64_t n = 2, c = 2, h_in = 4, w_in = 5, h_out = 3, w_out = 4;
  for (int m = 0; m < 3; ++m) {
    for (int p = 0; p < 3; ++p) {
      for (bool align : {false, true}) {
        SCOPED_TRACE(::testing::Message() << kModeNames[m] << " " << kPaddingNames[p] << " align " << align);
        Tensor x = leaf(randn_tensor({n, c, h_in, w_in}, 11));
        Tensor grid = leaf(smooth_grid(n, h_out, w_out, h_in, w_in, align, 12 + m));
        const std::string mode = kModeNames[m], padding = kPaddingNames[p];
        EXPECT_TRUE(gradcheck([&](const auto& in) { return grid_sample(in[0], in[1], mode, padding, align); },
                              {x, grid}));
      }
    }
  }
}

TEST(GridSample, ForwardOfKnownSamples) {
  // A 2x3 image, one channel: values 0..5.
  Tensor x = from_vector({0, 1, 2, 3, 4, 5}, {1, 1, 2, 3});
  // align_corners: (-1, -1) is pixel (0, 0), (1, 1) pixel (1, 2), (0, 0) the
  // centre between rows 0 and 1 at column 1; (0.5, 0) three quarters along x.
  Tensor grid = from_vector({-1, -1, 1, 1, 0, 0, 0.5f, 0}, {1, 1, 4, 2});
  EXPECT_TRUE(all_close(grid_sample(x, grid, "bilinear", "zeros", true), {0, 5, 2.5, 3}, 1e-6, 1e-6));
  // Without align_corners, -1 is the outer edge: half of pixel (0, 0) and half zeros.
  EXPECT_TRUE(all_close(grid_sample(x, grid, "bilinear", "zeros", false), {0, 1.25, 2.5, 3.25}, 1e-6, 1e-6));
  EXPECT_TRUE(all_close(grid_sample(x, grid, "bilinear", "border", false), {0, 5, 2.5, 3.25}, 1e-6, 1e-6));
  // Nearest, ties to even: y = 0.5 -> row 0; x = 1 -> column 1, x = 1.5 -> column 2.
  EXPECT_TRUE(all_close(grid_sample(x, grid, "nearest", "zeros", true), {0, 5, 1, 2}, 0, 0));
}

TEST(GridSample, IdentityGridReproducesTheInput) {
  Tensor x = randn_tensor({2, 3, 5, 7}, 3);
  for (bool align : {false, true}) {
    Tensor theta = from_vector({1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0}, {2, 2, 3});
    Tensor grid = affine_grid(theta, {2, 3, 5, 7}, align);
    for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
      EXPECT_TRUE(all_close(grid_sample(x, grid, mode, "zeros", align), x, 1e-5, 1e-5)) << mode << " " << align;
    }
  }
}

// ---- non-finite grids (see ops/grid_sample.h) ----------------------------------

TEST(GridSample, NanGridFollowsTheDocumentedRules) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = randn_tensor({1, 2, 3, 4}, 8);
  for (bool align : {false, true}) {
    // Pixel 0: x NaN; pixel 1: y NaN; pixel 2: ordinary.
    Tensor grid = leaf(from_vector({nan, 0.1f, 0.2f, nan, 0.3f, -0.4f}, {1, 1, 3, 2}));
    // With border / reflection a NaN coordinate acts as -1 with no gradient.
    Tensor as_minus_one = leaf(from_vector({-1, 0.1f, 0.2f, -1, 0.3f, -0.4f}, {1, 1, 3, 2}));
    for (const char* padding : {"border", "reflection"}) {
      for (const char* mode : {"bilinear", "nearest"}) {
        SCOPED_TRACE(::testing::Message() << mode << " " << padding << " align " << align);
        Tensor xl = leaf(x.clone()), xr = leaf(x.clone());
        Tensor out = grid_sample(xl, grid, mode, padding, align);
        Tensor expected = grid_sample(xr, as_minus_one, mode, padding, align);
        EXPECT_TRUE(all_close(out, expected, 0, 0));
        Tensor up = randn_tensor(out.shape(), 9);
        grid.set_grad(Tensor());
        as_minus_one.set_grad(Tensor());
        out.backward(up);
        expected.backward(up);
        EXPECT_TRUE(all_close(xl.grad(), xr.grad(), 1e-6, 1e-6));
        std::vector<double> g = values(grid.grad()), e = values(as_minus_one.grad());
        EXPECT_EQ(g[0], 0.0);  // the NaN coordinates pass no gradient
        EXPECT_EQ(g[3], 0.0);
        for (int i : {1, 2, 4, 5}) EXPECT_NEAR(g[i], e[i], 1e-5) << i;
      }
    }
    // Zeros: bilinear output NaN at those pixels, nearest 0; the input gets
    // no gradient from them; the grid gradient of the other coordinate of a
    // bilinear NaN pixel is NaN for y NaN / x's own 0 (PyTorch's pattern).
    Tensor xl = leaf(x.clone());
    grid.set_grad(Tensor());
    Tensor bilinear = grid_sample(xl, grid, "bilinear", "zeros", align);
    std::vector<double> b = values(bilinear);  // (1, 2, 1, 3)
    EXPECT_TRUE(std::isnan(b[0]) && std::isnan(b[1]) && std::isfinite(b[2]));
    bilinear.backward(full(bilinear.shape(), 1.0));
    std::vector<double> gg = values(grid.grad());
    EXPECT_EQ(gg[0], 0.0);
    EXPECT_TRUE(std::isnan(gg[1]));
    EXPECT_TRUE(std::isnan(gg[2]));
    EXPECT_EQ(gg[3], 0.0);
    Tensor only_third = leaf(x.clone());
    Tensor third_grid = from_vector({0.3f, -0.4f}, {1, 1, 1, 2});
    grid_sample(only_third, third_grid, "bilinear", "zeros", align).backward(from_vector({1, 1}, {1, 2, 1, 1}));
    EXPECT_TRUE(all_close(xl.grad(), only_third.grad(), 1e-6, 1e-6));
    std::vector<double> nearest = values(grid_sample(x, grid, "nearest", "zeros", align));
    EXPECT_EQ(nearest[0], 0.0);
    EXPECT_EQ(nearest[1], 0.0);
  }
}

// ---- affine_grid ----------------------------------------------------------------

TEST(AffineGrid, ForwardMatchesFormula) {
  const std::vector<float> th = {0.9f, -0.2f, 0.1f, 0.3f, 1.1f, -0.05f, -1.0f, 0.5f, 0.2f, 0.0f, 0.7f, 0.4f};
  Tensor theta = from_vector(th, {2, 2, 3});
  for (bool align : {false, true}) {
    const int64_t h = 4, w = 5;
    Tensor grid = affine_grid(theta, {2, 3, h, w}, align);
    ASSERT_EQ(grid.shape(), (Shape{2, h, w, 2}));
    std::vector<double> expected;
    for (int64_t n = 0; n < 2; ++n) {
      for (int64_t i = 0; i < h; ++i) {
        for (int64_t j = 0; j < w; ++j) {
          double x = -1 + 2.0 * j / (w - 1), y = -1 + 2.0 * i / (h - 1);
          if (!align) {
            x *= (w - 1.0) / w;
            y *= (h - 1.0) / h;
          }
          for (int k = 0; k < 2; ++k) {
            const float* t = th.data() + n * 6 + k * 3;
            expected.push_back(t[0] * x + t[1] * y + t[2]);
          }
        }
      }
    }
    EXPECT_TRUE(all_close(grid, expected, 1e-6, 1e-6)) << "align " << align;
  }
  // A side of one pixel has the coordinate 0.
  Tensor single = affine_grid(from_vector({1, 0, 0.25f, 0, 1, -0.5f}, {1, 2, 3}), {1, 1, 1, 1});
  EXPECT_TRUE(all_close(single, {0.25, -0.5}, 0, 0));
}

TEST(AffineGrid, GradcheckTheta) {
  for (bool align : {false, true}) {
    Tensor theta = leaf(randn_tensor({2, 2, 3}, 21));
    EXPECT_TRUE(gradcheck([&](const auto& in) { return affine_grid(in[0], {2, 1, 3, 4}, align); }, {theta}));
  }
}

TEST(AffineGrid, SpatialTransformerChainCarriesGradientToTheta) {
  // theta -> grid -> sample: the path an STN's localisation net learns by.
  Tensor x = randn_tensor({1, 2, 5, 6}, 31);
  Tensor theta = leaf(from_vector({0.8f, 0.1f, 0.05f, -0.1f, 0.9f, 0.02f}, {1, 2, 3}));
  EXPECT_TRUE(gradcheck(
      [&](const auto& in) { return grid_sample(x, affine_grid(in[0], {1, 2, 4, 4}, false), "bilinear", "zeros"); },
      {theta}));
}

// ---- bad input ------------------------------------------------------------------

TEST(GridSample, BadInputIsAClearError) {
  Tensor x = randn_tensor({2, 3, 4, 5}, 1);
  Tensor grid = randn_tensor({2, 3, 3, 2}, 2);
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(randn_tensor({3, 4, 5}, 1), grid); }, "grid_sample: expected a 4-D input"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(randn_tensor({1, 2, 3, 4, 5}, 1), randn_tensor({1, 2, 2, 2, 3}, 1)); },
                                  "5-D (volumetric) inputs are not supported"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(x, randn_tensor({2, 3, 3, 3}, 2)); }, "(N, H_out, W_out, 2)"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(x, randn_tensor({2, 3, 2}, 2)); }, "(N, H_out, W_out, 2)"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(x, randn_tensor({3, 3, 3, 2}, 2)); }, "batch size 3"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(x, grid, "linear"); }, "grid_sample: expected mode"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(x, grid, "bilinear", "zero"); }, "grid_sample: expected padding_mode"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(randn_tensor({2, 3, 0, 5}, 1), grid); }, "non-empty spatial"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(x.to(kInt64), grid); }, "grid_sample: expected floating point"));
  EXPECT_TRUE(throws_error_naming([&] { grid_sample(Tensor(), grid); }, "got shape nothing"));
}

TEST(AffineGrid, BadInputIsAClearError) {
  Tensor theta = randn_tensor({2, 2, 3}, 1);
  EXPECT_TRUE(throws_error_naming([&] { affine_grid(randn_tensor({2, 3, 3}, 1), {2, 1, 4, 4}); }, "affine_grid: expected a batch of 2-D affine matrices of shape (N, 2, 3)"));
  EXPECT_TRUE(throws_error_naming([&] { affine_grid(randn_tensor({2, 6}, 1), {2, 1, 4, 4}); }, "(N, 2, 3)"));
  EXPECT_TRUE(throws_error_naming([&] { affine_grid(theta, {3, 1, 4, 4}); }, "theta holds 2 matrices but size asks for N = 3"));
  EXPECT_TRUE(throws_error_naming([&] { affine_grid(theta, {2, 1, 4, 4, 4}); }, "only 4-D sizes"));
  EXPECT_TRUE(throws_error_naming([&] { affine_grid(theta, {2, 1, 0, 4}); }, "positive output size"));
  EXPECT_TRUE(throws_error_naming([&] { affine_grid(theta.to(kInt64), {2, 1, 4, 4}); }, "floating point theta"));
}

}  // namespace
}  // namespace attnkit::testing
