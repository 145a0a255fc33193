// Batch norm, pooling, adaptive pooling and interpolation (ops/batch_norm.h,
// ops/pooling.h, ops/adaptive_pooling.h, ops/upsample.h) and their modules:
// forward against plain references written here (textbook loops in double,
// one output element at a time), gradients by finite differences, the bad
// inputs each op must refuse, and the modules' buffers, modes and printing.
// Filter: --gtest_filter='VisionLayers*'.
#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "isa_scope.h"
#include "reference.h"

namespace attnkit::testing {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ============================================================ references ===

// ---- batch norm: x seen as (N, C, S) ----

struct ChannelStats {
  std::vector<double> mean, var;  // biased variance
};

ChannelStats channel_stats_reference(const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1), s = x.numel() / std::max<int64_t>(n * c, 1);
  const std::vector<double> v = values(x);
  ChannelStats out{std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)};
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j) sum += v[(i * c + ch) * s + j];
    const double mean = sum / static_cast<double>(n * s);
    double sq = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j) sq += (v[(i * c + ch) * s + j] - mean) * (v[(i * c + ch) * s + j] - mean);
    out.mean[ch] = mean;
    out.var[ch] = sq / static_cast<double>(n * s);
  }
  return out;
}

std::vector<double> batch_norm_reference(const Tensor& x, const std::vector<double>& mean,
                                         const std::vector<double>& var, const Tensor& w, const Tensor& b,
                                         double eps) {
  const int64_t n = x.size(0), c = x.size(1), s = x.numel() / std::max<int64_t>(n * c, 1);
  const std::vector<double> v = values(x);
  const std::vector<double> wv = w.defined() ? values(w) : std::vector<double>(c, 1.0);
  const std::vector<double> bv = b.defined() ? values(b) : std::vector<double>(c, 0.0);
  std::vector<double> out(v.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < s; ++j) {
        const int64_t k = (i * c + ch) * s + j;
        out[k] = (v[k] - mean[ch]) / std::sqrt(var[ch] + eps) * wv[ch] + bv[ch];
      }
  return out;
}

// ---- pooling: x (N, C, H, W), windows listed cell by cell ----

struct PoolArgs {
  int64_t kh, kw, sh, sw, ph, pw, dh = 1, dw = 1;
  bool ceil_mode = false;
};

// How many windows fit along a dim, said in words rather than by formula:
// without ceil_mode every window lies inside the padded input; with it a
// window may run past the end as long as the one before did not reach it and
// it starts inside the input or the left padding.
int64_t windows_reference(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t extent = d * (k - 1) + 1;
  int64_t count = 0;
  for (int64_t o = 0;; ++o) {
    const bool inside = o * s + extent <= in + 2 * p;
    const bool ceil_extra = ceil_mode && (o - 1) * s + extent < in + 2 * p && o * s < in + p;
    if (!(inside || ceil_extra)) break;
    count = o + 1;
  }
  return count;
}

struct PoolReference {
  Shape shape;
  std::vector<double> values;
  std::vector<int64_t> indices;
};

PoolReference max_pool_reference(const Tensor& x, const PoolArgs& a) {
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh_n = windows_reference(h, a.kh, a.sh, a.ph, a.dh, a.ceil_mode);
  const int64_t ow_n = windows_reference(w, a.kw, a.sw, a.pw, a.dw, a.ceil_mode);
  const std::vector<double> v = values(x);
  PoolReference r{{x.size(0), x.size(1), oh_n, ow_n}, {}, {}};
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t index = -1;
        for (int64_t i = 0; i < a.kh; ++i)
          for (int64_t j = 0; j < a.kw; ++j) {
            const int64_t y = oh * a.sh - a.ph + i * a.dh, z = ow * a.sw - a.pw + j * a.dw;
            if (y < 0 || y >= h || z < 0 || z >= w) continue;
            const double value = v[p * h * w + y * w + z];
            if (index < 0) index = y * w + z;  // the first cell inside the input
            if (value > best || std::isnan(value)) best = value, index = y * w + z;
          }
        r.values.push_back(best);
        r.indices.push_back(index);
      }
  return r;
}

PoolReference avg_pool_reference(const Tensor& x, const PoolArgs& a, bool count_include_pad,
                                 std::optional<int64_t> divisor_override) {
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh_n = windows_reference(h, a.kh, a.sh, a.ph, 1, a.ceil_mode);
  const int64_t ow_n = windows_reference(w, a.kw, a.sw, a.pw, 1, a.ceil_mode);
  const std::vector<double> v = values(x);
  PoolReference r{{x.size(0), x.size(1), oh_n, ow_n}, {}, {}};
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        double sum = 0.0;
        int64_t in_input = 0, in_padded = 0;
        for (int64_t i = 0; i < a.kh; ++i)
          for (int64_t j = 0; j < a.kw; ++j) {
            const int64_t y = oh * a.sh - a.ph + i, z = ow * a.sw - a.pw + j;
            if (y < h + a.ph && z < w + a.pw) ++in_padded;  // windows start at or after -pad
            if (y < 0 || y >= h || z < 0 || z >= w) continue;
            sum += v[p * h * w + y * w + z];
            ++in_input;
          }
        const int64_t divisor = divisor_override ? *divisor_override : (count_include_pad ? in_padded : in_input);
        r.values.push_back(in_input == 0 ? 0.0 : sum / static_cast<double>(divisor));
      }
  return r;
}

// ---- adaptive pooling ----

int64_t bin_start(int64_t i, int64_t in, int64_t out) {
  return static_cast<int64_t>(std::floor(static_cast<double>(i) * in / out));
}
int64_t bin_end(int64_t i, int64_t in, int64_t out) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(i + 1) * in / out));
}

PoolReference adaptive_reference(const Tensor& x, int64_t oh_n, int64_t ow_n, bool max) {
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const std::vector<double> v = values(x);
  PoolReference r{{x.size(0), x.size(1), oh_n, ow_n}, {}, {}};
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        double sum = 0.0, best = -std::numeric_limits<double>::infinity();
        int64_t count = 0, index = bin_start(oh, h, oh_n) * w + bin_start(ow, w, ow_n);
        for (int64_t y = bin_start(oh, h, oh_n); y < bin_end(oh, h, oh_n); ++y)
          for (int64_t z = bin_start(ow, w, ow_n); z < bin_end(ow, w, ow_n); ++z) {
            const double value = v[p * h * w + y * w + z];
            sum += value;
            ++count;
            if (value > best || std::isnan(value)) best = value, index = y * w + z;
          }
        r.values.push_back(max ? best : sum / static_cast<double>(count));
        r.indices.push_back(index);
      }
  return r;
}

// ---- interpolation: the source of each output index, torch's float rules ----

float map_scale(std::optional<double> scale_factor, int64_t in, int64_t out) {
  return scale_factor ? static_cast<float>(1.0 / *scale_factor) : static_cast<float>(in) / static_cast<float>(out);
}

