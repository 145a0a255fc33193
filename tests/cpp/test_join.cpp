// cat, stack, split, chunk (ops/join.h).
#include "gradcheck.h"

namespace attnkit::testing {
namespace {

// Concatenation of row-major blocks along `dim`, in plain loops.
std::vector<double> cat_reference(const std::vector<Tensor>& parts, int64_t dim) {
  const int64_t nd = parts[0].dim();
  if (dim < 0) dim += nd;
  int64_t outer = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= parts[0].size(d);
  std::vector<std::vector<double>> vals;
  for (const Tensor& p : parts) vals.push_back(values(p));
  std::vector<double> out;
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < parts.size(); ++i) {
      const int64_t block = parts[i].numel() / outer;
      out.insert(out.end(), vals[i].begin() + o * block, vals[i].begin() + (o + 1) * block);
    }
  return out;
}

TEST(Cat, ForwardAlongEachDim) {
  Tensor a = randn_tensor({2, 3, 4}, 121);
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    Shape sb = a.shape();
    sb[dim < 0 ? dim + 3 : dim] = 2;
    Tensor b = relayout(randn_tensor(sb, 122), Layout::Transposed);
    Tensor c = randn_tensor(sb, 123);
    Tensor out = cat({a, b, c}, dim);
    Shape expected_shape = a.shape();
    expected_shape[dim < 0 ? dim + 3 : dim] += 4;
    EXPECT_EQ(out.shape(), expected_shape) << "dim " << dim;
    EXPECT_TRUE(all_close(out, cat_reference({a, b, c}, dim), 0, 0)) << "dim " << dim;
  }
  EXPECT_TRUE(all_close(cat({a}, 1), a, 0, 0));
}

TEST(Cat, ZeroSizedPieces) {
  Tensor a = randn_tensor({2, 3}, 124);
  Tensor out = cat({a, zeros({2, 0}), a}, 1);
  EXPECT_EQ(out.shape(), (Shape{2, 6}));
  EXPECT_TRUE(all_close(out, cat_reference({a, a}, 1), 0, 0));
}

TEST(Cat, IntegerTensors) {
  Tensor out = cat({from_vector_i64({1, 2}, {2}), from_vector_i64({3}, {1})});
  EXPECT_EQ(out.dtype(), kInt64);
  EXPECT_TRUE(all_close(out, {1, 2, 3}, 0, 0));
}

TEST(Cat, Gradcheck) {
  Tensor a = leaf(randn_tensor({2, 3}, 125));
  Tensor b = leaf(relayout(randn_tensor({2, 2}, 126), Layout::Strided));
  Tensor c = leaf(randn_tensor({2, 1}, 127));
  EXPECT_TRUE(gradcheck([](const auto& in) { return cat({in[0], in[1], in[2]}, 1); }, {a, b, c}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return cat({in[0], in[1].t(), in[0]}, 0); },
                        {a, leaf(randn_tensor({3, 2}, 128))}));
  // Only one input requires grad.
  Tensor constant = randn_tensor({2, 3}, 129);
  EXPECT_TRUE(gradcheck([&](const auto& in) { return cat({constant, in[0]}, -1); }, {a}));
}

TEST(Stack, ForwardAlongEachDim) {
  Tensor a = randn_tensor({2, 3}, 131), b = relayout(randn_tensor({2, 3}, 132), Layout::Transposed);
  const std::vector<double> va = values(a), vb = values(b);
  Tensor s0 = stack({a, b}, 0);
  EXPECT_EQ(s0.shape(), (Shape{2, 2, 3}));
  std::vector<double> e0 = va;
  e0.insert(e0.end(), vb.begin(), vb.end());
  EXPECT_TRUE(all_close(s0, e0, 0, 0));
  Tensor s2 = stack({a, b}, 2);  // the new last dim
  EXPECT_EQ(s2.shape(), (Shape{2, 3, 2}));
  std::vector<double> e2;
  for (size_t i = 0; i < va.size(); ++i) {
    e2.push_back(va[i]);
    e2.push_back(vb[i]);
  }
  EXPECT_TRUE(all_close(s2, e2, 0, 0));
  EXPECT_TRUE(all_close(stack({a, b}, -1), e2, 0, 0));
  EXPECT_EQ(stack({a, b, a}, 1).shape(), (Shape{2, 3, 3}));
}

