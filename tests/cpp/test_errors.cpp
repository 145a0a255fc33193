// Bad input throws attnkit::Error naming the op — for every op family a wrong
// shape and a wrong dtype — and nothing crashes on out-of-range arguments.
#include <limits>

#include "test_support.h"

namespace attnkit::testing {
namespace {

// EXPECT that `statement` throws attnkit::Error whose message contains `op`.
#define EXPECT_ERROR_NAMING(statement, op) \
  EXPECT_TRUE(throws_error_naming([&] { (void)(statement); }, op))

const Tensor& f23() {
  static const Tensor t = randn_tensor({2, 3}, 1);
  return t;
}
const Tensor& i23() {
  static const Tensor t = from_vector_i64({0, 1, 2, 0, 1, 2}, {2, 3});
  return t;
}
const Tensor& b23() {
  static const Tensor t = gt(randn_tensor({2, 3}, 2), 0.0);
  return t;
}

TEST(Errors, MessageNamesShapesAndExpectation) {
  try {
    matmul(zeros({2, 3}), zeros({4, 5}));
    FAIL() << "matmul of (2, 3) and (4, 5) did not throw";
  } catch (const ValueError& e) {
    std::string m = e.what();
    EXPECT_EQ(m.rfind("matmul", 0), 0u) << m;  // starts with the op
    EXPECT_NE(m.find("(2, 3)"), std::string::npos) << m;
    EXPECT_NE(m.find("(4, 5)"), std::string::npos) << m;
    EXPECT_NE(m.find("3 != 4"), std::string::npos) << m;
  }
}

TEST(Errors, ShapeErrorsAreValueErrors) {
  EXPECT_THROW(add(zeros({2, 3}), zeros({4})), ValueError);
  EXPECT_THROW(zeros({6}).reshape({4}), ValueError);
  EXPECT_THROW(softmax(zeros({2}), 1), ValueError);
  // And ValueError is an attnkit::Error is a std::runtime_error.
  EXPECT_THROW(add(zeros({2, 3}), zeros({4})), Error);
  EXPECT_THROW(add(zeros({2, 3}), zeros({4})), std::runtime_error);
}

// ---------------------------------------------------------------- elementwise

TEST(Errors, Elementwise) {
  const Tensor a = zeros({2, 3}), b = zeros({4});
  EXPECT_ERROR_NAMING(add(a, b), "add");
  EXPECT_ERROR_NAMING(sub(a, b), "sub");
  EXPECT_ERROR_NAMING(mul(a, b), "mul");
  EXPECT_ERROR_NAMING(div(a, b), "div");
  EXPECT_ERROR_NAMING(pow(a, b), "pow");
  EXPECT_ERROR_NAMING(maximum(a, b), "maximum");
  EXPECT_ERROR_NAMING(minimum(a, b), "minimum");
  EXPECT_ERROR_NAMING(a + zeros({3, 2}), "add");
  // dtype: negating a bool tensor is undefined (as in PyTorch).
  EXPECT_ERROR_NAMING(neg(b23()), "neg");
  // A bad option value.
  EXPECT_ERROR_NAMING(gelu(a, "fast"), "gelu");
  // An undefined operand is an error, not a crash.
  EXPECT_ERROR_NAMING(add(a, Tensor()), "undefined");
  EXPECT_ERROR_NAMING(exp(Tensor()), "undefined");
}

// ---------------------------------------------------------------- compare

TEST(Errors, Compare) {
  EXPECT_ERROR_NAMING(eq(zeros({2, 3}), zeros({2})), "eq");
  EXPECT_ERROR_NAMING(lt(zeros({2, 3}), zeros({3, 3})), "lt");
  EXPECT_ERROR_NAMING(where(b23(), f23(), zeros({4})), "where");
  EXPECT_ERROR_NAMING(where(gt(zeros({5}), 0.0), f23(), f23()), "where");
  EXPECT_ERROR_NAMING(masked_fill(f23(), gt(zeros({4}), 0.0), 0.0), "masked_fill");
  // The mask broadcasts to x, never x to the mask.
  EXPECT_ERROR_NAMING(masked_fill(zeros({3}), b23(), 0.0), "masked_fill");
  // dtype: conditions and masks must be bool.
  EXPECT_ERROR_NAMING(where(f23(), f23(), f23()), "where");
  EXPECT_ERROR_NAMING(where(i23(), f23(), f23()), "where");
  EXPECT_ERROR_NAMING(masked_fill(f23(), f23(), 0.0), "masked_fill");
  EXPECT_ERROR_NAMING(masked_fill(f23(), i23(), 0.0), "masked_fill");
}

// ---------------------------------------------------------------- reduce

TEST(Errors, Reduce) {
  const Tensor x = zeros({2, 3});
  EXPECT_ERROR_NAMING(sum(x, {2}), "sum");
  EXPECT_ERROR_NAMING(sum(x, {-3}), "sum");
  EXPECT_ERROR_NAMING(sum(x, {0, 0}), "sum");
  EXPECT_ERROR_NAMING(mean(x, {5}), "mean");
  EXPECT_ERROR_NAMING(var(x, Dims{2}), "var");
  EXPECT_ERROR_NAMING(max(x, 2), "max");
  EXPECT_ERROR_NAMING(min(x, -3), "min");
  EXPECT_ERROR_NAMING(argmax(x, 7), "argmax");
  EXPECT_ERROR_NAMING(argmin(x, -9), "argmin");
  EXPECT_ERROR_NAMING(sum_to_shape(x, {4}), "sum_to_shape");
  EXPECT_ERROR_NAMING(sum_to_shape(x, {2, 2, 3, 1}), "sum_to_shape");
  EXPECT_ERROR_NAMING(var(x, -1), "var");  // negative correction
  // Empty reductions with no identity.
  EXPECT_ERROR_NAMING(max(zeros({0})), "max");
  EXPECT_ERROR_NAMING(min(zeros({0, 3})), "min");
  EXPECT_ERROR_NAMING(argmax(zeros({0})), "argmax");
  EXPECT_ERROR_NAMING(max(zeros({2, 0}), 1), "max");
  // dtype: a mean or variance of integers has no integer result.
  EXPECT_ERROR_NAMING(mean(i23()), "mean");
  EXPECT_ERROR_NAMING(mean(i23(), {0}), "mean");
  EXPECT_ERROR_NAMING(var(i23()), "var");
}

// ---------------------------------------------------------------- matmul

TEST(Errors, Matmul) {
  EXPECT_ERROR_NAMING(matmul(zeros({2, 3}), zeros({4, 5})), "matmul");
  EXPECT_ERROR_NAMING(matmul(zeros({3}), zeros({4})), "matmul");
  EXPECT_ERROR_NAMING(matmul(zeros({2, 3, 4}), zeros({3, 4, 5})), "matmul");  // batch 2 vs 3
  EXPECT_ERROR_NAMING(matmul(zeros({3}), zeros({4, 5})), "matmul");
  EXPECT_ERROR_NAMING(matmul(scalar_tensor(1.0), zeros({3})), "matmul");
  EXPECT_ERROR_NAMING(mm(zeros({2, 3}), zeros({2, 3})), "matmul");
  // dtype
  EXPECT_ERROR_NAMING(matmul(ones({2, 3}, kInt64), ones({3, 2}, kInt64)), "matmul");
  EXPECT_ERROR_NAMING(matmul(zeros({2, 3}), ones({3, 2}, kInt32)), "matmul");
  EXPECT_ERROR_NAMING(matmul(b23(), zeros({3, 2})), "matmul");
}

// ---------------------------------------------------------------- softmax

TEST(Errors, Softmax) {
  EXPECT_ERROR_NAMING(softmax(f23(), 2), "softmax");
  EXPECT_ERROR_NAMING(softmax(f23(), -3), "softmax");
  EXPECT_ERROR_NAMING(log_softmax(f23(), 5), "log_softmax");
  EXPECT_ERROR_NAMING(softmax(i23(), 1), "softmax");
  EXPECT_ERROR_NAMING(log_softmax(i23(), 1), "log_softmax");
  EXPECT_ERROR_NAMING(softmax(b23(), 0), "softmax");
}

// ---------------------------------------------------------------- layer_norm

TEST(Errors, LayerNorm) {
  const Tensor x = zeros({2, 3, 4});
  EXPECT_ERROR_NAMING(layer_norm(x, {3}), "layer_norm");
  EXPECT_ERROR_NAMING(layer_norm(x, {2, 4}), "layer_norm");
  EXPECT_ERROR_NAMING(layer_norm(x, {2, 2, 3, 4}), "layer_norm");
  EXPECT_ERROR_NAMING(layer_norm(x, {}), "layer_norm");
  EXPECT_ERROR_NAMING(layer_norm(x, {4}, zeros({3})), "layer_norm");
  EXPECT_ERROR_NAMING(layer_norm(x, {4}, zeros({4}), zeros({1, 4})), "layer_norm");
  EXPECT_ERROR_NAMING(layer_norm(x, {4}, Tensor(), Tensor(), -1.0), "layer_norm");
  // dtype
  EXPECT_ERROR_NAMING(layer_norm(ones({2, 4}, kInt64), {4}), "layer_norm");
  EXPECT_ERROR_NAMING(layer_norm(x, {4}, ones({4}, kInt64)), "layer_norm");
  EXPECT_ERROR_NAMING(layer_norm(x, {4}, Tensor(), ones({4}, kBool)), "layer_norm");
}

// ---------------------------------------------------------------- embedding

TEST(Errors, Embedding) {
  const Tensor weight = zeros({5, 3});
  EXPECT_ERROR_NAMING(embedding(from_vector_i64({0}, {1}), zeros({5})), "embedding");
  EXPECT_ERROR_NAMING(embedding(from_vector_i64({0}, {1}), zeros({5, 3, 2})), "embedding");
  // Indices out of range (never a read out of bounds).
  EXPECT_ERROR_NAMING(embedding(from_vector_i64({0, 5}, {2}), weight), "embedding");
  EXPECT_ERROR_NAMING(embedding(from_vector_i64({-1}, {1}), weight), "embedding");
  EXPECT_ERROR_NAMING(embedding(from_vector_i64({1000000000}, {1}), weight), "embedding");
  EXPECT_ERROR_NAMING(embedding(from_vector_i64({7}, {1}).to(kInt32), weight), "embedding");
  EXPECT_ERROR_NAMING(embedding(from_vector_i64({0}, {1}), weight, 5), "embedding");
  // dtype
  EXPECT_ERROR_NAMING(embedding(from_vector({0, 1}, {2}), weight), "embedding");
  EXPECT_ERROR_NAMING(embedding(b23(), weight), "embedding");
  EXPECT_ERROR_NAMING(embedding(from_vector_i64({0}, {1}), ones({5, 3}, kInt64)), "embedding");
}

// ---------------------------------------------------------------- cross_entropy

TEST(Errors, CrossEntropy) {
  const Tensor logits = zeros({4, 3});
  const Tensor target = from_vector_i64({0, 1, 2, 0}, {4});
  EXPECT_ERROR_NAMING(cross_entropy(logits, from_vector_i64({0, 1, 2}, {3})), "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(logits, target.reshape({2, 2})), "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(zeros({4, 3, 2}), target), "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(scalar_tensor(0.0), from_vector_i64({0}, {})), "cross_entropy");
  // Targets out of range (never a read out of bounds).
  EXPECT_ERROR_NAMING(cross_entropy(logits, from_vector_i64({0, 1, 3, 0}, {4})), "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(logits, from_vector_i64({0, -1, 2, 0}, {4})), "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(zeros({2, 3, 2}), from_vector_i64({0, 9, 1, 1}, {2, 2})),
                      "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(logits, target, -100, Reduction::Mean, 1.5), "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(logits, target, -100, Reduction::Mean, -0.1), "cross_entropy");
  // dtype
  EXPECT_ERROR_NAMING(cross_entropy(logits, from_vector({0, 1, 2, 0}, {4})), "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(ones({4, 3}, kInt64), target), "cross_entropy");
  EXPECT_ERROR_NAMING(cross_entropy(logits, target.to(kBool)), "cross_entropy");
}

// ---------------------------------------------------------------- dropout

TEST(Errors, Dropout) {
  EXPECT_ERROR_NAMING(dropout(f23(), -0.1), "dropout");
  EXPECT_ERROR_NAMING(dropout(f23(), 1.5), "dropout");
  EXPECT_ERROR_NAMING(dropout(f23(), std::numeric_limits<double>::quiet_NaN()), "dropout");
  EXPECT_ERROR_NAMING(dropout(f23(), -0.1, false), "dropout");  // checked in eval mode too
  // dtype
  EXPECT_ERROR_NAMING(dropout(i23(), 0.5), "dropout");
  EXPECT_ERROR_NAMING(dropout(b23(), 0.5), "dropout");
}

// ---------------------------------------------------------------- join

TEST(Errors, Join) {
  const Tensor x = zeros({2, 3});
  EXPECT_ERROR_NAMING(cat({x, zeros({2, 4})}, 0), "cat");
  EXPECT_ERROR_NAMING(cat({x, zeros({3})}, 0), "cat");
  EXPECT_ERROR_NAMING(cat({x, x}, 2), "cat");
  EXPECT_ERROR_NAMING(cat({x, x}, -3), "cat");
  EXPECT_ERROR_NAMING(cat({}, 0), "cat");
  EXPECT_ERROR_NAMING(cat({scalar_tensor(1.0), scalar_tensor(2.0)}), "cat");
  EXPECT_ERROR_NAMING(stack({x, zeros({3, 2})}), "stack");
  EXPECT_ERROR_NAMING(stack({x, x}, 3), "stack");
  EXPECT_ERROR_NAMING(stack({}, 0), "stack");
  EXPECT_ERROR_NAMING(split(x, std::vector<int64_t>{1, 1}, 1), "split");
  EXPECT_ERROR_NAMING(split(x, std::vector<int64_t>{2, 2}, 1), "split");
  EXPECT_ERROR_NAMING(split(x, std::vector<int64_t>{4, -1}, 1), "split");
  EXPECT_ERROR_NAMING(split(x, 0, 1), "split");
  EXPECT_ERROR_NAMING(split(x, -2, 1), "split");
  EXPECT_ERROR_NAMING(split(x, 1, 2), "split");
  EXPECT_ERROR_NAMING(chunk(x, 0), "chunk");
  EXPECT_ERROR_NAMING(chunk(x, -1), "chunk");
  EXPECT_ERROR_NAMING(chunk(x, 2, 5), "chunk");
  // dtype: all pieces must share one dtype.
  EXPECT_ERROR_NAMING(cat({x, ones({2, 3}, kInt64)}), "cat");
  EXPECT_ERROR_NAMING(stack({x, ones({2, 3}, kInt64)}), "stack");
}

// ---------------------------------------------------------------- views

TEST(Errors, Views) {
  const Tensor x = zeros({2, 3, 4});
  EXPECT_ERROR_NAMING(x.reshape({5, 5}), "reshape");
  EXPECT_ERROR_NAMING(x.reshape({-1, 5}), "reshape");
  EXPECT_ERROR_NAMING(x.reshape({-1, -1}), "reshape");
  EXPECT_ERROR_NAMING(x.reshape({-2, -12}), "reshape");
  EXPECT_ERROR_NAMING(x.view({7}), "view");
  EXPECT_ERROR_NAMING(x.transpose(0, 1).view({24}), "view");
  EXPECT_ERROR_NAMING(x.slice(2, 0, 4, 2).view({24}), "view");
  EXPECT_ERROR_NAMING(x.permute({0, 1}), "permute");
  EXPECT_ERROR_NAMING(x.permute({0, 1, 1}), "permute");
  EXPECT_ERROR_NAMING(x.permute({0, 1, 3}), "permute");
  EXPECT_ERROR_NAMING(x.transpose(0, 3), "transpose");
  EXPECT_ERROR_NAMING(x.transpose(-4, 0), "transpose");
  EXPECT_ERROR_NAMING(x.t(), "t");
  EXPECT_ERROR_NAMING(x.slice(3, 0, 1), "slice");
  EXPECT_ERROR_NAMING(x.slice(0, 0, 2, 0), "slice");
  EXPECT_ERROR_NAMING(x.slice(0, 0, 2, -1), "slice");
  EXPECT_ERROR_NAMING(x.narrow(1, 2, 2), "narrow");
  EXPECT_ERROR_NAMING(x.narrow(1, 0, -1), "narrow");
  EXPECT_ERROR_NAMING(x.narrow(3, 0, 1), "narrow");
  EXPECT_ERROR_NAMING(x.select(1, 3), "select");
  EXPECT_ERROR_NAMING(x.select(1, -4), "select");
  EXPECT_ERROR_NAMING(x.select(3, 0), "select");
  EXPECT_ERROR_NAMING(scalar_tensor(1.0).select(0, 0), "select");
  EXPECT_ERROR_NAMING(x.expand({2, 5, 4}), "expand");
  EXPECT_ERROR_NAMING(x.expand({3, 4}), "expand");
  EXPECT_ERROR_NAMING(x.expand({-1, 2, 3, 4}), "expand");
  EXPECT_ERROR_NAMING(x.squeeze(3), "squeeze");
  EXPECT_ERROR_NAMING(x.unsqueeze(4), "unsqueeze");
  EXPECT_ERROR_NAMING(x.unsqueeze(-5), "unsqueeze");
  EXPECT_ERROR_NAMING(x.flatten(2, 1), "flatten");
  EXPECT_ERROR_NAMING(x.flatten(0, 3), "flatten");
  EXPECT_ERROR_NAMING(x.size(3), "size");
}

// ---------------------------------------------------------------- creation

TEST(Errors, Creation) {
  EXPECT_ERROR_NAMING(empty({2, -1}), "empty");
  EXPECT_ERROR_NAMING(zeros({-3}), "(-3,)");  // names the bad shape
  EXPECT_ERROR_NAMING(from_vector({1, 2, 3}, {2, 2}), "from_vector");
  EXPECT_ERROR_NAMING(from_vector_i64({1, 2, 3}, {2}), "from_vector");
  EXPECT_ERROR_NAMING(arange(0, 5, 0), "arange");
  EXPECT_ERROR_NAMING(arange(5, 0, 1), "arange");
  EXPECT_ERROR_NAMING(from_blob(nullptr, {2}, kFloat32), "from_blob");
  EXPECT_ERROR_NAMING(zeros({2}).copy_(zeros({3})), "copy_");
  EXPECT_ERROR_NAMING(zeros({2, 3}).data<int32_t>(), "data");
}

}  // namespace
}  // namespace attnkit::testing
