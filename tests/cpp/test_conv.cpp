// conv1d / conv2d (ops/conv.h) on oneDNN against the plain reference kernel
// (kernels/conv_reference.h) over random geometries — stride, padding
// (sizes, "same", "valid"), dilation, groups (depthwise too), bias or not,
// batched or not, input layouts — forward and every gradient; a small
// finite-difference gradcheck; the kernel on strided outputs; the errors;
// and nn::Conv1d / Conv2d.
#include <algorithm>
#include <cmath>
#include <string>

#include "gradcheck.h"
#include "kernels/conv_dnnl.h"
#include "kernels/conv_reference.h"

namespace attnkit::testing {
namespace {

using kernels::ConvParams;

// Tolerances against the double-accumulating reference. The forward sums
// C_in / groups · KH · KW <= 48 float products (oneDNN in float32, in its own
// order): ~1e-6 relative to the sum of |terms|. The weight gradient sums up to
// N · OH · OW ~ 500 terms, the data gradient up to C_out / groups · KH · KW.
constexpr double kForwardAtol = 2e-5, kForwardRtol = 1e-4;
constexpr double kGradAtol = 1e-4, kGradRtol = 1e-4;

enum class InputLayout { Contiguous, ChannelsLast, Strided };

struct ConvCase {
  size_t dims;  // spatial dims: 1 or 2
  bool batched;
  int64_t batch, in_channels, out_channels, groups;
  std::vector<int64_t> size, kernel, stride, dilation;
  std::string padding_mode;      // "" for explicit sizes, else "same" / "valid"
  std::vector<int64_t> padding;  // explicit sizes, one per dim
  bool bias;
  InputLayout layout;
  uint64_t seed;