TEST(Stack, Gradcheck) {
  Tensor a = leaf(randn_tensor({2, 3}, 133));
  Tensor b = leaf(relayout(randn_tensor({2, 3}, 134), Layout::Transposed));
  for (int64_t dim : {0, 1, 2, -1}) {
    EXPECT_TRUE(gradcheck([dim](const auto& in) { return stack({in[0], in[1]}, dim); }, {a, b}))
        << "dim " << dim;
  }
}

TEST(Split, BySizeLastPieceSmaller) {
  Tensor x = randn_tensor({7, 3}, 141);
  std::vector<Tensor> parts = split(x, 3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(parts[1].shape(), (Shape{3, 3}));
  EXPECT_EQ(parts[2].shape(), (Shape{1, 3}));
  EXPECT_TRUE(all_close(cat(parts, 0), x, 0, 0));
  for (const Tensor& p : parts) EXPECT_TRUE(p.shares_storage_with(x));  // views
  std::vector<Tensor> cols = split(x, 2, 1);
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(cols[1].shape(), (Shape{7, 1}));
  EXPECT_TRUE(all_close(cat(cols, -1), x, 0, 0));
}

TEST(Split, BySizes) {
  Tensor x = randn_tensor({2, 9}, 142);
  std::vector<Tensor> parts = split(x, std::vector<int64_t>{2, 0, 4, 3}, -1);
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(parts[1].shape(), (Shape{2, 0}));
  EXPECT_EQ(parts[2].shape(), (Shape{2, 4}));
  EXPECT_EQ(parts[3].shape(), (Shape{2, 3}));
  std::vector<double> v = values(x);
  EXPECT_EQ(parts[2].at({1, 0}), v[9 + 2]);
  EXPECT_TRUE(all_close(cat(parts, 1), x, 0, 0));
}

TEST(Chunk, TorchSemantics) {
  auto sizes = [](const std::vector<Tensor>& parts) {
    std::vector<int64_t> s;
    for (const Tensor& p : parts) s.push_back(p.size(0));
    return s;
  };
  EXPECT_EQ(sizes(chunk(zeros({5}), 3)), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(sizes(chunk(zeros({6}), 4)), (std::vector<int64_t>{2, 2, 2}));  // fewer than asked
  EXPECT_EQ(sizes(chunk(zeros({6}), 3)), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(sizes(chunk(zeros({2}), 5)), (std::vector<int64_t>{1, 1}));
  // The attention pattern: qkv (B, T, 3C) -> q, k, v along the last dim.
  Tensor qkv = randn_tensor({2, 3, 12}, 143);
  std::vector<Tensor> parts = chunk(qkv, 3, -1);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(parts[1].at({1, 2, 3}), qkv.at({1, 2, 7}));
  EXPECT_TRUE(parts[2].shares_storage_with(qkv));
}

TEST(SplitChunk, Gradcheck) {
  Tensor x = leaf(randn_tensor({5, 4}, 144));
  EXPECT_TRUE(gradcheck_multi([](const auto& in) { return split(in[0], 2, 0); }, {x}));
  EXPECT_TRUE(gradcheck_multi(
      [](const auto& in) { return split(in[0], std::vector<int64_t>{1, 3}, 1); }, {x}));
  EXPECT_TRUE(gradcheck_multi([](const auto& in) { return chunk(in[0], 2, -1); }, {x}));
  Tensor t = leaf(relayout(randn_tensor({4, 6}, 145), Layout::Transposed));
  EXPECT_TRUE(gradcheck_multi([](const auto& in) { return chunk(in[0], 3, 1); }, {t}));
}

TEST(SplitChunk, UnusedPiecesGetZeroGradient) {
  Tensor x = leaf(randn_tensor({6}, 146));
  std::vector<Tensor> parts = split(x, 2);
  parts[1].backward(from_vector({1, 2}, {2}));
  EXPECT_TRUE(all_close(x.grad(), {0, 0, 1, 2, 0, 0}, 0, 0));
  EXPECT_TRUE(gradcheck([](const auto& in) { return chunk(in[0], 3)[2]; }, {x}));
}

}  // namespace
}  // namespace attnkit::testing