int64_t nearest_source(int64_t o, int64_t in, int64_t out, std::optional<double> scale_factor, bool exact) {
  const float s = map_scale(scale_factor, in, out);
  int64_t i;
  if (exact) {
    i = static_cast<int64_t>(std::floor(static_cast<float>((o + 0.5) * s)));
  } else if (out == in) {
    i = o;
  } else if (out == 2 * in) {
    i = o / 2;
  } else {
    i = static_cast<int64_t>(std::floor(static_cast<float>(o) * s));
  }
  return std::min(i, in - 1);
}

// The two neighbours and the weight of the second.
struct Taps {
  int64_t i0, i1;
  double t;
};

Taps linear_source(int64_t o, int64_t in, int64_t out, std::optional<double> scale_factor, bool align_corners) {
  if (in == out) return {o, o, 0.0};
  float src;
  if (align_corners) {
    src = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) * static_cast<float>(o) : 0.0f;
  } else {
    // One rounding for scale * (o + 0.5) - 0.5, as torch's fused multiply-add.
    src = std::max(std::fma(map_scale(scale_factor, in, out), static_cast<float>(o) + 0.5f, -0.5f), 0.0f);
  }
  const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
  return {i0, std::min(i0 + 1, in - 1), std::clamp(static_cast<double>(src) - static_cast<double>(i0), 0.0, 1.0)};
}

// x (N, C, H, W) resized to (oh, ow); scales are the kept scale factors.
std::vector<double> interpolate_reference(const Tensor& x, int64_t oh_n, int64_t ow_n, const std::string& mode,
                                          bool align_corners, std::optional<double> sh, std::optional<double> sw) {
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const std::vector<double> v = values(x);
  std::vector<double> out;
  for (int64_t p = 0; p < planes; ++p) {
    const double* plane = v.data() + p * h * w;
    for (int64_t oh = 0; oh < oh_n; ++oh)
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        if (mode == "nearest" || mode == "nearest-exact") {
          const bool exact = mode == "nearest-exact";
          out.push_back(plane[nearest_source(oh, h, oh_n, sh, exact) * w + nearest_source(ow, w, ow_n, sw, exact)]);
        } else {
          const Taps a = linear_source(oh, h, oh_n, sh, align_corners);
          const Taps b = linear_source(ow, w, ow_n, sw, align_corners);
          auto at = [&](int64_t y, int64_t z) { return plane[y * w + z]; };
          out.push_back((1 - a.t) * ((1 - b.t) * at(a.i0, b.i0) + b.t * at(a.i0, b.i1)) +
                        a.t * ((1 - b.t) * at(a.i1, b.i0) + b.t * at(a.i1, b.i1)));
        }
      }
  }
  return out;
}

std::vector<double> as_doubles(const std::vector<int64_t>& v) { return std::vector<double>(v.begin(), v.end()); }

// ============================================================ batch norm ===

struct BatchNormCase {
  const char* name;
  Shape x;
  bool affine;
  Layout layout = Layout::Contiguous;
};

const std::vector<BatchNormCase>& batch_norm_cases() {
  static const std::vector<BatchNormCase> cases = {
      {"nc", {6, 3}, true},
      {"ncl", {3, 4, 5}, true},
      {"nchw_affine", {2, 3, 4, 5}, true},
      {"nchw_plain", {2, 3, 4, 5}, false},
      {"nchw_strided", {2, 3, 3, 4}, true, Layout::Strided},
      {"nchw_transposed", {2, 2, 3, 5}, true, Layout::Transposed},
      {"one_sample", {1, 2, 3, 3}, true},
  };
  return cases;
}

class VisionLayersBatchNorm : public ::testing::TestWithParam<size_t> {
 protected:
  const BatchNormCase& c() const { return batch_norm_cases()[GetParam()]; }
  int64_t channels() const { return c().x[1]; }
  Tensor x() const { return relayout(randn_tensor(c().x, 11, 1.5) + 0.5, c().layout); }
  Tensor weight() const { return c().affine ? uniform_tensor({channels()}, 12, 0.5, 1.5) : Tensor(); }
  Tensor bias() const { return c().affine ? randn_tensor({channels()}, 13) : Tensor(); }
};

TEST_P(VisionLayersBatchNorm, TrainingNormalisesWithBatchStatsAndUpdatesRunningStats) {
  Tensor x = this->x(), w = weight(), b = bias();
  Tensor rm = randn_tensor({channels()}, 14), rv = uniform_tensor({channels()}, 15, 0.5, 2.0);
  const std::vector<double> rm0 = values(rm), rv0 = values(rv);
  const double momentum = 0.3, eps = 1e-3;
  Tensor y = batch_norm(x, rm, rv, w, b, /*training=*/true, momentum, eps);
  const ChannelStats s = channel_stats_reference(x);
  EXPECT_TRUE(all_close(y, batch_norm_reference(x, s.mean, s.var, w, b, eps), 1e-5, 1e-5));
  const double count = static_cast<double>(x.numel() / channels());
  std::vector<double> want_rm, want_rv;
  for (int64_t ch = 0; ch < channels(); ++ch) {
    want_rm.push_back((1 - momentum) * rm0[ch] + momentum * s.mean[ch]);
    want_rv.push_back((1 - momentum) * rv0[ch] + momentum * s.var[ch] * count / (count - 1));
  }
  EXPECT_TRUE(all_close(rm, want_rm, 1e-6, 1e-5));
  EXPECT_TRUE(all_close(rv, want_rv, 1e-6, 1e-5));
}

TEST_P(VisionLayersBatchNorm, EvalNormalisesWithRunningStatsAndLeavesThem) {
  Tensor x = this->x(), w = weight(), b = bias();
  Tensor rm = randn_tensor({channels()}, 16), rv = uniform_tensor({channels()}, 17, 0.5, 2.0);
  const std::vector<double> rm0 = values(rm), rv0 = values(rv);
  Tensor y = batch_norm(x, rm, rv, w, b, /*training=*/false, 0.1, 1e-5);
  EXPECT_TRUE(all_close(y, batch_norm_reference(x, rm0, rv0, w, b, 1e-5), 1e-5, 1e-5));
  EXPECT_TRUE(all_close(rm, rm0, 0, 0));
  EXPECT_TRUE(all_close(rv, rv0, 0, 0));
}

TEST_P(VisionLayersBatchNorm, GradcheckTrainingAndEval) {
  Tensor x = leaf(this->x());
  Tensor w = c().affine ? leaf(weight()) : Tensor();
  Tensor b = c().affine ? leaf(bias()) : Tensor();
  EXPECT_TRUE(gradcheck([](const auto& in) { return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true); },
                        {x, w, b}))
      << "training";
  Tensor rm = randn_tensor({channels()}, 18), rv = uniform_tensor({channels()}, 19, 0.5, 2.0);
  EXPECT_TRUE(gradcheck([&](const auto& in) { return batch_norm(in[0], rm, rv, in[1], in[2], false); }, {x, w, b}))
      << "eval";
}

INSTANTIATE_TEST_SUITE_P(VisionLayersBatchNorm, VisionLayersBatchNorm,
                         ::testing::Range<size_t>(0, batch_norm_cases().size()),
                         [](const auto& info) { return std::string(batch_norm_cases()[info.param].name); });

