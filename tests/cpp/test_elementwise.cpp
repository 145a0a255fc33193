// Elementwise arithmetic and activations (ops/elementwise.h): forward values
// against std:: math in double, and finite-difference gradients, over
// broadcast shapes and non-contiguous layouts.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <tuple>

#include "gradcheck.h"

namespace attnkit::testing {
namespace {

using Domain = std::function<Tensor(const Shape&, uint64_t)>;

Tensor normal_domain(const Shape& s, uint64_t seed) { return randn_tensor(s, seed); }
Tensor positive_domain(const Shape& s, uint64_t seed) { return uniform_tensor(s, seed, 0.5, 2.0); }
Tensor nonzero_domain(const Shape& s, uint64_t seed) { return away_from_zero(s, seed, 0.5); }
Tensor exponent_domain(const Shape& s, uint64_t seed) { return uniform_tensor(s, seed, -2.0, 2.0); }
// maximum/minimum: the two operands never come within 0.05 of each other.
Tensor grid_domain_a(const Shape& s, uint64_t seed) { return distinct_tensor(s, seed, 0.1, 0.0); }
Tensor grid_domain_b(const Shape& s, uint64_t seed) { return distinct_tensor(s, seed, 0.1, 0.05); }

// ---------------------------------------------------------------- binary ops

struct BinaryCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> reference;
  Domain domain_a, domain_b;
};

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {"add", [](auto& a, auto& b) { return add(a, b); }, [](double a, double b) { return a + b; },
       normal_domain, normal_domain},
      {"sub", [](auto& a, auto& b) { return sub(a, b); }, [](double a, double b) { return a - b; },
       normal_domain, normal_domain},
      {"mul", [](auto& a, auto& b) { return mul(a, b); }, [](double a, double b) { return a * b; },
       normal_domain, normal_domain},
      {"div", [](auto& a, auto& b) { return div(a, b); }, [](double a, double b) { return a / b; },
       normal_domain, nonzero_domain},
      {"pow", [](auto& a, auto& b) { return pow(a, b); },
       [](double a, double b) { return std::pow(a, b); }, positive_domain, exponent_domain},
      {"maximum", [](auto& a, auto& b) { return maximum(a, b); },
       [](double a, double b) { return std::max(a, b); }, grid_domain_a, grid_domain_b},
      {"minimum", [](auto& a, auto& b) { return minimum(a, b); },
       [](double a, double b) { return std::min(a, b); }, grid_domain_a, grid_domain_b},
  };
  return cases;
}

struct ShapePair {
  std::string name;
  Shape a, b;
};

const std::vector<ShapePair>& shape_pairs() {
  static const std::vector<ShapePair> pairs = {
      {"same", {3, 4}, {3, 4}},           {"row", {2, 3, 4}, {4}},
      {"column", {2, 3, 4}, {3, 1}},      {"both", {2, 1, 4}, {3, 1}},
      {"scalar", {2, 3}, {}},             {"left", {4}, {2, 3, 4}},
      {"rank_gap", {1, 4}, {2, 3, 1, 1}},
  };
  return pairs;
}

using BinaryParam = std::tuple<size_t, size_t, Layout>;  // case, shape pair, layout

class BinaryOp : public ::testing::TestWithParam<BinaryParam> {
 protected:
  const BinaryCase& op_case() const { return binary_cases()[std::get<0>(GetParam())]; }
  const ShapePair& shapes() const { return shape_pairs()[std::get<1>(GetParam())]; }
  Layout layout() const { return std::get<2>(GetParam()); }
  Tensor input_a() const { return relayout(op_case().domain_a(shapes().a, 11), layout()); }
  Tensor input_b() const { return relayout(op_case().domain_b(shapes().b, 22), layout()); }
};

