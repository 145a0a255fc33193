#include "test_support.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace attnkit::testing {

uint64_t TestRng::next_u64() {
  // splitmix64 (Vigna): a full-period 64-bit generator, enough for test data.
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double TestRng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double TestRng::normal() {
  double u1 = 1.0 - uniform();  // (0, 1]
  double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::vector<int64_t> TestRng::permutation(int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(next_u64() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

namespace {
Tensor from_generator(const Shape& shape, const std::function<double()>& draw) {
  std::vector<float> data(static_cast<size_t>(shape_numel(shape)));
  for (float& v : data) v = static_cast<float>(draw());
  return from_vector(data, shape);
}
}  // namespace

Tensor randn_tensor(const Shape& shape, uint64_t seed, double scale) {
  TestRng rng(seed);
  return from_generator(shape, [&] { return scale * rng.normal(); });
}

Tensor uniform_tensor(const Shape& shape, uint64_t seed, double low, double high) {
  TestRng rng(seed);
  return from_generator(shape, [&] { return low + (high - low) * rng.uniform(); });
}

Tensor away_from_zero(const Shape& shape, uint64_t seed, double margin) {
  TestRng rng(seed);
  return from_generator(shape, [&] {
    double v = rng.normal();
    return v < 0 ? v - margin : v + margin;
  });
}

Tensor distinct_tensor(const Shape& shape, uint64_t seed, double gap, double shift) {
  TestRng rng(seed);
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> p = rng.permutation(n);
  std::vector<float> data(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    data[i] = static_cast<float>(static_cast<double>(p[i] - n / 2) * gap + shift);
  }
  return from_vector(data, shape);
}

Tensor id_matrix(const std::vector<std::vector<int64_t>>& rows) {
  std::vector<int64_t> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return from_vector_i64(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
}

Tensor leaf(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

std::vector<int64_t> unravel(int64_t linear, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = linear % shape[d];
    linear /= shape[d];
  }
  return index;
}

int64_t element_offset(const Tensor& t, int64_t linear) {
  std::vector<int64_t> index = unravel(linear, t.shape());
  int64_t offset = 0;
  for (size_t d = 0; d < index.size(); ++d) offset += index[d] * t.strides()[d];
  return offset;
}

std::vector<double> values(const Tensor& t) {
  const int64_t n = t.numel();
  std::vector<double> out(static_cast<size_t>(n));
  const char* base = static_cast<const char*>(t.data_ptr());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t off = element_offset(t, i);
    switch (t.dtype()) {
      case DType::Float32: out[i] = reinterpret_cast<const float*>(base)[off]; break;
      case DType::BFloat16:
        out[i] = bf16_to_float(reinterpret_cast<const BFloat16*>(base)[off]);
        break;
      case DType::Int64: out[i] = static_cast<double>(reinterpret_cast<const int64_t*>(base)[off]); break;
      case DType::Int32: out[i] = reinterpret_cast<const int32_t*>(base)[off]; break;
      case DType::Bool: out[i] = reinterpret_cast<const bool*>(base)[off] ? 1.0 : 0.0; break;
    }
  }
  return out;
}

namespace {
bool close(double actual, double expected, double atol, double rtol) {
  if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
  if (std::isinf(expected) || std::isinf(actual)) return actual == expected;
  return std::abs(actual - expected) <= atol + rtol * std::abs(expected);
}
}  // namespace

::testing::AssertionResult all_close(const Tensor& actual, const std::vector<double>& expected,
                                     double atol, double rtol) {
  if (!actual.defined()) return ::testing::AssertionFailure() << "tensor is undefined";
  if (actual.numel() != static_cast<int64_t>(expected.size())) {
    return ::testing::AssertionFailure() << "tensor of shape " << shape_str(actual.shape()) << " has "
                                         << actual.numel() << " elements, expected "
                                         << expected.size();
  }
  std::vector<double> got = values(actual);
  std::ostringstream report;
  int64_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (close(got[i], expected[i], atol, rtol)) continue;
    if (bad < 8) {
      report << "\n  at " << shape_str(unravel(static_cast<int64_t>(i), actual.shape()))
             << ": got " << got[i] << ", expected " << expected[i];
    }
    if (std::isfinite(got[i]) && std::isfinite(expected[i])) {
      worst = std::max(worst, std::abs(got[i] - expected[i]));
    }
    ++bad;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size()
                                       << " elements differ (atol " << atol << ", rtol " << rtol
                                       << ", worst finite |diff| " << worst << ")" << report.str();
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double atol,
                                     double rtol) {
  if (!actual.defined() || !expected.defined()) {
    return ::testing::AssertionFailure() << "undefined tensor";
  }
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape()) << " != expected "
                                         << shape_str(expected.shape());
  }
  return all_close(actual, values(expected), atol, rtol);
}

::testing::AssertionResult throws_error_naming(const std::function<void()>& body,
                                               const std::string& needle) {
  try {
    body();
  } catch (const Error& e) {
    std::string message = e.what();
    if (message.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "attnkit::Error message \"" << message
                                         << "\" does not contain \"" << needle << "\"";
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-attnkit exception: " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "threw something that is not a std::exception";
  }
  return ::testing::AssertionFailure() << "did not throw (expected an error naming \"" << needle
                                       << "\")";
}

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Strided: return "strided";
  }
  return "?";
}

namespace {
Layout effective(const Shape& shape, Layout layout) {
  if (layout == Layout::Transposed && shape.size() < 2) layout = Layout::Strided;
  if (layout == Layout::Strided && shape.empty()) layout = Layout::Contiguous;
  return layout;
}
}  // namespace

Shape base_shape(const Shape& shape, Layout layout) {
  Shape base = shape;
  switch (effective(shape, layout)) {
    case Layout::Contiguous: break;
    case Layout::Transposed: std::swap(base[base.size() - 1], base[base.size() - 2]); break;
    case Layout::Strided: base.back() = 2 * base.back() + 1; break;
  }
  return base;
}

Tensor layout_view(const Tensor& base, const Shape& shape, Layout layout) {
  const int64_t last = static_cast<int64_t>(shape.size()) - 1;
  switch (effective(shape, layout)) {
    case Layout::Contiguous: return base;
    case Layout::Transposed: return base.transpose(last - 1, last);
    case Layout::Strided: return base.slice(last, 1, 2 * shape.back() + 1, 2);
  }
  return base;
}

Tensor relayout(const Tensor& contiguous_values, Layout layout) {
  const Shape& shape = contiguous_values.shape();
  Tensor base = zeros(base_shape(shape, layout));
  Tensor view = layout_view(base, shape, layout);
  // Written element by element through our own stride walk, not copy_.
  std::vector<double> v = values(contiguous_values);
  float* data = static_cast<float*>(view.data_ptr());
  for (int64_t i = 0; i < view.numel(); ++i) data[element_offset(view, i)] = static_cast<float>(v[i]);
  return view;
}

std::vector<double> broadcast_reference(const Tensor& a, const Tensor& b,
                                        const std::function<double(double, double)>& f,
                                        Shape* out_shape) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const size_t nd = std::max(sa.size(), sb.size());
  Shape shape(nd);
  for (size_t i = 0; i < nd; ++i) {
    int64_t da = i < nd - sa.size() ? 1 : sa[i - (nd - sa.size())];
    int64_t db = i < nd - sb.size() ? 1 : sb[i - (nd - sb.size())];
    shape[i] = da == 1 ? db : da;
  }
  std::vector<double> va = values(a), vb = values(b);
  const int64_t n = shape_numel(shape);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> index = unravel(i, shape);
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < nd; ++d) {
      if (d >= nd - sa.size()) {
        int64_t size = sa[d - (nd - sa.size())];
        ia = ia * size + (size == 1 ? 0 : index[d]);
      }
      if (d >= nd - sb.size()) {
        int64_t size = sb[d - (nd - sb.size())];
        ib = ib * size + (size == 1 ? 0 : index[d]);
      }
    }
    out[i] = f(va[ia], vb[ib]);
  }
  if (out_shape) *out_shape = shape;
  return out;
}

}  // namespace attnkit::testing