  ConvFuncOptions options() const {
    ConvFuncOptions o{.stride = stride, .dilation = dilation, .groups = groups};
    if (padding_mode.empty()) {
      o.padding = padding;
    } else {
      o.padding = ConvPadding(padding_mode);
    }
    return o;
  }
  Shape input_shape() const {
    Shape s = {in_channels};
    if (batched) s.insert(s.begin(), batch);
    s.insert(s.end(), size.begin(), size.end());
    return s;
  }
  Shape weight_shape() const {
    Shape s = {out_channels, in_channels / groups};
    s.insert(s.end(), kernel.begin(), kernel.end());
    return s;
  }
  std::string describe() const {
    std::ostringstream out;
    out << dims << "-D " << (batched ? "batched" : "unbatched") << " input " << shape_str(input_shape())
        << " weight " << shape_str(weight_shape()) << " groups " << groups << " stride " << shape_str(stride)
        << " dilation " << shape_str(dilation) << " padding "
        << (padding_mode.empty() ? shape_str(padding) : padding_mode) << (bias ? " bias" : " no bias")
        << " layout " << static_cast<int>(layout);
    return out.str();
  }
};

// The reference geometry, worked out here independently of the op.
ConvParams reference_params(const ConvCase& c) {
  ConvParams p;
  p.batch = c.batched ? c.batch : 1;
  p.in_channels = c.in_channels;
  p.out_channels = c.out_channels;
  p.groups = c.groups;
  const size_t first = 2 - c.dims;
  for (size_t i = 0; i < c.dims; ++i) {
    int64_t begin = 0, end = 0;
    if (c.padding_mode == "same") {
      const int64_t total = c.dilation[i] * (c.kernel[i] - 1);
      begin = total / 2;
      end = total - begin;
    } else if (c.padding_mode.empty()) {
      begin = end = c.padding[i];
    }
    p.input[first + i] = c.size[i];
    p.kernel[first + i] = c.kernel[i];
    p.stride[first + i] = c.stride[i];
    p.dilation[first + i] = c.dilation[i];
    p.pad_begin[first + i] = begin;
    p.pad_end[first + i] = end;
    const int64_t span = c.dilation[i] * (c.kernel[i] - 1) + 1;
    p.output[first + i] = (c.size[i] + begin + end - span) / c.stride[i] + 1;
  }
  return p;
}

int64_t pick(TestRng& rng, int64_t low, int64_t high) {  // uniform in [low, high]
  return low + static_cast<int64_t>(rng.uniform() * static_cast<double>(high - low + 1));
}

ConvCase random_case(uint64_t seed) {
  TestRng rng(seed);
  ConvCase c;
  c.seed = seed;
  c.dims = static_cast<size_t>(pick(rng, 1, 2));
  c.batched = rng.uniform() < 0.75;
  c.batch = pick(rng, 1, 3);
  switch (pick(rng, 0, 3)) {
    case 0:  // dense
      c.groups = 1;
      c.in_channels = pick(rng, 1, 5);
      c.out_channels = pick(rng, 1, 5);
      break;
    case 1:  // depthwise, with a depth multiplier of 1 or 2
      c.groups = c.in_channels = pick(rng, 1, 6);
      c.out_channels = c.groups * pick(rng, 1, 2);
      break;
    default:  // grouped
      c.groups = pick(rng, 2, 3);
      c.in_channels = c.groups * pick(rng, 1, 3);
      c.out_channels = c.groups * pick(rng, 1, 3);
  }
  const int64_t padding_kind = pick(rng, 0, 3);  // 0, 1: sizes; 2: "same"; 3: "valid"
  c.padding_mode = padding_kind == 2 ? "same" : padding_kind == 3 ? "valid" : "";
  for (size_t i = 0; i < c.dims; ++i) {
    c.kernel.push_back(pick(rng, 1, 4));
    c.dilation.push_back(pick(rng, 1, 2));
    c.stride.push_back(c.padding_mode == "same" ? 1 : pick(rng, 1, 3));
    c.padding.push_back(pick(rng, 0, 2));
    const int64_t span = c.dilation[i] * (c.kernel[i] - 1) + 1;
    const int64_t pads = c.padding_mode.empty() ? 2 * c.padding[i] : c.padding_mode == "same" ? span - 1 : 0;
    c.size.push_back(std::max<int64_t>(1, span - pads) + pick(rng, 0, c.dims == 1 ? 9 : 5));
  }
  c.bias = rng.uniform() < 0.6;
  const int64_t layout = pick(rng, 0, 2);
  c.layout = layout == 1 && c.batched && c.dims == 2 ? InputLayout::ChannelsLast
             : layout == 2                           ? InputLayout::Strided
                                                     : InputLayout::Contiguous;
  return c;
}

constexpr uint64_t kCases = 48;

// The leaf that receives the gradient, and the view of it the op sees.
struct LeafAndView {
  Tensor leaf, view;
  // The leaf's gradient seen through the same view, in the view's shape.
  Tensor grad() const { return view_of(leaf.grad()); }
  InputLayout layout;
  Tensor view_of(const Tensor& base) const {
    if (layout == InputLayout::ChannelsLast) return base.permute({0, 3, 1, 2});
    if (layout == InputLayout::Strided) return base.slice(-1, 0, base.size(-1), 2);
    return base;
  }
};

LeafAndView make_input(const ConvCase& c) {
  Shape shape = c.input_shape();
  Shape base_shape = shape;
  if (c.layout == InputLayout::ChannelsLast) base_shape = {shape[0], shape[2], shape[3], shape[1]};
  if (c.layout == InputLayout::Strided) base_shape.back() *= 2;
  LeafAndView x{leaf(randn_tensor(base_shape, c.seed * 7 + 1)), Tensor(), c.layout};
  x.view = x.view_of(x.leaf);
  EXPECT_EQ(x.view.shape(), shape);
  return x;
}

std::vector<float> as_floats(const Tensor& t) {
  std::vector<double> v = values(t);
  return std::vector<float>(v.begin(), v.end());
}

std::vector<double> as_doubles(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

class ConvVsReference : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ConvVsReference, ForwardAndGradients) {
  const ConvCase c = random_case(GetParam());
  SCOPED_TRACE(c.describe());
  const ConvParams p = reference_params(c);
  LeafAndView x = make_input(c);
  Tensor w = leaf(randn_tensor(c.weight_shape(), c.seed * 7 + 2, 0.5));
  Tensor b = c.bias ? leaf(randn_tensor({c.out_channels}, c.seed * 7 + 3)) : Tensor();

  Tensor y = c.dims == 1 ? conv1d(x.view, w, b, c.options()) : conv2d(x.view, w, b, c.options());
  Shape expected_shape = {c.out_channels};
  if (c.batched) expected_shape.insert(expected_shape.begin(), c.batch);
  for (size_t i = 0; i < c.dims; ++i) expected_shape.push_back(p.output[2 - c.dims + i]);
  ASSERT_EQ(y.shape(), expected_shape);