// Forward and backward in one test: one process per case keeps ctest fast.
TEST_P(BinaryOp, ForwardAndGradcheck) {
  Tensor a = input_a(), b = input_b();
  Shape expected_shape;
  std::vector<double> expected = broadcast_reference(a, b, op_case().reference, &expected_shape);
  Tensor out = op_case().op(a, b);
  EXPECT_EQ(out.shape(), expected_shape);
  EXPECT_EQ(out.dtype(), kFloat32);
  EXPECT_TRUE(all_close(out, expected, 1e-6, 1e-5)) << "forward";

  auto op = op_case().op;
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                        {leaf(a), leaf(b)}));
}

TEST(Elementwise, OperatorsMatchTheNamedOps) {
  Tensor a = relayout(randn_tensor({2, 3}, 12), Layout::Transposed);
  Tensor b = away_from_zero({3}, 13, 0.5);
  EXPECT_TRUE(all_close(a + b, add(a, b), 0, 0));
  EXPECT_TRUE(all_close(a - b, sub(a, b), 0, 0));
  EXPECT_TRUE(all_close(a * b, mul(a, b), 0, 0));
  EXPECT_TRUE(all_close(a / b, div(a, b), 0, 0));
  Tensor x = leaf(randn_tensor({2, 3}, 14)), y = leaf(away_from_zero({2, 3}, 15, 0.5));
  EXPECT_TRUE(gradcheck([](const auto& in) { return (in[0] + in[1]) * in[0] - in[0] / in[1].t().t(); },
                        {x, y}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return in[1] / (in[0] - in[1] * 3.0 + 30.0); }, {x, y}));
}

INSTANTIATE_TEST_SUITE_P(
    Elementwise, BinaryOp,
    ::testing::Combine(::testing::Range<size_t>(0, binary_cases().size()),
                       ::testing::Range<size_t>(0, shape_pairs().size()),
                       ::testing::Values(Layout::Contiguous, Layout::Transposed, Layout::Strided)),
    [](const ::testing::TestParamInfo<BinaryParam>& info) {
      return binary_cases()[std::get<0>(info.param)].name + "_" +
             shape_pairs()[std::get<1>(info.param)].name + "_" +
             layout_name(std::get<2>(info.param));
    });

TEST(Elementwise, GradientOnlyToTheInputThatRequiresIt) {
  Tensor a = leaf(randn_tensor({3, 4}, 1));
  Tensor b = randn_tensor({4}, 2);
  Tensor out = mul(a, b);
  ASSERT_TRUE(out.requires_grad());
  out.backward(ones({3, 4}));
  EXPECT_FALSE(b.grad().defined());
  std::vector<double> expected;
  for (int i = 0; i < 3; ++i)
    for (double v : values(b)) expected.push_back(v);
  EXPECT_TRUE(all_close(a.grad(), expected));
}

TEST(Elementwise, GradcheckFloatTimesIntTensor) {
  Tensor a = leaf(randn_tensor({2, 3}, 3));
  Tensor k = from_vector_i64({1, -2, 3}, {3});
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return mul(in[0], k); }, {a}));
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return add(k, in[0]); }, {a}));
}

TEST(Elementwise, GradcheckFloatTimesBFloat16Tensor) {
  Tensor a = leaf(randn_tensor({2, 3}, 7));
  Tensor h = from_vector({0.5f, -2.0f, 1.25f}, {3}).to(kBFloat16);
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return mul(in[0], h); }, {a}));
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return div(h, in[0] * in[0] + 1.0); }, {a}));
}

TEST(Elementwise, SameTensorBroadcastAgainstItself) {
  // x (3, 1) times its transpose (1, 3): both gradients reach x with
  // different reductions and must be summed.
  Tensor x = leaf(randn_tensor({3, 1}, 8));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[0].t()); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return sub(in[0].t(), exp(in[0])); }, {x}));
}