TEST(VisionLayersBatchNormProperties, EveryIsaMatchesTheReference) {
  // The channel loops are compiled for the baseline and for AVX2; planes
  // that are and are not multiples of the 16 lanes and longer than a block
  // (512), a large offset (the shifted one-pass variance), enough elements to
  // go multi-threaded, forward and backward.
  for (kernels::Isa isa : kernels::kAllIsas) {
    if (!kernels::cpu_has(isa)) continue;
    kernels::IsaScope scope(isa);
    for (const Shape& shape : {Shape{3, 5, 7, 9}, Shape{2, 4, 33, 31}, Shape{4, 6, 40, 40}, Shape{64, 3}}) {
      Tensor x = leaf(randn_tensor(shape, 21, 2.0) + 100.0);
      Tensor w = leaf(uniform_tensor({shape[1]}, 22, 0.5, 1.5)), b = leaf(randn_tensor({shape[1]}, 23));
      Tensor y = batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, 1e-5);
      const ChannelStats s = channel_stats_reference(x);
      EXPECT_TRUE(all_close(y, batch_norm_reference(x, s.mean, s.var, w, b, 1e-5), 1e-4, 1e-4))
          << kernels::isa_name(isa) << " " << shape_str(shape);
      // The backward against the closed form: dx = w rstd (dy - mean(dy) - x̂ mean(dy x̂)).
      Tensor dy = randn_tensor(shape, 24);
      y.backward(dy);
      const int64_t n = shape[0], c = shape[1], sp = shape.size() == 4 ? shape[2] * shape[3] : 1;
      const std::vector<double> xv = values(x), gv = values(dy), wv = values(w);
      std::vector<double> dx(xv.size()), dw(c), db(c);
      for (int64_t ch = 0; ch < c; ++ch) {
        const double rstd = 1.0 / std::sqrt(s.var[ch] + 1e-5);
        double mg = 0, mgx = 0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < sp; ++j) {
            const int64_t k = (i * c + ch) * sp + j;
            mg += gv[k];
            mgx += gv[k] * (xv[k] - s.mean[ch]) * rstd;
          }
        dw[ch] = mgx, db[ch] = mg;
        mg /= static_cast<double>(n * sp), mgx /= static_cast<double>(n * sp);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < sp; ++j) {
            const int64_t k = (i * c + ch) * sp + j;
            dx[k] = wv[ch] * rstd * (gv[k] - mg - (xv[k] - s.mean[ch]) * rstd * mgx);
          }
      }
      EXPECT_TRUE(all_close(x.grad(), dx, 1e-4, 1e-4)) << kernels::isa_name(isa) << " " << shape_str(shape);
      EXPECT_TRUE(all_close(w.grad(), dw, 1e-3, 1e-4)) << kernels::isa_name(isa) << " " << shape_str(shape);
      EXPECT_TRUE(all_close(b.grad(), db, 1e-3, 1e-5)) << kernels::isa_name(isa) << " " << shape_str(shape);
    }
  }
}

TEST(VisionLayersBatchNormProperties, EmptyBatchLeavesRunningStatsAlone) {
  Tensor rm = from_vector({1, 2}, {2}), rv = from_vector({3, 4}, {2});
  Tensor y = batch_norm(zeros({0, 2, 3, 3}), rm, rv, Tensor(), Tensor(), true);
  EXPECT_EQ(y.shape(), (Shape{0, 2, 3, 3}));
  EXPECT_TRUE(all_close(rm, {1, 2}, 0, 0));
  EXPECT_TRUE(all_close(rv, {3, 4}, 0, 0));
}

TEST(VisionLayersBatchNormProperties, NaNPropagatesToItsChannelOnly) {
  Tensor x = randn_tensor({2, 2, 3, 3}, 25);
  std::vector<double> v = values(x);
  v[0] = kNaN;  // channel 0
  Tensor xn = from_vector(std::vector<float>(v.begin(), v.end()), x.shape());
  std::vector<double> y = values(batch_norm(xn, Tensor(), Tensor(), Tensor(), Tensor(), true));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 9; ++j) {
      EXPECT_TRUE(std::isnan(y[(i * 2 + 0) * 9 + j]));
      EXPECT_TRUE(std::isfinite(y[(i * 2 + 1) * 9 + j]));
    }
}