  const std::vector<float> xs = as_floats(x.view), ws = as_floats(w), bs = c.bias ? as_floats(b) : std::vector<float>();
  std::vector<float> expected(static_cast<size_t>(y.numel()));
  kernels::conv_forward_reference(expected.data(), xs.data(), ws.data(), c.bias ? bs.data() : nullptr, p);
  EXPECT_TRUE(all_close(y, as_doubles(expected), kForwardAtol, kForwardRtol));

  Tensor dy = randn_tensor(y.shape(), c.seed * 7 + 4);
  y.backward(dy);
  const std::vector<float> dys = as_floats(dy);
  std::vector<float> dx(xs.size()), dw(ws.size()), db(static_cast<size_t>(c.out_channels));
  kernels::conv_backward_data_reference(dx.data(), dys.data(), ws.data(), p);
  kernels::conv_backward_weights_reference(dw.data(), db.data(), dys.data(), xs.data(), p);
  EXPECT_TRUE(all_close(x.grad(), as_doubles(dx), kGradAtol, kGradRtol)) << "input gradient";
  EXPECT_TRUE(all_close(w.grad(), as_doubles(dw), kGradAtol, kGradRtol)) << "weight gradient";
  if (c.bias) {
    EXPECT_TRUE(all_close(b.grad(), as_doubles(db), kGradAtol, kGradRtol)) << "bias gradient";
  }
}

INSTANTIATE_TEST_SUITE_P(ConvRandom, ConvVsReference, ::testing::Range<uint64_t>(1, kCases + 1));

TEST(ConvVsReferenceSelected, OnlySomeInputsRequireGrad) {
  // Every subset of {input, weight, bias} needing a gradient takes its own
  // backward plan (bias alone still runs the weight pass, into scratch).
  ConvCase c = random_case(5);
  c.bias = true;
  const ConvParams p = reference_params(c);
  const Tensor x0 = make_input(c).view.detach(), w0 = randn_tensor(c.weight_shape(), 52, 0.5);
  const Tensor b0 = randn_tensor({c.out_channels}, 53);
  const Tensor dy = randn_tensor(c.dims == 1 ? conv1d(x0, w0, b0, c.options()).shape()
                                             : conv2d(x0, w0, b0, c.options()).shape(),
                                 54);
  const std::vector<float> xs = as_floats(x0), ws = as_floats(w0), dys = as_floats(dy);
  std::vector<float> dx(xs.size()), dw(ws.size()), db(static_cast<size_t>(c.out_channels));
  kernels::conv_backward_data_reference(dx.data(), dys.data(), ws.data(), p);
  kernels::conv_backward_weights_reference(dw.data(), db.data(), dys.data(), xs.data(), p);
  for (int mask = 1; mask < 8; ++mask) {
    Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
    if (mask & 1) x = leaf(x);
    if (mask & 2) w = leaf(w);
    if (mask & 4) b = leaf(b);
    (c.dims == 1 ? conv1d(x, w, b, c.options()) : conv2d(x, w, b, c.options())).backward(dy);
    SCOPED_TRACE("mask " + std::to_string(mask));
    EXPECT_EQ(x.grad().defined(), (mask & 1) != 0);
    EXPECT_EQ(w.grad().defined(), (mask & 2) != 0);
    EXPECT_EQ(b.grad().defined(), (mask & 4) != 0);
    if (mask & 1) {
      EXPECT_TRUE(all_close(x.grad(), as_doubles(dx), kGradAtol, kGradRtol));
    }
    if (mask & 2) {
      EXPECT_TRUE(all_close(w.grad(), as_doubles(dw), kGradAtol, kGradRtol));
    }
    if (mask & 4) {
      EXPECT_TRUE(all_close(b.grad(), as_doubles(db), kGradAtol, kGradRtol));
    }
  }
}

TEST(ConvVsReferenceSelected, OneAndTwoThreadsAgreeWithTheReference) {
  ThreadCountGuard restore;
  ConvCase c = random_case(11);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor x = randn_tensor({4, 8, 9, 7}, 61), w = randn_tensor({6, 4, 3, 3}, 62, 0.5);
    Tensor y = conv2d(x, w, Tensor(), {.stride = {2, 1}, .padding = {1, 2}, .groups = 2});
    ConvParams p;
    p.batch = 4, p.in_channels = 8, p.out_channels = 6, p.groups = 2;
    p.input = {9, 7}, p.kernel = {3, 3}, p.stride = {2, 1}, p.pad_begin = p.pad_end = {1, 2};
    p.output = {5, 9};
    std::vector<float> xs = as_floats(x), ws = as_floats(w), expected(static_cast<size_t>(y.numel()));
    kernels::conv_forward_reference(expected.data(), xs.data(), ws.data(), nullptr, p);
    EXPECT_TRUE(all_close(y, as_doubles(expected), kForwardAtol, kForwardRtol)) << threads << " threads";
  }
}

TEST(ConvVsReferenceSelected, LargerChannelCountsUseTheBlockedLayout) {
  // 16+ channels: oneDNN computes in nChw8c, so the reorders in and out of it are exercised.
  Tensor x = leaf(randn_tensor({2, 24, 10, 11}, 71)), w = leaf(randn_tensor({32, 24, 3, 3}, 72, 0.2));
  Tensor b = leaf(randn_tensor({32}, 73));
  Tensor y = conv2d(x, w, b, {.padding = 1});
  ConvParams p;
  p.batch = 2, p.in_channels = 24, p.out_channels = 32;
  p.input = {10, 11}, p.output = {10, 11}, p.kernel = {3, 3}, p.pad_begin = p.pad_end = {1, 1};
  std::vector<float> xs = as_floats(x), ws = as_floats(w), bs = as_floats(b), out(static_cast<size_t>(y.numel()));
  kernels::conv_forward_reference(out.data(), xs.data(), ws.data(), bs.data(), p);
  EXPECT_TRUE(all_close(y, as_doubles(out), 1e-4, 1e-4));
  Tensor dy = randn_tensor(y.shape(), 74);
  y.backward(dy);
  std::vector<float> dys = as_floats(dy), dx(xs.size()), dw(ws.size()), db(32);
  kernels::conv_backward_data_reference(dx.data(), dys.data(), ws.data(), p);
  kernels::conv_backward_weights_reference(dw.data(), db.data(), dys.data(), xs.data(), p);
  EXPECT_TRUE(all_close(x.grad(), as_doubles(dx), 1e-4, 1e-4));
  EXPECT_TRUE(all_close(w.grad(), as_doubles(dw), 5e-4, 1e-4));
  EXPECT_TRUE(all_close(b.grad(), as_doubles(db), 5e-4, 1e-4));
}

// ---- the kernel itself: strided outputs, the plan cache ----

TEST(ConvKernel, WritesChannelsLastOutputsAndGradients) {
  ConvParams p;
  p.batch = 2, p.in_channels = 6, p.out_channels = 9, p.groups = 3;
  p.input = {7, 8}, p.output = {4, 7}, p.kernel = {3, 2}, p.stride = {2, 1};
  p.pad_begin = {1, 0}, p.pad_end = {1, 1}, p.dilation = {1, 2};
  const Tensor x = randn_tensor({2, 6, 7, 8}, 81), w = randn_tensor({9, 2, 3, 2}, 82);
  const Tensor b = randn_tensor({9}, 83), dy = randn_tensor({2, 9, 4, 7}, 84);
  std::vector<float> xs = as_floats(x), ws = as_floats(w), bs = as_floats(b), dys = as_floats(dy);
  // Outputs in NHWC memory: element (n, c, h, w) at ((n H + h) W + w) C + c.
  auto nhwc = [](int64_t c, int64_t h, int64_t w) { return std::array<int64_t, 4>{h * w * c, 1, w * c, c}; };
  std::vector<float> y(2 * 9 * 4 * 7), dx(xs.size()), dw(ws.size()), db(9);
  kernels::dnnl_conv_forward({y.data(), nhwc(9, 4, 7)}, {xs.data(), {336, 56, 8, 1}}, ws.data(), bs.data(), p);
  kernels::ConvGradients grads{{dx.data(), nhwc(6, 7, 8)}, dw.data(), db.data()};
  kernels::dnnl_conv_backward(grads, {dys.data(), {252, 28, 7, 1}}, {xs.data(), {336, 56, 8, 1}}, ws.data(), p);

  std::vector<float> y_ref(y.size()), dx_ref(dx.size()), dw_ref(dw.size()), db_ref(9);
  kernels::conv_forward_reference(y_ref.data(), xs.data(), ws.data(), bs.data(), p);
  kernels::conv_backward_data_reference(dx_ref.data(), dys.data(), ws.data(), p);
  kernels::conv_backward_weights_reference(dw_ref.data(), db_ref.data(), dys.data(), xs.data(), p);
  // Read the NHWC arrays back as (N, C, H, W) views.
  Tensor y_view = from_blob(y.data(), {2, 4, 7, 9}, kFloat32).permute({0, 3, 1, 2});
  Tensor dx_view = from_blob(dx.data(), {2, 7, 8, 6}, kFloat32).permute({0, 3, 1, 2});
  EXPECT_TRUE(all_close(y_view, as_doubles(y_ref), kForwardAtol, kForwardRtol));
  EXPECT_TRUE(all_close(dx_view, as_doubles(dx_ref), kGradAtol, kGradRtol));
  EXPECT_TRUE(all_close(from_blob(dw.data(), {9, 2, 3, 2}, kFloat32), as_doubles(dw_ref), kGradAtol, kGradRtol));
  EXPECT_TRUE(all_close(from_blob(db.data(), {9}, kFloat32), as_doubles(db_ref), kGradAtol, kGradRtol));
}

TEST(ConvKernel, PlansAreCreatedOncePerSignature) {
  Tensor x = leaf(randn_tensor({2, 3, 6, 6}, 91)), w = leaf(randn_tensor({4, 3, 3, 3}, 92));
  auto step = [&] { sum(conv2d(x, w, Tensor(), {.stride = 1, .padding = 1, .dilation = 1})).backward(); };
  step();
  const size_t after_first = kernels::dnnl_conv_cache_size();
  for (int i = 0; i < 3; ++i) step();
  EXPECT_EQ(kernels::dnnl_conv_cache_size(), after_first);
}

// ---- semantics ----

TEST(ConvSemantics, Conv1dIsConv2dOfHeightOne) {
  Tensor x = randn_tensor({2, 4, 13}, 101), w = randn_tensor({6, 2, 3}, 102), b = randn_tensor({6}, 103);
  ConvFuncOptions o{.stride = 2, .padding = 2, .dilation = 3, .groups = 2};
  Tensor y1 = conv1d(x, w, b, o);
  Tensor y2 = conv2d(x.unsqueeze(2), w.unsqueeze(2), b,
                     {.stride = {1, 2}, .padding = {0, 2}, .dilation = {1, 3}, .groups = 2});
  EXPECT_TRUE(all_close(y1, values(y2.squeeze(2)), 1e-6, 1e-6));
}

TEST(ConvSemantics, SamePaddingKeepsTheSizeAndPutsTheOddRowAtTheEnd) {
  // An even kernel: total padding 1 per dim, all of it bottom/right; the
  // result equals explicit padding (0, 1) done by hand with zeros.
  Tensor x = randn_tensor({1, 2, 5, 6}, 111), w = randn_tensor({3, 2, 2, 2}, 112);
  Tensor y = conv2d(x, w, Tensor(), {.padding = "same"});
  EXPECT_EQ(y.shape(), (Shape{1, 3, 5, 6}));
  Tensor padded = zeros({1, 2, 6, 7});
  padded.slice(2, 0, 5).slice(3, 0, 6).copy_(x);
  EXPECT_TRUE(all_close(y, values(conv2d(padded, w)), 1e-6, 1e-6));
  EXPECT_EQ(conv2d(x, w, Tensor(), {.padding = "valid"}).shape(), (Shape{1, 3, 4, 5}));
}

TEST(ConvSemantics, EmptyBatchGivesAnEmptyOutputAndZeroGradients) {
  Tensor x = leaf(zeros({0, 3, 5, 5})), w = leaf(randn_tensor({4, 3, 3, 3}, 121)), b = leaf(randn_tensor({4}, 122));
  Tensor y = conv2d(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{0, 4, 3, 3}));
  sum(y).backward();
  EXPECT_TRUE(all_close(w.grad(), std::vector<double>(108, 0.0)));
  EXPECT_TRUE(all_close(b.grad(), std::vector<double>(4, 0.0)));
}