TEST(Elementwise, IntegerUnaryOps) {
  Tensor i = from_vector_i64({-3, 0, 4}, {3});
  Tensor n = neg(i), a = abs(i), r = relu(i);
  EXPECT_EQ(n.dtype(), kInt64);
  EXPECT_EQ(a.dtype(), kInt64);
  EXPECT_EQ(r.dtype(), kInt64);
  EXPECT_TRUE(all_close(n, {3, 0, -4}, 0, 0));
  EXPECT_TRUE(all_close(a, {3, 0, 4}, 0, 0));
  EXPECT_TRUE(all_close(r, {0, 0, 4}, 0, 0));
  // Transcendental functions of integers give float32, as in torch.
  Tensor e = exp(i);
  EXPECT_EQ(e.dtype(), kFloat32);
  EXPECT_TRUE(all_close(e, {std::exp(-3.0), 1.0, std::exp(4.0)}, 1e-6, 1e-6));
  EXPECT_EQ(sqrt(from_vector_i64({4}, {1})).dtype(), kFloat32);
  Tensor m = maximum(i, from_vector_i64({0}, {1}));
  EXPECT_EQ(m.dtype(), kInt64);
  EXPECT_TRUE(all_close(m, {0, 0, 4}, 0, 0));
}

TEST(Elementwise, SameTensorOnBothSides) {
  Tensor x = leaf(randn_tensor({5}, 4));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return add(in[0], in[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return sub(in[0], in[0]); }, {x}));
}

// Large and odd sizes: vector tails, the parallel path, a broadcast inner dim.
TEST(Elementwise, LargeAndOddSizes) {
  for (Shape shape : {Shape{1, 1027}, Shape{257, 33}, Shape{300, 417}}) {
    Tensor a = relayout(randn_tensor(shape, 5), Layout::Transposed);
    Tensor b = randn_tensor({shape[1]}, 6);
    EXPECT_TRUE(all_close(add(a, b), broadcast_reference(a, b, std::plus<double>()), 1e-6, 1e-6))
        << shape_str(shape);
    EXPECT_TRUE(all_close(mul(a, b), broadcast_reference(a, b, std::multiplies<double>()), 1e-6,
                          1e-6))
        << shape_str(shape);
    std::vector<double> e;
    for (double v : values(a)) e.push_back(std::exp(v));
    EXPECT_TRUE(all_close(exp(a), e, 1e-6, 1e-5)) << shape_str(shape);
  }
}

// ---------------------------------------------------------------- scalar forms

struct ScalarCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> reference;
  Domain domain;
};

const std::vector<ScalarCase>& scalar_cases() {
  static const std::vector<ScalarCase> cases = {
      {"add", [](auto& x) { return add(x, 2.5); }, [](double x) { return x + 2.5; }, normal_domain},
      {"sub", [](auto& x) { return sub(x, 1.5); }, [](double x) { return x - 1.5; }, normal_domain},
      {"mul", [](auto& x) { return mul(x, -3.0); }, [](double x) { return x * -3.0; }, normal_domain},
      {"div", [](auto& x) { return div(x, 4.0); }, [](double x) { return x / 4.0; }, normal_domain},
      {"pow_cube", [](auto& x) { return pow(x, 3.0); }, [](double x) { return x * x * x; },
       normal_domain},
      {"pow_square", [](auto& x) { return pow(x, 2.0); }, [](double x) { return x * x; },
       normal_domain},
      {"pow_half", [](auto& x) { return pow(x, 0.5); }, [](double x) { return std::sqrt(x); },
       positive_domain},
      {"pow_negative", [](auto& x) { return pow(x, -1.5); },
       [](double x) { return std::pow(x, -1.5); }, positive_domain},
      {"pow_zero", [](auto& x) { return pow(x, 0.0); }, [](double) { return 1.0; }, normal_domain},
      {"operator_plus", [](auto& x) { return x + 0.25; }, [](double x) { return x + 0.25; },
       normal_domain},
      {"operator_minus", [](auto& x) { return x - 0.25; }, [](double x) { return x - 0.25; },
       normal_domain},
      {"operator_times_left", [](auto& x) { return 2.0 * x; }, [](double x) { return 2.0 * x; },
       normal_domain},
      {"operator_times_right", [](auto& x) { return x * -0.5; }, [](double x) { return -0.5 * x; },
       normal_domain},
      {"operator_divide", [](auto& x) { return x / 8.0; }, [](double x) { return x / 8.0; },
       normal_domain},
  };
  return cases;
}

