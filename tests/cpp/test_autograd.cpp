// The autograd engine (core/autograd.h): accumulation, retain_graph, grad
// mode, detach, deep graphs.
#include "gradcheck.h"

namespace attnkit::testing {
namespace {

TEST(Autograd, TensorUsedTwiceAccumulates) {
  Tensor x = leaf(from_vector({1, -2, 3}, {3}));
  (x * x).backward(ones({3}));
  EXPECT_TRUE(all_close(x.grad(), {2, -4, 6}, 0, 0));

  Tensor y = leaf(from_vector({1, -2, 3}, {3}));
  (y + y).backward(from_vector({1, 2, 3}, {3}));
  EXPECT_TRUE(all_close(y.grad(), {2, 4, 6}, 0, 0));
}

TEST(Autograd, DiamondGraph) {
  // z = a * b + a * exp(b) with a, b shared by two paths into one node.
  Tensor a = leaf(randn_tensor({4}, 201));
  Tensor b = leaf(randn_tensor({4}, 202));
  EXPECT_TRUE(gradcheck(
      [](const auto& in) {
        Tensor u = in[0] * in[1];
        Tensor v = in[0] * exp(in[1]);
        return (u + v) * u;
      },
      {a, b}));
}

TEST(Autograd, SecondBackwardAccumulatesIntoGrad) {
  Tensor x = leaf(from_vector({1, 2}, {2}));
  (x * 3.0).backward(ones({2}));
  (x * x).backward(ones({2}));
  EXPECT_TRUE(all_close(x.grad(), {3 + 2, 3 + 4}, 0, 0));
  // Resetting .grad starts over.
  x.set_grad(Tensor());
  EXPECT_FALSE(x.grad().defined());
  (x * 3.0).backward(ones({2}));
  EXPECT_TRUE(all_close(x.grad(), {3, 3}, 0, 0));
}

TEST(Autograd, GradIsUndefinedBeforeBackward) {
  Tensor x = leaf(ones({2}));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(x.is_leaf());
  EXPECT_TRUE(x.requires_grad());
  Tensor y = x * 2.0;
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(y.requires_grad());
  ASSERT_TRUE(y.grad_fn());
  EXPECT_FALSE(y.grad_fn()->name().empty());
}

TEST(Autograd, GradDoesNotAliasTheIncomingGradient) {
  Tensor x = leaf(zeros({3}));
  Tensor g = from_vector({1, 2, 3}, {3});
  x.backward(g);  // backward on a leaf: grad = g
  EXPECT_TRUE(all_close(x.grad(), {1, 2, 3}, 0, 0));
  g.fill_(100.0);
  EXPECT_TRUE(all_close(x.grad(), {1, 2, 3}, 0, 0));
  // Nor the gradient flowing out of an identity-like op.
  Tensor y = leaf(zeros({3}));
  Tensor h = from_vector({4, 5, 6}, {3});
  y.reshape({3}).backward(h);
  h.fill_(-1.0);
  EXPECT_TRUE(all_close(y.grad(), {4, 5, 6}, 0, 0));
}

TEST(Autograd, ScalarBackwardNeedsNoGradient) {
  Tensor x = leaf(from_vector({1, 2, 3}, {3}));
  sum(x * x).backward();
  EXPECT_TRUE(all_close(x.grad(), {2, 4, 6}, 0, 0));
  Tensor y = leaf(from_vector({5}, {1, 1}));
  (y * 2.0).backward();  // one element, any shape
  EXPECT_TRUE(all_close(y.grad(), {2}, 0, 0));
}

TEST(Autograd, DetachStopsGradients) {
  Tensor x = leaf(from_vector({1, 2}, {2}));
  Tensor y = x * x.detach();  // d/dx = x (not 2x)
  y.backward(ones({2}));
  EXPECT_TRUE(all_close(x.grad(), {1, 2}, 0, 0));
  Tensor d = (x * 5.0).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_FALSE(d.grad_fn());
  EXPECT_TRUE(throws_error_naming([&] { d.backward(ones({2})); }, "backward"));
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = leaf(randn_tensor({2, 3}, 203));
  Tensor w = leaf(randn_tensor({3, 4}, 204));
  {
    NoGradGuard guard;
    EXPECT_FALSE(autograd::grad_mode_enabled());
    for (Tensor r : {matmul(x, w), x * 2.0, softmax(x, -1), x.t(), sum(x), exp(x),
                     layer_norm(x, {3}), cat({x, x}), x.reshape({6}), x.clone()}) {
      EXPECT_FALSE(r.requires_grad());
      EXPECT_FALSE(r.grad_fn());
    }
    {
      NoGradGuard nested;
      EXPECT_FALSE(autograd::grad_mode_enabled());
    }
    EXPECT_FALSE(autograd::grad_mode_enabled());  // nesting restores the outer state
    {
      autograd::GradModeGuard enable(true);
      EXPECT_TRUE(autograd::grad_mode_enabled());
      EXPECT_TRUE((x * 2.0).requires_grad());
    }
    EXPECT_FALSE(autograd::grad_mode_enabled());
  }
  EXPECT_TRUE(autograd::grad_mode_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
  {
    autograd::GradModeGuard disable(false);
    EXPECT_FALSE((x * 2.0).requires_grad());
  }
}

TEST(Autograd, NoGradDoesNotKeepInputsAlive) {
  // Under NoGradGuard the result holds no node, so the inputs' memory goes
  // when their handles do.
  int released = 0;
  std::vector<float> memory(4, 1.0f);
  Tensor out;
  {
    Tensor x = from_blob(memory.data(), {4}, kFloat32, [&](void*) { ++released; });
    x.set_requires_grad(true);
    NoGradGuard guard;
    out = exp(x) * x;
  }
  EXPECT_EQ(released, 1);
  EXPECT_FALSE(out.grad_fn());
}

TEST(Autograd, BackwardTwiceWithoutRetainGraphThrows) {
  Tensor x = leaf(randn_tensor({3}, 205));
  Tensor y = sum(exp(x) * x);
  y.backward();
  EXPECT_THROW(y.backward(), StateError);
  try {
    y.backward();
    FAIL() << "second backward did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
  Tensor x = leaf(from_vector({1, 2}, {2}));
  Tensor y = sum(x * x);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_TRUE(all_close(x.grad(), {4, 8}, 0, 0));
  y.backward();  // the last one may free the graph
  EXPECT_TRUE(all_close(x.grad(), {6, 12}, 0, 0));
  EXPECT_THROW(y.backward(), StateError);
}

TEST(Autograd, BackwardChecksItsArguments) {
  Tensor x = leaf(ones({2, 2}));
  Tensor y = x * 2.0;
  EXPECT_TRUE(throws_error_naming([&] { y.backward(); }, "backward"));  // not one element
  EXPECT_TRUE(throws_error_naming([&] { y.backward(ones({3})); }, "backward"));
  EXPECT_TRUE(throws_error_naming([] { ones({1}).backward(); }, "backward"));  // no grad
  // A failed backward leaves the graph usable.
  y.backward(ones({2, 2}));
  EXPECT_TRUE(all_close(x.grad(), {2, 2, 2, 2}, 0, 0));
}

TEST(Autograd, RequiresGradOnlyForFloat32) {
  EXPECT_TRUE(throws_error_naming([] { ones({2}, kInt64).set_requires_grad(true); }, "requires_grad"));
  EXPECT_TRUE(throws_error_naming([] { ones({2}, kBFloat16).set_requires_grad(true); },
                                  "requires_grad"));
  Tensor y = leaf(ones({2})) * 2.0;
  EXPECT_TRUE(throws_error_naming([&] { y.set_requires_grad(false); }, "requires_grad"));
}

TEST(Autograd, InputsNotRequiringGradGetNone) {
  Tensor x = leaf(randn_tensor({3}, 206));
  Tensor c = randn_tensor({3}, 207);
  (x * c + c).backward(ones({3}));
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(c.grad().defined());
}

TEST(Autograd, SetGradChecksShape) {
  Tensor x = leaf(ones({2}));
  EXPECT_TRUE(throws_error_naming([&] { x.set_grad(ones({3})); }, "set_grad"));
  x.set_grad(full({2}, 4.0));
  (x * 1.0).backward(ones({2}));
  EXPECT_TRUE(all_close(x.grad(), {5, 5}, 0, 0));
}

TEST(Autograd, CustomNodeThroughRecord) {
  // An op defined outside the library: y = 3x, recorded by hand.
  Tensor x = leaf(from_vector({1, 2}, {2}));
  Tensor y = from_vector({3, 6}, {2});
  ASSERT_TRUE(autograd::needs_grad({&x}));
  autograd::record("triple", y, {x}, [](const Tensor& g, const std::vector<bool>& needs) {
    EXPECT_EQ(needs, std::vector<bool>{true});
    return std::vector<Tensor>{g * 3.0};
  });
  EXPECT_EQ(y.grad_fn()->name(), "triple");
  ASSERT_EQ(y.grad_fn()->inputs().size(), 1u);
  EXPECT_EQ(y.grad_fn()->input_shapes()[0], (Shape{2}));
  y.backward(ones({2}));
  EXPECT_TRUE(all_close(x.grad(), {3, 3}, 0, 0));
  EXPECT_TRUE(y.grad_fn()->released());
}

TEST(Autograd, DeepChainDoesNotOverflowTheStack) {
  // 10000 adds: both backward and the destruction of the graph must be
  // iterative (or at least shallow enough) not to overflow the stack.
  Tensor x = leaf(ones({4}));
  {
    Tensor y = x;
    for (int i = 0; i < 10000; ++i) y = y + 1.0;
    y.backward(ones({4}));
  }
  EXPECT_TRUE(all_close(x.grad(), {1, 1, 1, 1}, 0, 0));
  // A graph never run backward is destroyed as well.
  {
    Tensor y = x;
    for (int i = 0; i < 10000; ++i) y = y * 1.0;
  }
  SUCCEED();
}

TEST(Autograd, VeryDeepChain) {
  // A long unrolled recurrence: 100000 nodes.
  Tensor x = leaf(ones({1}));
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y + 1.0;
    EXPECT_EQ(y.item(), 100001.0);
    y.backward(ones({1}));
  }
  EXPECT_TRUE(all_close(x.grad(), {1}, 0, 0));
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y * 1.0;
  }
  SUCCEED();
}

TEST(Autograd, WideFanOut) {
  // One leaf feeding 2000 branches summed together.
  Tensor x = leaf(from_vector({0.5f}, {1}));
  Tensor total = zeros({1});
  for (int i = 0; i < 2000; ++i) total = total + x * static_cast<double>(i % 3);
  total.backward(ones({1}));
  double expected = 0;
  for (int i = 0; i < 2000; ++i) expected += i % 3;
  EXPECT_TRUE(all_close(x.grad(), {expected}, 0, 0));
}

}  // namespace
}  // namespace attnkit::testing