// ---- finite differences ----

TEST(ConvGradcheck, Conv2dGroupedStridedDilated) {
  Tensor x = leaf(randn_tensor({2, 4, 6, 5}, 131)), w = leaf(randn_tensor({6, 2, 3, 2}, 132, 0.5));
  Tensor b = leaf(randn_tensor({6}, 133));
  EXPECT_TRUE(gradcheck(
      [](const auto& in) {
        return conv2d(in[0], in[1], in[2], {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2});
      },
      {x, w, b}));
}

TEST(ConvGradcheck, Conv2dSamePaddingUnbatched) {
  Tensor x = leaf(randn_tensor({3, 5, 4}, 141)), w = leaf(randn_tensor({2, 3, 2, 3}, 142, 0.5));
  EXPECT_TRUE(gradcheck([](const auto& in) { return conv2d(in[0], in[1], Tensor(), {.padding = "same"}); }, {x, w}));
}

TEST(ConvGradcheck, Conv1dDepthwise) {
  Tensor x = leaf(randn_tensor({2, 3, 9}, 151)), w = leaf(randn_tensor({3, 1, 3}, 152, 0.5));
  Tensor b = leaf(randn_tensor({3}, 153));
  EXPECT_TRUE(gradcheck(
      [](const auto& in) { return conv1d(in[0], in[1], in[2], {.stride = 2, .padding = 1, .groups = 3}); },
      {x, w, b}));
}