// ---------------------------------------------------------------- unary ops

double gelu_exact(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

const std::vector<ScalarCase>& unary_cases() {
  static const std::vector<ScalarCase> cases = {
      {"neg", [](auto& x) { return neg(x); }, [](double x) { return -x; }, normal_domain},
      {"operator_neg", [](auto& x) { return -x; }, [](double x) { return -x; }, normal_domain},
      {"exp", [](auto& x) { return exp(x); }, [](double x) { return std::exp(x); }, normal_domain},
      {"log", [](auto& x) { return log(x); }, [](double x) { return std::log(x); },
       positive_domain},
      {"sqrt", [](auto& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); },
       positive_domain},
      {"abs", [](auto& x) { return abs(x); }, [](double x) { return std::abs(x); },
       [](const Shape& s, uint64_t seed) { return away_from_zero(s, seed); }},
      {"tanh", [](auto& x) { return tanh(x); }, [](double x) { return std::tanh(x); },
       normal_domain},
      {"sigmoid", [](auto& x) { return sigmoid(x); }, sigmoid_ref, normal_domain},
      {"relu", [](auto& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0.0; },
       [](const Shape& s, uint64_t seed) { return away_from_zero(s, seed); }},
      {"gelu", [](auto& x) { return gelu(x); }, gelu_exact, normal_domain},
      {"gelu_none", [](auto& x) { return gelu(x, "none"); }, gelu_exact, normal_domain},
      {"gelu_tanh", [](auto& x) { return gelu(x, "tanh"); }, gelu_tanh, normal_domain},
      {"silu", [](auto& x) { return silu(x); }, [](double x) { return x * sigmoid_ref(x); },
       normal_domain},
  };
  return cases;
}

using UnaryParam = std::tuple<bool, size_t, Layout>;  // unary (else scalar form), case, layout

class UnaryOp : public ::testing::TestWithParam<UnaryParam> {
 protected:
  const ScalarCase& op_case() const {
    return (std::get<0>(GetParam()) ? unary_cases() : scalar_cases())[std::get<1>(GetParam())];
  }
  Layout layout() const { return std::get<2>(GetParam()); }
  Tensor input() const { return relayout(op_case().domain({2, 3, 4}, 33), layout()); }
};

TEST_P(UnaryOp, ForwardAndGradcheck) {
  Tensor x = input();
  std::vector<double> expected;
  for (double v : values(x)) expected.push_back(op_case().reference(v));
  Tensor out = op_case().op(x);
  EXPECT_EQ(out.shape(), x.shape());
  EXPECT_EQ(out.dtype(), kFloat32);
  EXPECT_TRUE(all_close(out, expected, 1e-6, 1e-5)) << "forward";

  auto op = op_case().op;
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return op(in[0]); }, {leaf(x)}));
}

