// The parallel paths: every op family on sizes above the kernels' OpenMP
// thresholds (~2^15 elements), with odd extents so rows do not split evenly
// between threads, on 2 threads against the double reference and against
// the same op on 1 thread.
#include <cmath>

#include "reference.h"

namespace attnkit::testing {
namespace {

// Runs `op` on 1 and then 2 threads; returns {one_thread, two_threads}.
template <typename Op>
std::pair<std::vector<double>, Tensor> on_one_and_two_threads(Op op) {
  ThreadCountGuard restore;
  set_num_threads(1);
  std::vector<double> one = values(op());
  set_num_threads(2);
  return {one, op()};
}

TEST(Parallel, ElementwiseBroadcastAndStrides) {
  Tensor a = relayout(randn_tensor({301, 257}, 401), Layout::Transposed);
  Tensor b = randn_tensor({257}, 402);
  auto [one, two] = on_one_and_two_threads([&] { return add(mul(a, b), exp(a)); });
  std::vector<double> expected = broadcast_reference(
      a, b, [](double x, double y) { return x * y + std::exp(x); });
  EXPECT_TRUE(all_close(two, expected, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(two, one, 1e-6, 1e-6));
  // One long row (the rows == 1 split of the strided loop).
  Tensor v = relayout(randn_tensor({100003}, 403), Layout::Strided);
  auto [one_v, two_v] = on_one_and_two_threads([&] { return gelu(v, "tanh"); });
  EXPECT_TRUE(all_close(two_v, one_v, 0, 0));
  EXPECT_EQ(two_v.numel(), 100003);
}

TEST(Parallel, Reductions) {
  Tensor x = relayout(randn_tensor({257, 301}, 404), Layout::Transposed);  // (257, 301)
  Shape shape;
  for (Dims dims : {Dims{0}, Dims{1}}) {
    auto [one, two] = on_one_and_two_threads([&] { return sum(x, dims); });
    EXPECT_TRUE(all_close(two, reduce_reference(x, dims, false, fold_sum, &shape), 1e-4, 1e-5));
    EXPECT_TRUE(all_close(two, one, 1e-6, 1e-6));
    auto [one_v, two_v] = on_one_and_two_threads([&] { return var(x, dims); });
    EXPECT_TRUE(all_close(two_v, reduce_reference(x, dims, false, fold_var(1), &shape), 1e-5, 1e-5));
    auto [one_m, two_m] = on_one_and_two_threads([&] { return max(x, dims[0]).indices; });
    EXPECT_TRUE(all_close(two_m, reduce_reference(x, dims, false, fold_argmax, &shape), 0, 0));
  }
  auto [one_all, two_all] = on_one_and_two_threads([&] { return sum(x); });
  EXPECT_NEAR(two_all.item(), fold_sum(values(x)), 1e-3);
  EXPECT_NEAR(two_all.item(), one_all[0], 1e-3);
  auto [one_mean, two_mean] = on_one_and_two_threads([&] { return mean(x); });
  EXPECT_NEAR(two_mean.item(), fold_mean(values(x)), 1e-6);
}

TEST(Parallel, Matmul) {
  Tensor a = randn_tensor({3, 67, 129}, 405);
  Tensor b = relayout(randn_tensor({129, 71}, 406), Layout::Transposed);
  Shape shape;
  std::vector<double> expected = matmul_reference(a, b, &shape);
  auto [one, two] = on_one_and_two_threads([&] { return matmul(a, b); });
  EXPECT_EQ(two.shape(), shape);
  EXPECT_TRUE(all_close(two, expected, 1e-4, 1e-5));
}

TEST(Parallel, SoftmaxAndLogSoftmax) {
  Tensor x = randn_tensor({129, 257}, 407, 3.0);
  for (int64_t dim : {0, 1}) {
    auto [one, two] = on_one_and_two_threads([&] { return softmax(x, dim); });
    EXPECT_TRUE(all_close(two, softmax_reference(x, dim, false), 1e-7, 1e-5)) << "dim " << dim;
    auto [one_l, two_l] = on_one_and_two_threads([&] { return log_softmax(x, dim); });
    EXPECT_TRUE(all_close(two_l, softmax_reference(x, dim, true), 1e-5, 1e-5)) << "dim " << dim;
  }
  // Backward on the parallel path, against dx = y * (dy - sum(dy * y)).
  Tensor dy = randn_tensor({129, 257}, 408);
  auto [one_g, two_g] = on_one_and_two_threads([&] {
    Tensor xl = leaf(x.clone());
    softmax(xl, 1).backward(dy);
    return xl.grad();
  });
  std::vector<double> y = softmax_reference(x, 1, false), g = values(dy), expected(y.size());
  for (int64_t r = 0; r < 129; ++r) {
    double dot = 0;
    for (int64_t c = 0; c < 257; ++c) dot += g[r * 257 + c] * y[r * 257 + c];
    for (int64_t c = 0; c < 257; ++c) expected[r * 257 + c] = y[r * 257 + c] * (g[r * 257 + c] - dot);
  }
  EXPECT_TRUE(all_close(two_g, expected, 1e-6, 1e-4));
}

TEST(Parallel, LayerNormForwardAndBackward) {
  const int64_t rows = 131, cols = 301;
  Tensor x = randn_tensor({rows, cols}, 409, 2.0);
  Tensor w = uniform_tensor({cols}, 410, 0.5, 1.5), b = randn_tensor({cols}, 411);
  Tensor dy = randn_tensor({rows, cols}, 412);
  auto [one, two] = on_one_and_two_threads([&] { return layer_norm(x, {cols}, w, b); });
  EXPECT_TRUE(all_close(two, layer_norm_reference(x, cols, w, b, 1e-5), 1e-5, 1e-5));
  LayerNormGrads expected = layer_norm_backward_reference(x, cols, w, dy, 1e-5);
  for (int threads : {1, 2}) {
    ThreadCountGuard restore;
    set_num_threads(threads);
    Tensor xl = leaf(x.clone()), wl = leaf(w.clone()), bl = leaf(b.clone());
    layer_norm(xl, {cols}, wl, bl).backward(dy);
    EXPECT_TRUE(all_close(xl.grad(), expected.x, 1e-5, 1e-4)) << threads << " threads";
    EXPECT_TRUE(all_close(wl.grad(), expected.weight, 1e-4, 1e-4)) << threads << " threads";
    EXPECT_TRUE(all_close(bl.grad(), expected.bias, 1e-4, 1e-4)) << threads << " threads";
  }
}

TEST(Parallel, EmbeddingForwardAndBackward) {
  // Many repeated indices: a parallel scatter-add must not race.
  const int64_t rows = 7, dim = 97, n = 4001;
  Tensor weight = randn_tensor({rows, dim}, 413);
  TestRng rng(414);
  std::vector<int64_t> idx(n);
  for (auto& i : idx) i = static_cast<int64_t>(rng.next_u64() % rows);
  Tensor indices = from_vector_i64(idx, {n});
  Tensor dout = randn_tensor({n, dim}, 415);
  auto [one, two] = on_one_and_two_threads([&] { return embedding(indices, weight); });
  EXPECT_TRUE(all_close(two, one, 0, 0));
  for (std::optional<int64_t> padding : {std::optional<int64_t>{}, std::optional<int64_t>{3}}) {
    for (int repeat = 0; repeat < 3; ++repeat) {
      ThreadCountGuard restore;
      set_num_threads(2);
      Tensor wl = leaf(weight.clone());
      embedding(indices, wl, padding).backward(dout);
      EXPECT_TRUE(all_close(wl.grad(), embedding_backward_reference(indices, rows, dout, padding),
                            1e-4, 1e-5));
    }
  }
}

TEST(Parallel, CrossEntropyForwardAndBackward) {
  const int64_t n = 301, c = 131;
  Tensor logits = randn_tensor({n, c}, 416, 2.0);
  TestRng rng(417);
  std::vector<int64_t> t(n);
  for (auto& v : t) v = static_cast<int64_t>(rng.next_u64() % c);
  t[5] = t[77] = -100;
  Tensor target = from_vector_i64(t, {n});
  Shape shape;
  for (Reduction r : {Reduction::None, Reduction::Mean}) {
    auto [one, two] = on_one_and_two_threads([&] { return cross_entropy(logits, target, -100, r, 0.1); });
    EXPECT_TRUE(all_close(two, cross_entropy_reference(logits, target, -100, r, 0.1, &shape), 1e-5,
                          1e-5));
    EXPECT_TRUE(all_close(two, one, 1e-6, 1e-6));
  }
  // Backward of the mean loss: (softmax - smoothed one-hot) / count per row.
  ThreadCountGuard restore;
  set_num_threads(2);
  Tensor x = leaf(logits.clone());
  cross_entropy(x, target, -100, Reduction::Mean, 0.1).backward();
  std::vector<double> p = softmax_reference(logits, 1, false), expected(p.size(), 0.0);
  const double count = n - 2;
  for (int64_t i = 0; i < n; ++i) {
    if (t[i] == -100) continue;
    for (int64_t k = 0; k < c; ++k) {
      double target_prob = 0.9 * (k == t[i]) + 0.1 / c;
      expected[i * c + k] = (p[i * c + k] - target_prob) / count;
    }
  }
  EXPECT_TRUE(all_close(x.grad(), expected, 1e-8, 1e-4));
}

}  // namespace
}  // namespace attnkit::testing