TEST(VisionLayersBatchNormProperties, Errors) {
  Tensor x = randn_tensor({2, 3, 4, 4}, 26);
  Tensor c3 = ones({3}), c4 = ones({4});
  EXPECT_TRUE(throws_error_naming([&] { batch_norm(x, c4, c3, Tensor(), Tensor(), true); },
                                  "batch_norm: expected running_mean of shape (3)"));
  EXPECT_TRUE(throws_error_naming([&] { batch_norm(x, c3, c4, Tensor(), Tensor(), false); },
                                  "running_var of shape (3)"));
  EXPECT_TRUE(throws_error_naming([&] { batch_norm(x, c3, c3, c4, Tensor(), false); }, "weight of shape (3)"));
  EXPECT_TRUE(throws_error_naming([&] { batch_norm(x, c3, c3, Tensor(), ones({3, 1}), false); }, "bias of shape (3)"));
  EXPECT_TRUE(throws_error_naming([&] { batch_norm(ones({3}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
                                  "batch_norm: expected an input of shape (N, C, ...)"));
  EXPECT_TRUE(throws_error_naming([&] { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false); },
                                  "batch_norm: running_mean and running_var must be given in evaluation mode"));
  EXPECT_TRUE(throws_error_naming([&] { batch_norm(ones({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
                                  "more than 1 value per channel"));
  EXPECT_TRUE(throws_error_naming(
      [&] { batch_norm(ones({2, 3}, kInt64), Tensor(), Tensor(), Tensor(), Tensor(), true); },
      "batch_norm: expected a floating point input"));
  // One value per channel is fine in eval mode.
  EXPECT_NO_THROW(batch_norm(ones({1, 3}), c3, c3, Tensor(), Tensor(), false));
}

// ============================================================ pooling ======

struct PoolCase {
  const char* name;
  Shape x;
  PoolArgs args;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override = std::nullopt;
};

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {"k2", {2, 3, 6, 6}, {2, 2, 2, 2, 0, 0}},
      {"k3_s2_p1", {2, 2, 7, 8}, {3, 3, 2, 2, 1, 1}},
      {"k3_s1_p1", {1, 2, 5, 5}, {3, 3, 1, 1, 1, 1}},
      {"rect_k2x3_s1x2", {2, 2, 5, 7}, {2, 3, 1, 2, 1, 1}},
      {"dilated", {1, 2, 7, 7}, {3, 2, 2, 1, 1, 1, 2, 3}},
      {"ceil_mode", {2, 2, 5, 5}, {2, 2, 2, 2, 0, 0, 1, 1, true}},
      {"ceil_mode_padded", {1, 2, 6, 5}, {3, 3, 2, 2, 1, 1, 1, 1, true}},
      {"ceil_mode_stride3", {1, 1, 7, 8}, {2, 2, 3, 3, 1, 0, 1, 1, true}},
      {"exclude_pad", {2, 2, 5, 6}, {3, 3, 2, 2, 1, 1}, false},
      {"exclude_pad_ceil", {1, 2, 6, 5}, {3, 3, 2, 2, 1, 1, 1, 1, true}, false},
      {"divisor_override", {1, 2, 6, 6}, {3, 3, 2, 2, 1, 1}, true, 5},
      {"kernel_covers_input", {1, 3, 4, 4}, {4, 4, 1, 1, 0, 0}},
      {"unbatched", {3, 5, 6}, {2, 2, 2, 2, 1, 1}},
  };
  return cases;
}

class VisionLayersPool : public ::testing::TestWithParam<size_t> {
 protected:
  const PoolCase& c() const { return pool_cases()[GetParam()]; }
  IntPair kernel() const { return {c().args.kh, c().args.kw}; }
  IntPair stride() const { return {c().args.sh, c().args.sw}; }
  IntPair padding() const { return {c().args.ph, c().args.pw}; }
  IntPair dilation() const { return {c().args.dh, c().args.dw}; }
  // The reference works on 4-d inputs; an unbatched case gains N = 1.
  static Tensor batched(const Tensor& x) { return x.dim() == 3 ? x.unsqueeze(0) : x; }
  Shape expected_shape(const Shape& ref) const {
    return c().x.size() == 3 ? Shape{ref[1], ref[2], ref[3]} : ref;
  }
};

TEST_P(VisionLayersPool, MaxForwardAndIndicesMatchReference) {
  Tensor x = relayout(distinct_tensor(c().x, 31), Layout::Transposed);
  ValuesIndices r = max_pool2d_with_indices(x, kernel(), stride(), padding(), dilation(), c().args.ceil_mode);
  const PoolReference ref = max_pool_reference(batched(x), c().args);
  EXPECT_EQ(r.values.shape(), expected_shape(ref.shape));
  EXPECT_TRUE(all_close(r.values, ref.values, 0, 0));
  EXPECT_TRUE(all_close(r.indices, as_doubles(ref.indices), 0, 0));
}

TEST_P(VisionLayersPool, AvgForwardMatchesReference) {
  // avg_pool2d has no dilation: a dilated case runs with its other arguments.
  PoolArgs args = c().args;
  args.dh = args.dw = 1;
  Tensor x = relayout(randn_tensor(c().x, 32), Layout::Strided);
  Tensor y = avg_pool2d(x, kernel(), stride(), padding(), args.ceil_mode, c().count_include_pad,
                        c().divisor_override);
  const PoolReference ref = avg_pool_reference(batched(x), args, c().count_include_pad, c().divisor_override);
  EXPECT_EQ(y.shape(), expected_shape(ref.shape));
  EXPECT_TRUE(all_close(y, ref.values, 1e-6, 1e-6));
}

TEST_P(VisionLayersPool, Gradcheck) {
  // Distinct values: every window has a unique maximum, eps-stable.
  Tensor x = leaf(distinct_tensor(c().x, 33, 0.05));
  EXPECT_TRUE(gradcheck(
      [&](const auto& in) {
        return max_pool2d(in[0], kernel(), stride(), padding(), dilation(), c().args.ceil_mode);
      },
      {x}))
      << "max";
  EXPECT_TRUE(gradcheck(
      [&](const auto& in) {
        return avg_pool2d(in[0], kernel(), stride(), padding(), c().args.ceil_mode, c().count_include_pad,
                          c().divisor_override);
      },
      {x}))
      << "avg";
}

INSTANTIATE_TEST_SUITE_P(VisionLayersPool, VisionLayersPool, ::testing::Range<size_t>(0, pool_cases().size()),
                         [](const auto& info) { return std::string(pool_cases()[info.param].name); });

TEST(VisionLayersPoolProperties, OutputSizeRule) {
  // torch's formula, including a last ceil_mode window dropped because it
  // would start in the right padding, and a kernel one wider than the padded
  // input that ceil_mode still gives one window.
  EXPECT_EQ(pooled_size(5, 2, 2, 0, 1, false), 2);
  EXPECT_EQ(pooled_size(5, 2, 2, 0, 1, true), 3);
  EXPECT_EQ(pooled_size(5, 2, 2, 1, 1, true), 3);  // 4 windows by the formula, the last dropped
  EXPECT_EQ(pooled_size(2, 3, 2, 0, 1, true), 1);
  EXPECT_EQ(pooled_size(2, 3, 2, 0, 1, false), 0);
  for (int64_t in = 1; in <= 9; ++in)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t p = 0; p <= k / 2; ++p)
          for (int64_t d = 1; d <= 2; ++d)
            for (bool ceil : {false, true}) {
              EXPECT_EQ(pooled_size(in, k, s, p, d, ceil), windows_reference(in, k, s, p, d, ceil))
                  << in << " " << k << " " << s << " " << p << " " << d << " " << ceil;
            }
}

TEST(VisionLayersPoolProperties, MaxTiesNaNAndInfinity) {
  // Ties: the first maximum in row-major order; NaN wins, the last NaN's index.
  Tensor x = from_vector({1, 3, 3, 0, /**/ 2, static_cast<float>(kNaN), 5, static_cast<float>(kNaN)}, {1, 1, 2, 4});
  ValuesIndices r = max_pool2d_with_indices(x, IntPair(1, 4));
  EXPECT_TRUE(all_close(r.values, {3, kNaN}, 0, 0));
  EXPECT_TRUE(all_close(r.indices, {1, 7}, 0, 0));
  // All -inf: -inf at the window's first position.
  Tensor neg = full({1, 1, 1, 4}, -std::numeric_limits<double>::infinity());
  ValuesIndices n = max_pool2d_with_indices(neg, IntPair(1, 2));
  EXPECT_TRUE(all_close(n.indices, {0, 2}, 0, 0));
  // A tie's gradient goes to the first maximum only.
  Tensor t = leaf(from_vector({2, 2, 1, 2}, {1, 1, 2, 2}));
  max_pool2d(t, 2).backward(ones({1, 1, 1, 1}));
  EXPECT_TRUE(all_close(t.grad(), {1, 0, 0, 0}, 0, 0));
}

TEST(VisionLayersPoolProperties, OverlappingWindowsAccumulate) {
  Tensor x = leaf(from_vector({0, 1, 0, 0, 9, 0, 0, 1, 0}, {1, 1, 3, 3}));
  max_pool2d(x, 2, 1).backward(ones({1, 1, 2, 2}));  // the centre is every window's maximum
  EXPECT_TRUE(all_close(x.grad(), {0, 0, 0, 0, 4, 0, 0, 0, 0}, 0, 0));
}

TEST(VisionLayersPoolProperties, OneDimensionalAreTwoDimensionalWithHeightOne) {
  Tensor x = distinct_tensor({2, 3, 11}, 34);
  for (bool ceil : {false, true}) {
    ValuesIndices r1 = max_pool1d_with_indices(x, 3, 2, 1, 2, ceil);
    ValuesIndices r2 = max_pool2d_with_indices(x.unsqueeze(2), IntPair(1, 3), IntPair(1, 2), IntPair(0, 1),
                                               IntPair(1, 2), ceil);
    EXPECT_TRUE(all_close(r1.values, r2.values.squeeze(2), 0, 0));
    EXPECT_TRUE(all_close(r1.indices, r2.indices.squeeze(2), 0, 0));
    Tensor a1 = avg_pool1d(x, 4, 3, 2, ceil, false);
    Tensor a2 = avg_pool2d(x.unsqueeze(2), IntPair(1, 4), IntPair(1, 3), IntPair(0, 2), ceil, false);
    EXPECT_TRUE(all_close(a1, a2.squeeze(2), 0, 0));
  }
  EXPECT_EQ(max_pool1d(randn_tensor({3, 8}, 35), 2).shape(), (Shape{3, 4}));  // unbatched (C, L)
  Tensor xl = leaf(distinct_tensor({2, 2, 9}, 36));
  EXPECT_TRUE(gradcheck([](const auto& in) { return max_pool1d(in[0], 3, 2, 1); }, {xl}));
  EXPECT_TRUE(gradcheck([](const auto& in) { return avg_pool1d(in[0], 3, 2, 1, true, false); }, {xl}));
}

TEST(VisionLayersPoolProperties, LargeInputsRunOnThreads) {
  // Past the parallel threshold: the same as the reference.
  Tensor x = distinct_tensor({4, 8, 24, 24}, 37, 0.001);
  EXPECT_TRUE(all_close(max_pool2d(x, 3, 2, 1), max_pool_reference(x, {3, 3, 2, 2, 1, 1}).values, 0, 0));
  EXPECT_TRUE(
      all_close(avg_pool2d(x, 3, 2, 1), avg_pool_reference(x, {3, 3, 2, 2, 1, 1}, true, {}).values, 1e-6, 1e-6));
}

TEST(VisionLayersPoolProperties, Errors) {
  Tensor x = randn_tensor({2, 3, 5, 5}, 38);
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(x, 7); },
                                  "max_pool2d: kernel_size (7, 7) with dilation (1, 1) is larger than the padded "
                                  "input"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(x, 3, 1, 0, 3); },
                                  "max_pool2d: kernel_size (3, 3) with dilation (3, 3)"));
  EXPECT_TRUE(throws_error_naming([&] { avg_pool2d(x, IntPair(6, 2)); }, "avg_pool2d: kernel_size (6, 2)"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(x, 3, 1, 2); },
                                  "max_pool2d: padding must be at most half of kernel_size, got padding (2, 2) for "
                                  "kernel_size (3, 3)"));
  EXPECT_TRUE(throws_error_naming([&] { avg_pool2d(x, 2, 1, IntPair(0, 2)); },
                                  "avg_pool2d: padding must be at most half"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(x, 0); }, "max_pool2d: kernel_size must be positive, got (0, 0)"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(x, 2, 0); }, "max_pool2d: stride must be positive"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(x, 2, 2, -1); }, "max_pool2d: padding must be non-negative"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(x, 2, 2, 0, 0); }, "max_pool2d: dilation must be positive"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(randn_tensor({5, 5}, 39), 2); },
                                  "max_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape (5, 5)"));
  EXPECT_TRUE(throws_error_naming([&] { avg_pool2d(randn_tensor({1, 1, 2, 5, 5}, 39), 2); },
                                  "avg_pool2d: expected a 3-D"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(zeros({2, 0, 4, 4}), 2); }, "non-zero channel and spatial sizes"));
  EXPECT_TRUE(throws_error_naming([&] { avg_pool2d(x, 2, 2, 0, false, true, 0); },
                                  "avg_pool2d: divisor_override must not be zero"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool2d(ones({1, 1, 4, 4}, kInt64), 2); },
                                  "expected a floating point input"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool1d(x, 2); },
                                  "max_pool1d: expected a 2-D (C, L) or 3-D (N, C, L) input"));
  EXPECT_TRUE(throws_error_naming([&] { max_pool1d(randn_tensor({2, 3, 4}, 40), 5); },
                                  "max_pool1d: kernel_size 5 with dilation 1"));
  EXPECT_TRUE(throws_error_naming([&] { avg_pool1d(randn_tensor({2, 3, 4}, 40), 2, 1, 2); },
                                  "avg_pool1d: padding must be at most half of kernel_size, got padding 2 for "
                                  "kernel_size 2"));
  // An empty batch is fine, as in torch.
  EXPECT_EQ(max_pool2d(zeros({0, 3, 4, 4}), 2).shape(), (Shape{0, 3, 2, 2}));
}