std::string unary_name(const ::testing::TestParamInfo<UnaryParam>& info) {
  bool unary = std::get<0>(info.param);
  const ScalarCase& c = (unary ? unary_cases() : scalar_cases())[std::get<1>(info.param)];
  return std::string(unary ? "" : "scalar_") + c.name + "_" + layout_name(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    Activations, UnaryOp,
    ::testing::Combine(::testing::Values(true), ::testing::Range<size_t>(0, unary_cases().size()),
                       ::testing::Values(Layout::Contiguous, Layout::Transposed, Layout::Strided)),
    unary_name);
INSTANTIATE_TEST_SUITE_P(
    ScalarForms, UnaryOp,
    ::testing::Combine(::testing::Values(false), ::testing::Range<size_t>(0, scalar_cases().size()),
                       ::testing::Values(Layout::Contiguous, Layout::Strided)),
    unary_name);

TEST(Elementwise, ActivationsAtLargeMagnitudes) {
  Tensor x = from_vector({-100.f, -20.f, 0.f, 20.f, 100.f}, {5});
  EXPECT_TRUE(all_close(sigmoid(x), {0.0, sigmoid_ref(-20), 0.5, sigmoid_ref(20), 1.0}, 1e-7, 1e-5));
  EXPECT_TRUE(all_close(tanh(x), {-1.0, -1.0, 0.0, 1.0, 1.0}, 1e-7, 1e-6));
  EXPECT_TRUE(all_close(silu(x), {0.0, -20 * sigmoid_ref(-20), 0.0, 20 * sigmoid_ref(20), 100.0},
                        1e-6, 1e-5));
  EXPECT_TRUE(all_close(gelu(x), {0.0, 0.0, 0.0, 20.0, 100.0}, 1e-6, 1e-6));
  EXPECT_TRUE(all_close(gelu(x, "tanh"), {0.0, 0.0, 0.0, 20.0, 100.0}, 1e-6, 1e-6));
  EXPECT_TRUE(all_close(relu(x), {0.0, 0.0, 0.0, 20.0, 100.0}, 0, 0));
}

// ---------------------------------------------------------------- domains (IEEE rules)

TEST(Elementwise, DomainFollowsIeee) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = from_vector({-1.f, 0.f, 4.f}, {3});
  EXPECT_TRUE(all_close(sqrt(x), {nan, 0.0, 2.0}));
  EXPECT_TRUE(all_close(log(x), {nan, -inf, std::log(4.0)}));
  EXPECT_TRUE(all_close(div(from_vector({1.f, -1.f, 0.f}, {3}), zeros({3})), {inf, -inf, nan}));
  EXPECT_TRUE(all_close(div(x, 0.0), {-inf, nan, inf}));
  // Integer division by zero is computed in float32.
  Tensor i = from_vector_i64({3, -3, 0}, {3});
  Tensor q = div(i, from_vector_i64({0, 0, 0}, {3}));
  EXPECT_EQ(q.dtype(), kFloat32);
  EXPECT_TRUE(all_close(q, {inf, -inf, nan}));
  EXPECT_TRUE(all_close(pow(from_vector({-2.f, -2.f}, {2}), from_vector({3.f, 0.5f}, {2})),
                        {-8.0, nan}));
}

// ---------------------------------------------------------------- types

TEST(Elementwise, MaximumMinimumPropagateNan) {
  // As torch.maximum / torch.minimum (NumPy's np.maximum): NaN wins.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor a = from_vector({nan, 1.f, 2.f}, {3}), b = from_vector({0.f, nan, 1.f}, {3});
  const double dnan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(all_close(maximum(a, b), {dnan, dnan, 2.0}, 0, 0));
  EXPECT_TRUE(all_close(minimum(a, b), {dnan, dnan, 1.0}, 0, 0));
}