// ---- errors ----

TEST(ConvErrors, BadInputIsAClearError) {
  const Tensor x = randn_tensor({2, 4, 6, 6}, 161), w = randn_tensor({6, 4, 3, 3}, 162);
  const Tensor x1 = randn_tensor({2, 4, 8}, 163), w1 = randn_tensor({6, 4, 3}, 164);
  struct Bad {
    std::function<void()> call;
    const char* needle;
  };
  const std::vector<Bad> cases = {
      {[&] { conv2d(randn_tensor({4, 6}, 1), w); }, "conv2d: expected a 3-D (unbatched) or 4-D (batched) input"},
      {[&] { conv2d(randn_tensor({1, 2, 4, 6, 6}, 1), w); }, "got shape (1, 2, 4, 6, 6)"},
      {[&] { conv2d(x, w1); }, "conv2d: weight must be 4-D"},
      {[&] { conv1d(x1, w); }, "conv1d: weight must be 3-D"},
      {[&] { conv2d(x, randn_tensor({6, 3, 3, 3}, 1)); }, "has 4 channels, but weight of shape (6, 3, 3, 3)"},
      {[&] { conv2d(x, randn_tensor({6, 2, 3, 3}, 1), Tensor(), {.groups = 3}); },
       "has 4 channels, which groups=3 does not divide"},
      {[&] { conv2d(x, randn_tensor({5, 2, 3, 3}, 1), Tensor(), {.groups = 2}); },
       "5 output channels, which groups=2 does not divide"},
      {[&] { conv2d(x, w, Tensor(), {.groups = 0}); }, "conv2d: groups must be positive, got 0"},
      {[&] { conv2d(x, w, randn_tensor({5}, 1)); }, "conv2d: bias must be (6)"},
      {[&] { conv2d(x, randn_tensor({6, 4, 7, 3}, 1)); }, "larger than the padded input (6, 6)"},
      {[&] { conv2d(x, w, Tensor(), {.dilation = 4}); }, "spans (9, 9), larger than the padded input"},
      {[&] { conv1d(x1, randn_tensor({6, 4, 11}, 1), Tensor(), {.padding = 1}); }, "conv1d: the kernel (11,)"},
      {[&] { conv2d(x, w, Tensor(), {.stride = 0}); }, "conv2d: stride must be positive, got (0, 0)"},
      {[&] { conv2d(x, w, Tensor(), {.stride = {1, -1}}); }, "conv2d: stride must be positive"},
      {[&] { conv2d(x, w, Tensor(), {.dilation = {0, 1}}); }, "conv2d: dilation must be positive"},
      {[&] { conv2d(x, w, Tensor(), {.padding = -1}); }, "conv2d: padding must be non-negative, got (-1, -1)"},
      {[&] { conv2d(x, w, Tensor(), {.stride = {1, 2, 3}}); }, "conv2d: stride must be one int or 2 ints, got 3"},
      {[&] { conv2d(x, w, Tensor(), {.stride = 2, .padding = "same"}); },
       "conv2d: padding='same' is not supported for strided convolutions"},
      {[&] { conv2d(x, w, Tensor(), {.padding = "full"}); },
       "conv2d: padding must be an int, a tuple of ints, 'valid' or 'same', got 'full'"},
      {[&] { conv2d(from_vector_i64(std::vector<int64_t>(144, 1), {1, 4, 6, 6}), w); },
       "conv2d: expected floating point tensors, got int64"},
      {[&] { conv2d(x, randn_tensor({6, 4, 0, 3}, 1)); }, "has an empty kernel (0, 3)"},
      {[&] { conv2d(x, randn_tensor({0, 4, 3, 3}, 1)); },
       "conv2d: weight of shape (0, 4, 3, 3) has no output channels"},
      {[&] { conv2d(randn_tensor({2, 0, 6, 6}, 1), randn_tensor({6, 0, 3, 3}, 1)); }, "has no input channels"},
  };
  for (const Bad& bad : cases) EXPECT_TRUE(throws_error_naming(bad.call, bad.needle));
}