// ============================================================ adaptive =====

struct AdaptiveCase {
  const char* name;
  Shape x;
  AdaptiveSize size;
  Layout layout = Layout::Contiguous;
};

const std::vector<AdaptiveCase>& adaptive_cases() {
  static const std::vector<AdaptiveCase> cases = {
      {"global", {2, 3, 5, 7}, 1},
      {"global_large_plane", {2, 3, 37, 29}, 1, Layout::Transposed},
      {"divides", {2, 2, 8, 6}, {4, 3}},
      {"overlapping_bins", {1, 3, 7, 5}, {3, 2}},
      {"upsampling_bins", {1, 2, 3, 2}, {5, 4}},
      {"keep_height", {2, 2, 5, 6}, {std::nullopt, 4}},
      {"keep_width", {1, 2, 5, 6}, {3, std::nullopt}},
      {"unbatched", {3, 6, 5}, 2, Layout::Strided},
  };
  return cases;
}

class VisionLayersAdaptive : public ::testing::TestWithParam<size_t> {
 protected:
  const AdaptiveCase& c() const { return adaptive_cases()[GetParam()]; }
  static Tensor batched(const Tensor& x) { return x.dim() == 3 ? x.unsqueeze(0) : x; }
  int64_t out_h() const { return c().size.h.value_or(c().x[c().x.size() - 2]); }
  int64_t out_w() const { return c().size.w.value_or(c().x.back()); }
};

TEST_P(VisionLayersAdaptive, ForwardMatchesReference) {
  Tensor x = relayout(distinct_tensor(c().x, 41, 0.01), c().layout);
  const PoolReference avg = adaptive_reference(batched(x), out_h(), out_w(), false);
  const PoolReference max = adaptive_reference(batched(x), out_h(), out_w(), true);
  Tensor ya = adaptive_avg_pool2d(x, c().size);
  ValuesIndices ym = adaptive_max_pool2d_with_indices(x, c().size);
  Shape expected = avg.shape;
  if (c().x.size() == 3) expected.erase(expected.begin());
  EXPECT_EQ(ya.shape(), expected);
  EXPECT_EQ(ym.values.shape(), expected);
  EXPECT_TRUE(all_close(ya, avg.values, 1e-6, 1e-6));
  EXPECT_TRUE(all_close(ym.values, max.values, 0, 0));
  EXPECT_TRUE(all_close(ym.indices, as_doubles(max.indices), 0, 0));
}

TEST_P(VisionLayersAdaptive, Gradcheck) {
  Tensor x = leaf(distinct_tensor(c().x, 42, 0.05));
  const AdaptiveSize size = c().size;
  EXPECT_TRUE(gradcheck([&](const auto& in) { return adaptive_avg_pool2d(in[0], size); }, {x})) << "avg";
  EXPECT_TRUE(gradcheck([&](const auto& in) { return adaptive_max_pool2d(in[0], size); }, {x})) << "max";
}