TEST(Elementwise, TypePromotion) {
  EXPECT_EQ(promote_types(kInt32, kInt64), kInt64);
  EXPECT_EQ(promote_types(kInt64, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kBool, kInt32), kInt32);
  EXPECT_EQ(promote_types(kBool, kInt64), kInt64);
  EXPECT_EQ(promote_types(kFloat32, kBool), kFloat32);
  EXPECT_EQ(promote_types(kBFloat16, kFloat32), kFloat32);
  EXPECT_EQ(promote_types(kFloat32, kFloat32), kFloat32);

  Tensor i64 = from_vector_i64({1, 2, 3}, {3});
  Tensor i32 = i64.to(kInt32);
  Tensor f = from_vector({0.5f, 0.25f, 0.125f}, {3});
  Tensor sum_ints = add(i64, i32);
  EXPECT_EQ(sum_ints.dtype(), kInt64);
  EXPECT_TRUE(all_close(sum_ints, {2, 4, 6}, 0, 0));
  Tensor mixed = add(i64, f);
  EXPECT_EQ(mixed.dtype(), kFloat32);
  EXPECT_TRUE(all_close(mixed, {1.5, 2.25, 3.125}, 0, 0));
  Tensor int_bool = add(i32, ones({3}, kBool));
  EXPECT_EQ(int_bool.dtype(), kInt32);
  EXPECT_TRUE(all_close(int_bool, {2, 3, 4}, 0, 0));

  // div and pow always give float32.
  Tensor quotient = div(from_vector_i64({7, -7, 6}, {3}), from_vector_i64({2, 2, 4}, {3}));
  EXPECT_EQ(quotient.dtype(), kFloat32);
  EXPECT_TRUE(all_close(quotient, {3.5, -3.5, 1.5}, 0, 0));
  Tensor power = pow(from_vector_i64({2, 3, 4}, {3}), from_vector_i64({2, 2, 2}, {3}));
  EXPECT_EQ(power.dtype(), kFloat32);
  EXPECT_TRUE(all_close(power, {4, 9, 16}, 0, 0));
  EXPECT_EQ(pow(i64, 2.0).dtype(), kFloat32);
  EXPECT_EQ(div(i64, 2.0).dtype(), kFloat32);
}

TEST(Elementwise, ScalarTakesTheTensorsKind) {
  Tensor i64 = from_vector_i64({1, 2, 3}, {3});
  Tensor kept = add(i64, 2.0);
  EXPECT_EQ(kept.dtype(), kInt64);
  EXPECT_TRUE(all_close(kept, {3, 4, 5}, 0, 0));
  EXPECT_EQ(mul(i64, 3.0).dtype(), kInt64);
  Tensor widened = mul(i64, 2.5);
  EXPECT_EQ(widened.dtype(), kFloat32);
  EXPECT_TRUE(all_close(widened, {2.5, 5.0, 7.5}, 0, 0));
  EXPECT_EQ(add(from_vector({1.f}, {1}), 2.0).dtype(), kFloat32);
  EXPECT_EQ(scalar_like(2.0, i64).dtype(), kInt64);
  EXPECT_EQ(scalar_like(2.5, i64).dtype(), kFloat32);
  EXPECT_EQ(scalar_like(2.0, ones({2})).dtype(), kFloat32);
  EXPECT_EQ(scalar_like(2.0, i64).dim(), 0);
  EXPECT_DOUBLE_EQ(scalar_like(2.5, i64).item(), 2.5);
}

TEST(Elementwise, BFloat16InputsComputeAsFloat32) {
  Tensor a = from_vector({1.5f, -2.0f, 0.25f}, {3}).to(kBFloat16);
  Tensor b = from_vector({0.5f, 0.5f, 0.5f}, {3});
  Tensor out = mul(a, b);
  EXPECT_EQ(out.dtype(), kFloat32);
  EXPECT_TRUE(all_close(out, {0.75, -1.0, 0.125}, 0, 0));
  EXPECT_TRUE(all_close(exp(a), {std::exp(1.5), std::exp(-2.0), std::exp(0.25)}, 1e-2, 1e-2));
}

TEST(Elementwise, BroadcastShapes) {
  EXPECT_EQ(broadcast_shapes({2, 1, 4}, {3, 1}, "test"), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {3}, "test"), (Shape{3}));
  EXPECT_EQ(broadcast_shapes({5, 0}, {1}, "test"), (Shape{5, 0}));
  EXPECT_TRUE(throws_error_naming([] { broadcast_shapes({2, 3}, {4}, "myop"); }, "myop"));
}

TEST(Elementwise, EmptyTensors) {
  Tensor a = zeros({0, 3});
  Tensor out = add(a, from_vector({1.f, 2.f, 3.f}, {3}));
  EXPECT_EQ(out.shape(), (Shape{0, 3}));
  EXPECT_EQ(exp(a).shape(), (Shape{0, 3}));
}

}  // namespace
}  // namespace attnkit::testing