namespace attnkit::testing {
namespace {

// The checker itself: it must reject a wrong backward and a random forward.
Tensor square_with_backward(const Tensor& x, double factor) {
  Tensor y = from_vector(std::vector<float>(x.numel(), 0.0f), x.shape());
  std::vector<double> v = values(x);
  for (int64_t i = 0; i < x.numel(); ++i) y.data<float>()[i] = static_cast<float>(v[i] * v[i]);
  if (autograd::needs_grad({&x})) {
    Tensor saved = x.detach();
    autograd::record("square", y, {x}, [saved, factor](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{g * saved * factor};
    });
  }
  return y;
}

TEST(Gradcheck, AcceptsARightBackward) {
  Tensor x = leaf(randn_tensor({2, 3}, 301));
  EXPECT_TRUE(gradcheck([](const auto& in) { return square_with_backward(in[0], 2.0); }, {x}));
}

TEST(Gradcheck, RejectsAWrongBackward) {
  Tensor x = leaf(randn_tensor({2, 3}, 302));
  EXPECT_FALSE(gradcheck([](const auto& in) { return square_with_backward(in[0], 2.01); }, {x}));
  EXPECT_FALSE(gradcheck([](const auto& in) { return square_with_backward(in[0], 1.0); }, {x}));
}

TEST(Gradcheck, RejectsANondeterministicForward) {
  Tensor x = leaf(randn_tensor({4}, 303));
  EXPECT_FALSE(gradcheck([](const auto& in) { return dropout(in[0], 0.5); }, {x}));
}

}  // namespace
}  // namespace attnkit::testing