INSTANTIATE_TEST_SUITE_P(VisionLayersAdaptive, VisionLayersAdaptive,
                         ::testing::Range<size_t>(0, adaptive_cases().size()),
                         [](const auto& info) { return std::string(adaptive_cases()[info.param].name); });

TEST(VisionLayersAdaptiveProperties, GlobalPathOnEveryIsa) {
  // The (1, 1) path's vector loops on planes around the 16 lanes and the
  // 512-element blocks, a large offset, ties (first wins) and NaN (last NaN).
  for (kernels::Isa isa : kernels::kAllIsas) {
    if (!kernels::cpu_has(isa)) continue;
    kernels::IsaScope scope(isa);
    for (int64_t side : {1, 3, 4, 5, 23, 56}) {
      Tensor x = randn_tensor({2, 3, side, side}, 43 + static_cast<uint64_t>(side)) + 1000.0;
      EXPECT_TRUE(all_close(adaptive_avg_pool2d(x, 1), adaptive_reference(x, 1, 1, false).values, 1e-4, 1e-6))
          << kernels::isa_name(isa) << " " << side;
      const PoolReference max = adaptive_reference(x, 1, 1, true);
      ValuesIndices r = adaptive_max_pool2d_with_indices(x, 1);
      EXPECT_TRUE(all_close(r.values, max.values, 0, 0)) << kernels::isa_name(isa) << " " << side;
      EXPECT_TRUE(all_close(r.indices, as_doubles(max.indices), 0, 0)) << kernels::isa_name(isa) << " " << side;
    }
    std::vector<float> v(40, 1.0f);
    v[7] = v[30] = 4.0f;  // tie
    ValuesIndices tie = adaptive_max_pool2d_with_indices(from_vector(v, {1, 1, 5, 8}), 1);
    EXPECT_TRUE(all_close(tie.indices, {7}, 0, 0)) << kernels::isa_name(isa);
    std::vector<float> inf = v;  // infinities take the exact scalar path: the first +inf wins
    inf[9] = -std::numeric_limits<float>::infinity();
    inf[21] = inf[35] = std::numeric_limits<float>::infinity();
    ValuesIndices infinite = adaptive_max_pool2d_with_indices(from_vector(inf, {1, 1, 5, 8}), 1);
    EXPECT_TRUE(all_close(infinite.indices, {21}, 0, 0)) << kernels::isa_name(isa);
    v[12] = v[33] = static_cast<float>(kNaN);
    ValuesIndices nan = adaptive_max_pool2d_with_indices(from_vector(v, {1, 1, 5, 8}), 1);
    EXPECT_TRUE(all_close(nan.values, {kNaN}, 0, 0)) << kernels::isa_name(isa);
    EXPECT_TRUE(all_close(nan.indices, {33}, 0, 0)) << kernels::isa_name(isa);
  }
}