// ---- nn::Conv1d / nn::Conv2d ----

TEST(ConvModule, ParametersAndInitialisationAreTorchs) {
  nn::Conv2d conv({.in_channels = 4, .out_channels = 6, .kernel_size = {3, 2}, .groups = 2});
  const nn::NamedTensors params = conv.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(params[0].second.shape(), (Shape{6, 2, 3, 2}));
  EXPECT_EQ(params[1].first, "bias");
  EXPECT_EQ(params[1].second.shape(), (Shape{6}));
  const double bound = 1.0 / std::sqrt(2.0 * 3 * 2);  // 1 / √fan_in, fan_in = in / groups · kH · kW
  for (const auto& [name, t] : params) {
    const std::vector<double> v = values(t);
    EXPECT_LE(*std::max_element(v.begin(), v.end()), bound) << name;
    EXPECT_GE(*std::min_element(v.begin(), v.end()), -bound) << name;
    EXPECT_GT(*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()), bound / 2) << name;
  }
  nn::Conv1d no_bias({.in_channels = 3, .out_channels = 5, .kernel_size = 4, .bias = false});
  EXPECT_EQ(no_bias.named_parameters().size(), 1u);
  EXPECT_EQ(no_bias.weight.shape(), (Shape{5, 3, 4}));
  EXPECT_FALSE(no_bias.bias.defined());
}

