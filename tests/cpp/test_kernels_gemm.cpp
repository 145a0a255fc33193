// attnkit's GEMM (kernels/gemm.h) against the plain reference kernel beside
// it, on both micro-kernels (AVX2, scalar), packed and in-place A, one and two
// threads, every edge-tile shape and strided operands; and matmul on both
// backends (attnkit, oneDNN) against each other.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "attnkit/attnkit.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "isa_scope.h"

namespace attnkit::kernels {
namespace {

struct BackendScope {
  GemmBackend previous = gemm_backend();
  explicit BackendScope(GemmBackend backend) { set_gemm_backend(backend); }
  ~BackendScope() { set_gemm_backend(previous); }
};

struct ThreadScope {
  int previous = get_num_threads();
  explicit ThreadScope(int n) { set_num_threads(n); }
  ~ThreadScope() { set_num_threads(previous); }
};

// A (m, k) stored row-major or transposed, B (k, n) likewise, in buffers with
// padding between rows so that strides differ from the sizes.
struct Problem {
  int64_t m, n, k;
  bool a_transposed, b_transposed;
  std::vector<float> a, b;
  std::vector<float> bias;  // empty: no bias
  GemmArgs args(float* c) const {
    GemmArgs g;
    g.m = m; g.n = n; g.k = k;
    const int64_t lda = (a_transposed ? m : k) + 3, ldb = (b_transposed ? k : n) + 5;
    g.a = a.data();
    g.a_row_stride = a_transposed ? 1 : lda;
    g.a_col_stride = a_transposed ? lda : 1;
    g.b = b.data();
    g.b_row_stride = b_transposed ? 1 : ldb;
    g.b_col_stride = b_transposed ? ldb : 1;
    g.c = c;
    g.ldc = n + 1;
    g.bias = bias.empty() ? nullptr : bias.data();
    return g;
  }
};

Problem make_problem(int64_t m, int64_t n, int64_t k, bool at, bool bt, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Problem p{m, n, k, at, bt, {}, {}, {}};
  p.a.resize(static_cast<size_t>(((at ? m : k) + 3) * (at ? k : m)));
  p.b.resize(static_cast<size_t>(((bt ? k : n) + 5) * (bt ? n : k)));
  for (float& v : p.a) v = dist(gen);
  for (float& v : p.b) v = dist(gen);
  // Every other problem adds a bias row (a linear layer's epilogue).
  if ((seed ^ (seed >> 2)) & 1) {
    p.bias.resize(static_cast<size_t>(n));
    for (float& v : p.bias) v = 4 * dist(gen);
  }
  return p;
}

void expect_matches_reference(const Problem& p, const char* what) {
  std::vector<float> expected(static_cast<size_t>(p.m * (p.n + 1)), 0.0f);
  std::vector<float> got(expected.size(), std::nanf(""));
  gemm_reference(p.args(expected.data()));
  gemm(p.args(got.data()));
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      float e = expected[i * (p.n + 1) + j], v = got[i * (p.n + 1) + j];
      ASSERT_NEAR(v, e, 1e-5f * std::sqrt(static_cast<float>(p.k)) * 4)
          << what << " m=" << p.m << " n=" << p.n << " k=" << p.k << " at (" << i << ", " << j << ")";
    }
  }
}

TEST(Gemm, MatchesReferenceOnEveryPath) {
  // Sizes straddle the register tile (6 x 16), the k block (256) and the
  // narrow-C threshold (64 columns) of the in-place-A path.
  const int64_t ms[] = {1, 5, 6, 7, 13, 48, 173};
  const int64_t ns[] = {1, 15, 16, 17, 64, 65, 100};
  const int64_t ks[] = {1, 7, 256, 300};
  unsigned seed = 1;
  for (Isa isa : {Isa::Scalar, Isa::Avx2}) {
    if (isa == Isa::Avx2 && !cpu_has_avx2()) continue;
    IsaScope isa_scope(isa);
    for (int threads : {1, 2}) {
      ThreadScope thread_scope(threads);
      for (int64_t m : ms)
        for (int64_t n : ns)
          for (int64_t k : ks)
            for (int layout = 0; layout < 4; ++layout) {
              Problem p = make_problem(m, n, k, layout & 1, layout & 2, seed++);
              expect_matches_reference(p, isa_name(isa));
              if (HasFatalFailure()) return;
            }
    }
  }
}

TEST(Gemm, LargeBlockedProblem) {
  // Crosses the MC (168) and several KC blocks on two threads.
  ThreadScope thread_scope(2);
  for (int layout = 0; layout < 4; ++layout) {
    Problem p = make_problem(400, 300, 600, layout & 1, layout & 2, 99 + layout);
    expect_matches_reference(p, "large");
    // A last k block of 101 columns: the vector packing of A's panels ends
    // on a scalar tail that is not a multiple of 8.
    Problem ragged = make_problem(401, 130, 613, layout & 1, layout & 2, 199 + layout);
    expect_matches_reference(ragged, "large, ragged k");
  }
}

TEST(Gemm, TeamSharingPackedBMatchesReference) {
  // Large enough for the team path (>= 1024^3 multiply-adds, >= 2 x MC rows):
  // the threads share packed B blocks and split the rows.
  ThreadScope thread_scope(2);
  for (int layout : {0, 3}) {
    Problem p = make_problem(1100, 1000, 1000, layout & 1, layout & 2, 7 + layout);
    expect_matches_reference(p, "team");
  }
}

TEST(Gemm, EmptyInnerDimensionGivesTheBias) {
  std::vector<float> bias = {1.5f, -2.0f, 3.0f};
  std::vector<float> c(6, std::nanf(""));
  GemmArgs g;
  g.m = 2; g.n = 3; g.k = 0;
  g.c = c.data(); g.ldc = 3;
  g.bias = bias.data();
  gemm(g);
  EXPECT_EQ(c, (std::vector<float>{1.5f, -2.0f, 3.0f, 1.5f, -2.0f, 3.0f}));
}

TEST(Gemm, EmptyInnerDimensionGivesZeros) {
  std::vector<float> c(12, 7.0f);
  GemmArgs g;
  g.m = 3; g.n = 4; g.k = 0; g.c = c.data(); g.ldc = 4;
  gemm(g);
  for (float v : c) EXPECT_EQ(v, 0.0f);
}

TEST(MatmulBackends, AttnkitAndOneDnnAgree) {
  struct Case { Shape a, b; bool transpose_b; };
  const std::vector<Case> cases = {
      {{37, 29}, {29, 41}, false}, {{3, 5, 64, 32}, {5, 32, 48}, false},
      {{2, 1, 33, 70}, {4, 70, 20}, true}, {{130, 300}, {300, 17}, true}};
  for (const Case& c : cases) {
    manual_seed(5);
    Tensor a = randn(c.a);
    Tensor b = randn(c.b);
    if (c.transpose_b) {  // same shape, column-major storage
      Shape swapped = c.b;
      std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
      b = randn(swapped).transpose(-1, -2);
    }
    Tensor ours, theirs;
    {
      BackendScope scope(GemmBackend::Attnkit);
      ours = matmul(a, b);
    }
    {
      BackendScope scope(GemmBackend::OneDnn);
      theirs = matmul(a, b);
    }
    ASSERT_EQ(ours.shape(), theirs.shape());
    Tensor diff = abs(sub(ours, theirs));
    EXPECT_LT(max(diff).item(), 1e-4) << shape_str(c.a) << " @ " << shape_str(c.b);
  }
}

}  // namespace
}  // namespace attnkit::kernels
