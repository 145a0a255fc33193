// matmul (ops/matmul.h): forward against a triple loop in double with NumPy
// broadcasting rules, gradients by finite differences, transposed views.
#include <cmath>

#include "gradcheck.h"
#include "kernels/gemm.h"
#include "reference.h"

namespace attnkit::testing {
namespace {

struct MatmulCase {
  const char* name;
  Shape a, b;
  Layout layout_a = Layout::Contiguous, layout_b = Layout::Contiguous;
};

const std::vector<MatmulCase>& matmul_cases() {
  using L = Layout;
  static const std::vector<MatmulCase> cases = {
      {"dot", {7}, {7}},
      {"matrix_vector", {3, 4}, {4}},
      {"vector_matrix", {4}, {4, 5}},
      {"matrix", {3, 4}, {4, 5}},
      {"matrix_a_transposed", {3, 4}, {4, 5}, L::Transposed},
      {"matrix_b_transposed", {3, 4}, {4, 5}, L::Contiguous, L::Transposed},
      {"matrix_both_transposed", {3, 4}, {4, 5}, L::Transposed, L::Transposed},
      {"matrix_strided", {3, 4}, {4, 5}, L::Strided, L::Strided},
      {"vector_strided", {3, 4}, {4}, L::Transposed, L::Strided},
      {"batched", {2, 3, 4}, {2, 4, 5}},
      {"batched_transposed", {2, 3, 4}, {2, 4, 5}, L::Transposed, L::Transposed},
      {"batch_broadcast_b", {2, 3, 4}, {4, 5}},
      {"batch_broadcast_a", {3, 4}, {2, 4, 5}, L::Contiguous, L::Transposed},
      {"batch_broadcast_both", {2, 1, 3, 4}, {5, 4, 6}},
      {"batch_broadcast_ones", {1, 3, 4}, {2, 4, 2}, L::Strided},
      {"batched_vector", {2, 3, 4}, {4}},
      {"vector_batched", {4}, {2, 4, 5}},
      {"outer_dims_one", {1, 4}, {4, 1}},
  };
  return cases;
}

class Matmul : public ::testing::TestWithParam<size_t> {
 protected:
  const MatmulCase& c() const { return matmul_cases()[GetParam()]; }
  Tensor a() const { return relayout(randn_tensor(c().a, 51), c().layout_a); }
  Tensor b() const { return relayout(randn_tensor(c().b, 52), c().layout_b); }
};

TEST_P(Matmul, ForwardMatchesTripleLoop) {
  Tensor a = this->a(), b = this->b();
  Shape shape;
  std::vector<double> expected = matmul_reference(a, b, &shape);
  Tensor out = matmul(a, b);
  EXPECT_EQ(out.shape(), shape);
  EXPECT_EQ(out.dtype(), kFloat32);
  EXPECT_TRUE(all_close(out, expected, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(mm(a, b), expected, 1e-5, 1e-5));
}

TEST_P(Matmul, Gradcheck) {
  Tensor a = leaf(this->a()), b = leaf(this->b());
  EXPECT_TRUE(gradcheck([](const auto& in) { return matmul(in[0], in[1]); }, {a, b}));
}

INSTANTIATE_TEST_SUITE_P(Matmul, Matmul, ::testing::Range<size_t>(0, matmul_cases().size()),
                         [](const auto& info) { return std::string(matmul_cases()[info.param].name); });

TEST(MatmulViews, TransposedViewsInsideTheGraph) {
  // The attention pattern: q @ k^T with k^T a view recorded by autograd.
  Tensor q = leaf(randn_tensor({2, 3, 4}, 53));
  Tensor k = leaf(randn_tensor({2, 5, 4}, 54));
  EXPECT_TRUE(gradcheck([](const auto& in) { return matmul(in[0], in[1].transpose(-2, -1)); },
                        {q, k}));
  // Permuted (B, T, H, D) -> (B, H, T, D) operands, batch dims not outermost.
  Tensor x = leaf(randn_tensor({2, 3, 2, 4}, 55));
  Tensor y = leaf(randn_tensor({2, 4, 2, 3}, 56));
  EXPECT_TRUE(gradcheck(
      [](const auto& in) { return matmul(in[0].permute({0, 2, 1, 3}), in[1].permute({0, 2, 1, 3})); },
      {x, y}));
}

TEST(MatmulViews, OnlyOneSideRequiresGrad) {
  Tensor a = leaf(randn_tensor({2, 3, 4}, 66));
  Tensor b = randn_tensor({4, 5}, 67);
  EXPECT_TRUE(gradcheck([&](const auto& in) { return matmul(in[0], b); }, {a}));
  Tensor c = randn_tensor({2, 3, 4}, 68);
  Tensor d = leaf(randn_tensor({4, 5}, 69));  // broadcast over the batch: its grad sums
  EXPECT_TRUE(gradcheck([&](const auto& in) { return matmul(c, in[0]); }, {d}));
  Tensor v = leaf(randn_tensor({4}, 70));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return matmul(c, in[0]); }, {v}));
}

