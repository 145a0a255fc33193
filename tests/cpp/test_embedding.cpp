// embedding (ops/embedding.h): row lookup, gradient scatter-add into the
// weight, padding_idx.
#include "gradcheck.h"
#include "reference.h"

namespace attnkit::testing {
namespace {

std::vector<double> lookup_reference(const Tensor& indices, const Tensor& weight) {
  std::vector<double> w = values(weight), out;
  const int64_t dim = weight.size(1);
  for (double i : values(indices)) {
    for (int64_t d = 0; d < dim; ++d) out.push_back(w[static_cast<int64_t>(i) * dim + d]);
  }
  return out;
}

TEST(Embedding, ForwardLooksUpRows) {
  Tensor weight = randn_tensor({6, 4}, 91);
  Tensor indices = from_vector_i64({5, 0, 2, 2, 1, 5}, {2, 3});
  Tensor out = embedding(indices, weight);
  EXPECT_EQ(out.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(out.dtype(), kFloat32);
  EXPECT_TRUE(all_close(out, lookup_reference(indices, weight), 0, 0));
}

TEST(Embedding, Int32AndStridedIndices) {
  Tensor weight = relayout(randn_tensor({5, 3}, 92), Layout::Transposed);
  Tensor indices = from_vector_i64({4, 1, 0, 3, 3, 2}, {3, 2}).t();  // (2, 3) strided
  EXPECT_TRUE(all_close(embedding(indices, weight), lookup_reference(indices, weight), 0, 0));
  Tensor i32 = indices.to(kInt32);
  EXPECT_EQ(i32.dtype(), kInt32);
  EXPECT_TRUE(all_close(embedding(i32, weight), lookup_reference(indices, weight), 0, 0));
  // 0-d index -> one row; 1-D -> (n, dim).
  EXPECT_EQ(embedding(from_vector_i64({2}, {}), weight).shape(), (Shape{3}));
  EXPECT_EQ(embedding(from_vector_i64({2, 2}, {2}), weight).shape(), (Shape{2, 3}));
}

TEST(Embedding, GradcheckWithRepeatedIndices) {
  // Repeated rows must accumulate, not overwrite.
  Tensor weight = leaf(randn_tensor({5, 3}, 93));
  Tensor indices = from_vector_i64({1, 3, 1, 1, 4, 3}, {2, 3});
  EXPECT_TRUE(gradcheck([&](const auto& in) { return embedding(indices, in[0]); }, {weight}));
}

TEST(Embedding, GradcheckStridedWeight) {
  Tensor weight = leaf(relayout(randn_tensor({4, 3}, 100), Layout::Transposed));
  Tensor indices = from_vector_i64({3, 3, 0, 2}, {2, 2}).t();
  EXPECT_TRUE(gradcheck([&](const auto& in) { return embedding(indices, in[0], 1); }, {weight}));
}

TEST(Embedding, GradientCountsEachUse) {
  Tensor weight = leaf(zeros({4, 2}));
  Tensor indices = from_vector_i64({0, 2, 2, 2}, {4});
  embedding(indices, weight).backward(ones({4, 2}));
  EXPECT_TRUE(all_close(weight.grad(), {1, 1, 0, 0, 3, 3, 0, 0}, 0, 0));
}

TEST(Embedding, PaddingRowGetsZeroGradient) {
  Tensor weight = leaf(randn_tensor({5, 3}, 94));
  Tensor indices = from_vector_i64({0, 2, 4, 2, 0, 1}, {2, 3});
  Tensor out = embedding(indices, weight, /*padding_idx=*/2);
  // The padding row is still looked up in the forward (as in PyTorch).
  EXPECT_TRUE(all_close(out, lookup_reference(indices, weight), 0, 0));
  Tensor dout = randn_tensor({2, 3, 3}, 95);
  out.backward(dout);
  EXPECT_TRUE(all_close(weight.grad(), embedding_backward_reference(indices, 5, dout, 2), 1e-6, 1e-6));
  std::vector<double> g = values(weight.grad());
  for (int d = 0; d < 3; ++d) EXPECT_EQ(g[2 * 3 + d], 0.0);
  // The other rows are right by finite differences too.
  Tensor w = leaf(randn_tensor({5, 3}, 96));
  Tensor no_pad_use = from_vector_i64({0, 4, 1, 4}, {4});
  EXPECT_TRUE(gradcheck([&](const auto& in) { return embedding(no_pad_use, in[0], 2); }, {w}));
}

TEST(Embedding, NegativePaddingIdxCountsFromTheEnd) {
  // As torch: padding_idx = -1 is the last row.
  Tensor weight = leaf(randn_tensor({4, 2}, 98));
  Tensor indices = from_vector_i64({3, 0, 3, 1}, {4});
  Tensor dout = randn_tensor({4, 2}, 99);
  embedding(indices, weight, -1).backward(dout);
  EXPECT_TRUE(all_close(weight.grad(), embedding_backward_reference(indices, 4, dout, 3), 1e-6, 1e-6));
}

TEST(Embedding, IndicesGetNoGradient) {
  Tensor weight = leaf(randn_tensor({3, 2}, 97));
  Tensor out = embedding(from_vector_i64({0, 1}, {2}), weight);
  EXPECT_TRUE(out.requires_grad());
  NoGradGuard no_grad;
  EXPECT_FALSE(embedding(from_vector_i64({0, 1}, {2}), weight).requires_grad());
}

}  // namespace
}  // namespace attnkit::testing