TEST(ConvModule, ExtraReprIsTorchs) {
  EXPECT_EQ(nn::Conv2d({.in_channels = 4, .out_channels = 8, .kernel_size = 3}).extra_repr(),
            "4, 8, kernel_size=(3, 3), stride=(1, 1)");
  EXPECT_EQ(nn::Conv2d({.in_channels = 4,
                        .out_channels = 8,
                        .kernel_size = {3, 1},
                        .stride = 2,
                        .padding = {1, 0},
                        .dilation = 2,
                        .groups = 4,
                        .bias = false,
                        .padding_mode = "reflect"})
                .extra_repr(),
            "4, 8, kernel_size=(3, 1), stride=(2, 2), padding=(1, 0), dilation=(2, 2), groups=4, bias=False, "
            "padding_mode=reflect");
  EXPECT_EQ(nn::Conv1d({.in_channels = 2, .out_channels = 3, .kernel_size = 5, .padding = "same"}).extra_repr(),
            "2, 3, kernel_size=(5,), stride=(1,), padding=same");
  EXPECT_EQ(nn::Conv1d({.in_channels = 2, .out_channels = 3, .kernel_size = 5}).repr(),
            "Conv1d(2, 3, kernel_size=(5,), stride=(1,))");
}

TEST(ConvModule, ForwardIsTheFunctionalConvolution) {
  nn::Conv2d conv({.in_channels = 4, .out_channels = 6, .kernel_size = 3, .stride = 2, .padding = 1, .groups = 2});
  Tensor x = randn_tensor({2, 4, 7, 7}, 171);
  Tensor expected = conv2d(x, conv.weight, conv.bias, {.stride = 2, .padding = 1, .groups = 2});
  EXPECT_TRUE(all_close(conv.forward(x), values(expected), 0.0, 0.0));
  EXPECT_EQ(conv.forward(x.select(0, 0)).shape(), (Shape{6, 4, 4}));  // unbatched
}