TEST(MatmulViews, ExpandedOperandsWithZeroStrides) {
  // Stride-0 dims from expand: as a batch dim and inside a matrix.
  Tensor x = randn_tensor({4, 5}, 71), y = randn_tensor({5, 2}, 72);
  Tensor batch = x.unsqueeze(0).expand({3, 4, 5});
  Shape shape;
  EXPECT_TRUE(all_close(matmul(batch, y), matmul_reference(batch, y, &shape), 1e-5, 1e-5));
  Tensor col = from_vector({2.0f, -1.0f, 0.5f, 3.0f}, {4, 1}).expand({4, 5});  // (4, 5) strides (1, 0)
  EXPECT_TRUE(all_close(matmul(col, y), matmul_reference(col, y, &shape), 1e-5, 1e-5));
  Tensor xl = leaf(randn_tensor({4, 5}, 73));
  EXPECT_TRUE(gradcheck(
      [&](const auto& in) { return matmul(in[0].unsqueeze(0).expand({3, 4, 5}), y); }, {xl}));
  Tensor cl = leaf(randn_tensor({4, 1}, 74));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return matmul(in[0].expand({4, 5}), y); }, {cl}));
}

TEST(MatmulViews, PermutedBatchForward) {
  Tensor base = randn_tensor({3, 2, 4}, 57);
  Tensor a = base.permute({1, 0, 2});  // (2, 3, 4), batch stride 4, row stride 8
  Tensor b = randn_tensor({2, 4, 5}, 58).transpose(0, 1).contiguous().transpose(0, 1);
  Shape shape;
  std::vector<double> expected = matmul_reference(a, b, &shape);
  EXPECT_TRUE(all_close(matmul(a, b), expected, 1e-5, 1e-5));
}

TEST(MatmulSizes, LargerAndOddSizes) {
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{37, 65, 29}, {1, 300, 1},
                         {64, 64, 64}, {129, 17, 3}}) {
    Tensor a = randn_tensor({m, k}, 59);
    Tensor b = relayout(randn_tensor({k, n}, 60), Layout::Transposed);
    Shape shape;
    std::vector<double> expected = matmul_reference(a, b, &shape);
    EXPECT_TRUE(all_close(matmul(a, b), expected, 1e-4, 1e-5)) << m << "x" << k << "x" << n;
  }
}

TEST(MatmulSizes, EmptyDims) {
  Tensor zero_k = matmul(zeros({3, 0}), zeros({0, 4}));
  EXPECT_EQ(zero_k.shape(), (Shape{3, 4}));
  EXPECT_TRUE(all_close(zero_k, std::vector<double>(12, 0.0), 0, 0));
  EXPECT_EQ(matmul(zeros({0, 4}), ones({4, 5})).shape(), (Shape{0, 5}));
  EXPECT_EQ(matmul(ones({2, 0, 4}), ones({4, 5})).shape(), (Shape{2, 0, 5}));
}

TEST(MatmulTypes, BFloat16IsWidened) {
  // Values exactly representable in bfloat16, so the product is exact.
  Tensor a = from_vector({1.0f, 2.0f, -0.5f, 0.25f, 3.0f, -1.5f}, {2, 3});
  Tensor b = from_vector({1.0f, 0.5f, -2.0f, 4.0f, 0.0f, 1.0f}, {3, 2});
  Shape shape;
  std::vector<double> expected = matmul_reference(a, b, &shape);
  Tensor out = matmul(a.to(kBFloat16), b);
  EXPECT_EQ(out.dtype(), kFloat32);
  EXPECT_TRUE(all_close(out, expected, 0, 0));
  EXPECT_TRUE(all_close(matmul(a.to(kBFloat16), b.to(kBFloat16)), expected, 0, 0));
}

TEST(MatmulCache, SameShapeReusesThePrimitive) {
  // The cache belongs to the oneDNN backend: run on it whatever the default.
  kernels::GemmBackend previous = kernels::gemm_backend();
  kernels::set_gemm_backend(kernels::GemmBackend::OneDnn);
  struct Restore {
    kernels::GemmBackend backend;
    ~Restore() { kernels::set_gemm_backend(backend); }
  } restore{previous};
  Tensor a = randn_tensor({11, 13}, 61), b = randn_tensor({13, 17}, 62);
  matmul(a, b);
  const size_t after_first = matmul_cache_size();
  EXPECT_GE(after_first, 1u);
  for (int i = 0; i < 3; ++i) matmul(randn_tensor({11, 13}, 63 + i), b);
  EXPECT_EQ(matmul_cache_size(), after_first);
}

TEST(MatmulThreads, SameResultOnOneAndTwoThreads) {
  ThreadCountGuard restore;
  Tensor a = randn_tensor({96, 80}, 64), b = randn_tensor({80, 72}, 65);
  set_num_threads(1);
  std::vector<double> one = values(matmul(a, b));
  set_num_threads(2);
  Tensor two = matmul(a, b);
  EXPECT_TRUE(all_close(two, one, 1e-5, 1e-5));
}

}  // namespace
}  // namespace attnkit::testing