TEST(VisionLayersAdaptiveProperties, ZeroOutputSizeIsEmptyAndErrors) {
  Tensor x = randn_tensor({2, 3, 4, 4}, 44);
  EXPECT_EQ(adaptive_avg_pool2d(x, 0).shape(), (Shape{2, 3, 0, 0}));
  EXPECT_EQ(adaptive_max_pool2d(x, AdaptiveSize(0, 2)).shape(), (Shape{2, 3, 0, 2}));
  EXPECT_TRUE(throws_error_naming([&] { adaptive_avg_pool2d(x, -1); },
                                  "adaptive_avg_pool2d: output_size must be non-negative, got -1"));
  EXPECT_TRUE(throws_error_naming([&] { adaptive_max_pool2d(x, AdaptiveSize(2, -3)); },
                                  "adaptive_max_pool2d: output_size must be non-negative, got (2, -3)"));
  EXPECT_TRUE(throws_error_naming([&] { adaptive_avg_pool2d(randn_tensor({4, 4}, 45), 2); },
                                  "adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                                  "shape (4, 4)"));
  EXPECT_TRUE(throws_error_naming([&] { adaptive_max_pool2d(zeros({1, 2, 0, 3}), 1); },
                                  "adaptive_max_pool2d: expected an input with non-zero channel and spatial sizes"));
}

// ============================================================ interpolate ==

struct InterpCase {
  const char* name;
  Shape x;
  InterpolateOptions options;
};

const std::vector<InterpCase>& interp_cases() {
  static const std::vector<InterpCase> cases = {
      {"nearest_size", {2, 2, 3, 4}, {.size = {7, 5}}},
      {"nearest_scale2", {1, 2, 3, 4}, {.scale_factor = {2.0}}},
      {"nearest_scale_2_05", {1, 1, 5, 10}, {.scale_factor = {2.05}}},  // 2x output: torch takes o / 2
      {"nearest_scale_1_1", {1, 2, 5, 6}, {.scale_factor = {1.1}}},     // same size: copies
      {"nearest_scale_1_7_down_0_6", {1, 2, 6, 7}, {.scale_factor = {1.7, 0.6}}},
      {"nearest_recompute", {1, 2, 6, 7}, {.scale_factor = {1.7, 0.6}, .recompute_scale_factor = true}},
      {"nearest_exact", {2, 1, 6, 7}, {.scale_factor = {1.7, 0.6}, .mode = "nearest-exact"}},
      {"nearest_exact_size", {1, 2, 4, 5}, {.size = {9, 3}, .mode = "nearest-exact"}},
      {"bilinear_up", {2, 2, 3, 4}, {.size = {7, 9}, .mode = "bilinear"}},
      {"bilinear_down", {1, 2, 7, 9}, {.size = {3, 4}, .mode = "bilinear"}},
      {"bilinear_align", {2, 2, 3, 4}, {.size = {7, 9}, .mode = "bilinear", .align_corners = true}},
      {"bilinear_align_to_one", {1, 2, 3, 4}, {.size = {1, 6}, .mode = "bilinear", .align_corners = true}},
      {"bilinear_scale", {1, 2, 4, 5}, {.scale_factor = {1.5, 2.3}, .mode = "bilinear"}},
      {"bilinear_scale_recompute",
       {1, 2, 4, 5},
       {.scale_factor = {1.5, 2.3}, .mode = "bilinear", .recompute_scale_factor = true}},
      {"bilinear_same_size_scale", {1, 1, 5, 5}, {.scale_factor = {1.1}, .mode = "bilinear"}},
  };
  return cases;
}

class VisionLayersInterpolate : public ::testing::TestWithParam<size_t> {
 protected:
  const InterpCase& c() const { return interp_cases()[GetParam()]; }
  struct Resolved {
    int64_t oh, ow;
    std::optional<double> sh, sw;
  };
  Resolved resolved() const {
    const InterpolateOptions& o = c().options;
    const int64_t h = c().x[2], w = c().x[3];
    if (!o.size.empty()) return {o.size[0], o.size.back(), std::nullopt, std::nullopt};
    const double sh = o.scale_factor[0], sw = o.scale_factor.back();
    Resolved r{static_cast<int64_t>(std::floor(h * sh)), static_cast<int64_t>(std::floor(w * sw)), sh, sw};
    if (o.recompute_scale_factor.value_or(false)) r.sh = r.sw = std::nullopt;
    return r;
  }
};

TEST_P(VisionLayersInterpolate, ForwardMatchesReference) {
  Tensor x = relayout(randn_tensor(c().x, 51), Layout::Transposed);
  const Resolved r = resolved();
  Tensor y = interpolate(x, c().options);
  EXPECT_EQ(y.shape(), (Shape{c().x[0], c().x[1], r.oh, r.ow}));
  const auto ref = interpolate_reference(x, r.oh, r.ow, c().options.mode, c().options.align_corners.value_or(false),
                                         r.sh, r.sw);
  EXPECT_TRUE(all_close(y, ref, 1e-6, 1e-5));
}

TEST_P(VisionLayersInterpolate, Gradcheck) {
  Tensor x = leaf(randn_tensor(c().x, 52));
  EXPECT_TRUE(gradcheck([&](const auto& in) { return interpolate(in[0], c().options); }, {x}));
}

INSTANTIATE_TEST_SUITE_P(VisionLayersInterpolate, VisionLayersInterpolate,
                         ::testing::Range<size_t>(0, interp_cases().size()),
                         [](const auto& info) { return std::string(interp_cases()[info.param].name); });

TEST(VisionLayersInterpolateProperties, ThreeDimensionalAndArea) {
  Tensor x = randn_tensor({2, 3, 7}, 53);
  for (const std::string mode : {"nearest", "nearest-exact", "linear"}) {
    InterpolateOptions o{.scale_factor = {1.6}, .mode = mode};
    InterpolateOptions o4{.scale_factor = {1.0, 1.6}, .mode = mode == "linear" ? "bilinear" : mode};
    EXPECT_TRUE(all_close(interpolate(x, o), interpolate(x.unsqueeze(2), o4).squeeze(2), 0, 0)) << mode;
  }
  // torch's 1-d nearest kernel has no same-size shortcut: scale 1.1 on L = 2 reads x0 twice.
  Tensor two = from_vector({1, 2}, {1, 1, 2});
  EXPECT_TRUE(all_close(interpolate(two, {.scale_factor = {1.1}}), {1, 1}, 0, 0));
  EXPECT_TRUE(all_close(interpolate(two.unsqueeze(2), {.scale_factor = {1.0, 1.1}}), {1, 2}, 0, 0));
  // area is adaptive average pooling to the output size.
  Tensor x4 = randn_tensor({2, 2, 7, 9}, 54);
  EXPECT_TRUE(all_close(interpolate(x4, {.size = {3, 4}, .mode = "area"}), adaptive_avg_pool2d(x4, {3, 4}), 0, 0));
  EXPECT_TRUE(
      all_close(interpolate(x4, {.scale_factor = {0.5}, .mode = "area"}), adaptive_avg_pool2d(x4, {3, 4}), 0, 0));
  EXPECT_TRUE(all_close(interpolate(x, {.size = {3}, .mode = "area"}),
                        adaptive_avg_pool2d(x.unsqueeze(2), {1, 3}).squeeze(2), 0, 0));
  Tensor xl = leaf(randn_tensor({1, 2, 5}, 55));
  EXPECT_TRUE(gradcheck(
      [](const auto& in) { return interpolate(in[0], {.size = {8}, .mode = "linear", .align_corners = true}); },
      {xl}));
}

TEST(VisionLayersInterpolateProperties, LargeInputsRunOnThreads) {
  Tensor x = randn_tensor({4, 8, 20, 20}, 56);
  EXPECT_TRUE(all_close(interpolate(x, {.scale_factor = {2.0}, .mode = "bilinear"}),
                        interpolate_reference(x, 40, 40, "bilinear", false, 2.0, 2.0), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(interpolate(x, {.size = {33, 47}}),
                        interpolate_reference(x, 33, 47, "nearest", false, std::nullopt, std::nullopt), 0, 0));
}

TEST(VisionLayersInterpolateProperties, Errors) {
  Tensor x = randn_tensor({1, 2, 4, 4}, 57);
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.size = {3}, .mode = "bicubic"}); },
                                  "interpolate: mode must be 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' "
                                  "(4-D) or 'area', got 'bicubic'"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(randn_tensor({1, 2, 4}, 58), {.size = {3}, .mode = "bilinear"}); },
                                  "interpolate: mode 'bilinear' needs a 4-D input (N, C, H, W), got shape (1, 2, 4)"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.size = {3}, .mode = "linear"}); },
                                  "interpolate: mode 'linear' needs a 3-D input"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.size = {3}, .align_corners = false}); },
                                  "interpolate: align_corners can only be set with the interpolating modes 'linear' "
                                  "and 'bilinear', got mode 'nearest'"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {}); },
                                  "interpolate: either size or scale_factor must be given"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.size = {3}, .scale_factor = {2.0}}); },
                                  "interpolate: only one of size and scale_factor may be given"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.size = {3}, .recompute_scale_factor = true}); },
                                  "recompute_scale_factor is not meaningful with an explicit size"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.size = {3, 3, 3}}); },
                                  "interpolate: size must hold one value or one per spatial dim (2) of the input of "
                                  "shape (1, 2, 4, 4), got (3, 3, 3)"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.size = {0, 3}}); },
                                  "interpolate: the output size must be positive, got (0, 3)"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.scale_factor = {0.1}}); },
                                  "the output size must be positive"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(x, {.scale_factor = {-2.0}}); },
                                  "the output size must be positive"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(randn_tensor({2, 4}, 59), {.size = {3}}); },
                                  "interpolate: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got shape (2, 4)"));
  EXPECT_TRUE(throws_error_naming([&] { interpolate(zeros({1, 0, 4, 4}), {.size = {3}}); },
                                  "non-zero channel and spatial sizes"));
}

// ============================================================ modules ======

TEST(VisionLayersModules, BatchNorm2dBuffersAndStateDictNames) {
  nn::BatchNorm2d bn(4);
  std::vector<std::string> names;
  for (const auto& [name, t] : bn.named_parameters()) names.push_back(name);
  for (const auto& [name, t] : bn.named_buffers()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn.num_batches_tracked.dtype(), kInt64);
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  EXPECT_EQ(bn.repr(), "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)");
  nn::BatchNorm2d plain({.num_features = 3, .eps = 1e-3, .momentum = std::nullopt, .affine = false,
                         .track_running_stats = false});
  EXPECT_TRUE(plain.named_parameters().empty());
  EXPECT_TRUE(plain.named_buffers().empty());
  EXPECT_EQ(plain.repr(),
            "BatchNorm2d(3, eps=0.001, momentum=None, affine=False, bias=False, track_running_stats=False)");
  nn::BatchNorm1d no_bias({.num_features = 2, .bias = false});
  EXPECT_EQ(no_bias.named_parameters().size(), 1u);
  EXPECT_EQ(no_bias.repr(),
            "BatchNorm1d(2, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats=True)");
}