// Test-side padding by index mapping: where each padded position reads from.
int64_t source_index(int64_t i, int64_t n, const std::string& mode) {
  if (mode == "reflect") return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
  if (mode == "replicate") return std::clamp<int64_t>(i, 0, n - 1);
  return ((i % n) + n) % n;  // circular
}

TEST(ConvModule, PaddingModesPadTheInputFirst) {
  for (const std::string mode : {"reflect", "replicate", "circular"}) {
    SCOPED_TRACE(mode);
    nn::Conv2d conv({.in_channels = 2, .out_channels = 3, .kernel_size = {3, 4}, .padding = "same",
                     .padding_mode = mode});
    Tensor x = leaf(randn_tensor({2, 2, 5, 6}, 181));
    // "same" for (3, 4): rows (1, 1), columns (1, 2).
    Tensor padded = empty({2, 2, 7, 9});
    for (int64_t n = 0; n < 2; ++n) {
      for (int64_t c = 0; c < 2; ++c) {
        for (int64_t i = 0; i < 7; ++i) {
          for (int64_t j = 0; j < 9; ++j) {
            const double v = x.at({n, c, source_index(i - 1, 5, mode), source_index(j - 1, 6, mode)});
            padded.select(0, n).select(0, c).select(0, i).select(0, j).fill_(v);
          }
        }
      }
    }
    Tensor y = conv.forward(x);
    EXPECT_EQ(y.shape(), (Shape{2, 3, 5, 6}));
    EXPECT_TRUE(all_close(y, values(conv2d(padded, conv.weight, conv.bias)), 1e-6, 1e-6));
    EXPECT_TRUE(gradcheck([&](const auto& in) { return conv.forward(in[0]); }, {x}));
  }
  nn::Conv1d conv1({.in_channels = 1, .out_channels = 1, .kernel_size = 3, .padding = 2, .padding_mode = "circular"});
  EXPECT_EQ(conv1.forward(randn_tensor({1, 1, 4}, 182)).shape(), (Shape{1, 1, 6}));
}

TEST(ConvModule, BadOptionsAreClearErrors) {
  EXPECT_TRUE(throws_error_naming(
      [] { nn::Conv2d({.in_channels = 3, .out_channels = 4, .kernel_size = 3, .groups = 2}); },
      "Conv2d: in_channels=3 must be divisible by groups=2"));
  EXPECT_TRUE(throws_error_naming(
      [] { nn::Conv2d({.in_channels = 4, .out_channels = 3, .kernel_size = 3, .groups = 2}); },
      "Conv2d: out_channels=3 must be divisible by groups=2"));
  EXPECT_TRUE(throws_error_naming(
      [] { nn::Conv2d({.in_channels = 4, .out_channels = 4, .kernel_size = 3, .padding_mode = "mirror"}); },
      "Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got 'mirror'"));
  EXPECT_TRUE(throws_error_naming(
      [] { nn::Conv1d({.in_channels = 4, .out_channels = 4, .kernel_size = 3, .stride = 2, .padding = "same"}); },
      "Conv1d: padding='same' is not supported for strided convolutions"));
  EXPECT_TRUE(throws_error_naming(
      [] { nn::Conv2d({.in_channels = 4, .out_channels = 4, .kernel_size = 3, .padding = "half"}); },
      "Conv2d: padding must be an int, a tuple of ints, 'valid' or 'same', got 'half'"));
  EXPECT_TRUE(throws_error_naming([] { nn::Conv2d({.in_channels = 4, .out_channels = 4, .kernel_size = 0}); },
                                  "Conv2d: kernel_size must be positive"));
  nn::Conv2d reflect({.in_channels = 1, .out_channels = 1, .kernel_size = 5, .padding = 3, .padding_mode = "reflect"});
  EXPECT_TRUE(throws_error_naming([&] { reflect.forward(randn_tensor({1, 1, 3, 3}, 1)); },
                                  "Conv2d: padding_mode='reflect' needs padding smaller than the input"));
  nn::Conv2d conv({.in_channels = 4, .out_channels = 4, .kernel_size = 3});
  EXPECT_TRUE(throws_error_naming([&] { conv.forward(randn_tensor({4, 5}, 1)); },
                                  "Conv2d: expected a 3-D (unbatched) or 4-D (batched) input, got shape (4, 5)"));
}

}  // namespace
}  // namespace attnkit::testing