TEST(VisionLayersModules, BatchNorm2dTrainThenEval) {
  for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
    nn::BatchNorm2d bn({.num_features = 3, .momentum = momentum});
    std::vector<double> rm(3, 0.0), rv(3, 1.0);
    for (int step = 1; step <= 3; ++step) {
      Tensor x = randn_tensor({4, 3, 5, 5}, 60 + static_cast<uint64_t>(step), 2.0) + static_cast<double>(step);
      Tensor y = bn.forward(x);
      const ChannelStats s = channel_stats_reference(x);
      EXPECT_TRUE(all_close(y, batch_norm_reference(x, s.mean, s.var, Tensor(), Tensor(), 1e-5), 1e-5, 1e-5));
      // momentum None: the running statistics are the plain average of the batches so far.
      const double f = momentum ? *momentum : 1.0 / step;
      for (int c = 0; c < 3; ++c) {
        rm[c] = (1 - f) * rm[c] + f * s.mean[c];
        rv[c] = (1 - f) * rv[c] + f * s.var[c] * 100.0 / 99.0;
      }
      EXPECT_TRUE(all_close(bn.running_mean, rm, 1e-6, 1e-5)) << step;
      EXPECT_TRUE(all_close(bn.running_var, rv, 1e-6, 1e-5)) << step;
      EXPECT_EQ(bn.num_batches_tracked.item(), step);
    }
    bn.eval();
    Tensor x = randn_tensor({2, 3, 4, 4}, 70);
    EXPECT_TRUE(all_close(bn.forward(x), batch_norm_reference(x, rm, rv, Tensor(), Tensor(), 1e-5), 1e-5, 1e-5));
    EXPECT_EQ(bn.num_batches_tracked.item(), 3);
    EXPECT_TRUE(all_close(bn.running_mean, rm, 1e-6, 1e-5));
  }
}

TEST(VisionLayersModules, BatchNormWithoutRunningStatsUsesBatchStatsInEval) {
  nn::BatchNorm2d bn({.num_features = 2, .track_running_stats = false});
  bn.eval();
  Tensor x = randn_tensor({3, 2, 4, 4}, 71);
  const ChannelStats s = channel_stats_reference(x);
  EXPECT_TRUE(all_close(bn.forward(x), batch_norm_reference(x, s.mean, s.var, bn.weight, bn.bias, 1e-5), 1e-5, 1e-5));
}

TEST(VisionLayersModules, BatchNormLoadsStateAndChecksInput) {
  nn::BatchNorm2d bn(2);
  nn::StateDict state{{"weight", from_vector({2, 3}, {2})},        {"bias", from_vector({1, -1}, {2})},
                      {"running_mean", from_vector({0.5, 1}, {2})}, {"running_var", from_vector({4, 9}, {2})},
                      {"num_batches_tracked", scalar_tensor(7, kInt64)}};
  bn.load_state_dict(state);
  EXPECT_EQ(bn.num_batches_tracked.item(), 7);
  bn.eval();
  Tensor x = randn_tensor({2, 2, 3, 3}, 72);
  EXPECT_TRUE(all_close(bn.forward(x), batch_norm_reference(x, {0.5, 1}, {4, 9}, state["weight"], state["bias"], 1e-5),
                        1e-5, 1e-5));
  Tensor xg = leaf(randn_tensor({2, 2, 3, 3}, 73));
  bn.train();
  EXPECT_TRUE(gradcheck([&](const auto& in) { return bn.forward(in[0]); }, {xg}));
  EXPECT_TRUE(throws_error_naming([&] { bn.forward(randn_tensor({2, 3, 4, 4}, 74)); },
                                  "BatchNorm2d: expected an input with 2 channels (num_features), got shape (2, 3, "
                                  "4, 4)"));
  EXPECT_TRUE(throws_error_naming([&] { bn.forward(randn_tensor({2, 2, 4}, 75)); },
                                  "BatchNorm2d: expected a 4-D (N, C, H, W) input, got shape (2, 2, 4)"));
  nn::BatchNorm1d bn1(2);
  EXPECT_EQ(bn1.forward(randn_tensor({4, 2}, 76)).shape(), (Shape{4, 2}));
  EXPECT_EQ(bn1.forward(randn_tensor({4, 2, 3}, 77)).shape(), (Shape{4, 2, 3}));
  EXPECT_TRUE(throws_error_naming([&] { bn1.forward(randn_tensor({4, 2, 3, 3}, 78)); },
                                  "BatchNorm1d: expected a 2-D (N, C) or 3-D (N, C, L) input"));
}

TEST(VisionLayersModules, PoolingAndUpsampleModules) {
  nn::MaxPool2d mp(2);
  EXPECT_EQ(mp.repr(), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  nn::MaxPool2d mp2(IntPair(2, 3), 1, IntPair(1, 0), 1, true, true);
  EXPECT_EQ(mp2.repr(), "MaxPool2d(kernel_size=(2, 3), stride=1, padding=(1, 0), dilation=1, ceil_mode=True)");
  Tensor x = distinct_tensor({2, 3, 6, 7}, 79);
  EXPECT_TRUE(all_close(mp2.forward(x), max_pool2d(x, IntPair(2, 3), 1, IntPair(1, 0), 1, true), 0, 0));
  EXPECT_TRUE(all_close(mp2.forward_with_indices(x).indices,
                        max_pool2d_with_indices(x, IntPair(2, 3), 1, IntPair(1, 0), 1, true).indices, 0, 0));
  nn::AvgPool2d ap(3, std::nullopt, 1, true, false, 2);
  EXPECT_EQ(ap.repr(), "AvgPool2d(kernel_size=3, stride=3, padding=1)");
  EXPECT_TRUE(all_close(ap.forward(x), avg_pool2d(x, 3, 3, 1, true, false, 2), 0, 0));
  nn::AdaptiveAvgPool2d aap(AdaptiveSize(std::nullopt, 7));
  EXPECT_EQ(aap.repr(), "AdaptiveAvgPool2d(output_size=(None, 7))");
  EXPECT_EQ(aap.forward(x).shape(), (Shape{2, 3, 6, 7}));
  nn::AdaptiveMaxPool2d amp(1, true);
  EXPECT_EQ(amp.repr(), "AdaptiveMaxPool2d(output_size=1)");
  EXPECT_TRUE(all_close(amp.forward(x), adaptive_max_pool2d(x, 1), 0, 0));
  EXPECT_TRUE(mp.named_parameters().empty() && aap.named_buffers().empty());

  nn::Upsample up({.scale_factor = {2.0}});
  EXPECT_EQ(up.repr(), "Upsample(scale_factor=2.0, mode='nearest')");
  EXPECT_TRUE(all_close(up.forward(x), interpolate(x, {.scale_factor = {2.0}}), 0, 0));
  EXPECT_EQ(nn::Upsample({.size = {3, 4}, .mode = "bilinear", .align_corners = true}).repr(),
            "Upsample(size=(3, 4), mode='bilinear')");
  EXPECT_EQ(nn::Upsample({.scale_factor = {1.5, 0.25}}).repr(), "Upsample(scale_factor=(1.5, 0.25), mode='nearest')");
  EXPECT_EQ(nn::Upsample({.size = {5}}).repr(), "Upsample(size=5, mode='nearest')");
}

}  // namespace
}  // namespace attnkit::testing
