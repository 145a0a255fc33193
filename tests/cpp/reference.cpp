#include "reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

namespace attnkit::testing {

std::vector<double> reduce_reference(const Tensor& x, Dims dims, bool keepdim, const Fold& fold,
                                     Shape* out_shape) {
  const Shape& shape = x.shape();
  const int64_t nd = x.dim();
  std::set<int64_t> reduced;
  for (int64_t d : dims) reduced.insert(d < 0 ? d + nd : d);
  Shape kept_shape, group_shape;
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced.count(d)) {
      group_shape.push_back(shape[d]);
      if (keepdim) kept_shape.push_back(1);
    } else {
      kept_shape.push_back(shape[d]);
    }
  }
  Shape outer;  // the non-reduced dims in order
  for (int64_t d = 0; d < nd; ++d)
    if (!reduced.count(d)) outer.push_back(shape[d]);
  std::vector<double> v = values(x);
  std::vector<std::vector<double>> groups(static_cast<size_t>(shape_numel(outer)));
  for (int64_t i = 0; i < x.numel(); ++i) {
    std::vector<int64_t> index = unravel(i, shape);
    int64_t o = 0;
    for (int64_t d = 0; d < nd; ++d)
      if (!reduced.count(d)) o = o * shape[d] + index[d];
    groups[o].push_back(v[i]);
  }
  std::vector<double> out;
  for (const auto& g : groups) out.push_back(fold(g));
  *out_shape = kept_shape;
  return out;
}

double fold_sum(const std::vector<double>& g) { return std::accumulate(g.begin(), g.end(), 0.0); }
double fold_mean(const std::vector<double>& g) { return fold_sum(g) / static_cast<double>(g.size()); }
Fold fold_var(int64_t correction) {
  return [correction](const std::vector<double>& g) {
    double m = fold_mean(g), s = 0;
    for (double v : g) s += (v - m) * (v - m);
    return s / static_cast<double>(static_cast<int64_t>(g.size()) - correction);
  };
}
double fold_max(const std::vector<double>& g) { return *std::max_element(g.begin(), g.end()); }
double fold_min(const std::vector<double>& g) { return *std::min_element(g.begin(), g.end()); }
double fold_argmax(const std::vector<double>& g) {
  return static_cast<double>(std::max_element(g.begin(), g.end()) - g.begin());  // first max
}
double fold_argmin(const std::vector<double>& g) {
  return static_cast<double>(std::min_element(g.begin(), g.end()) - g.begin());
}

// NumPy matmul in double: 1-D operands are promoted to a matrix and the added
// dim removed afterwards; batch dims broadcast.
std::vector<double> matmul_reference(const Tensor& a, const Tensor& b, Shape* out_shape) {
  Shape sa = a.shape(), sb = b.shape();
  const bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
  if (a_vec) sa.insert(sa.begin(), 1);
  if (b_vec) sb.push_back(1);
  const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  EXPECT_EQ(k, sb[sb.size() - 2]);
  Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  const size_t nb = std::max(batch_a.size(), batch_b.size());
  Shape batch(nb);
  for (size_t i = 0; i < nb; ++i) {
    int64_t da = i < nb - batch_a.size() ? 1 : batch_a[i - (nb - batch_a.size())];
    int64_t db = i < nb - batch_b.size() ? 1 : batch_b[i - (nb - batch_b.size())];
    batch[i] = da == 1 ? db : da;
  }
  auto batch_index = [&](const Shape& own, const std::vector<int64_t>& index) {
    int64_t linear = 0;
    for (size_t d = 0; d < own.size(); ++d) {
      size_t bd = d + (nb - own.size());
      linear = linear * own[d] + (own[d] == 1 ? 0 : index[bd]);
    }
    return linear;
  };
  std::vector<double> va = values(a), vb = values(b), out;
  for (int64_t bi = 0; bi < shape_numel(batch); ++bi) {
    std::vector<int64_t> index = unravel(bi, batch);
    const double* pa = va.data() + batch_index(batch_a, index) * m * k;
    const double* pb = vb.data() + batch_index(batch_b, index) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += pa[i * k + p] * pb[p * n + j];
        out.push_back(acc);
      }
  }
  *out_shape = batch;
  if (!a_vec) out_shape->push_back(m);
  if (!b_vec) out_shape->push_back(n);
  return out;
}

// softmax (or log_softmax) of x along dim, in double.
std::vector<double> softmax_reference(const Tensor& x, int64_t dim, bool log) {
  const Shape& shape = x.shape();
  if (dim < 0) dim += x.dim();
  std::vector<double> v = values(x), out(v.size());
  int64_t inner = 1;
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= shape[d];
  const int64_t size = shape[dim], outer = x.numel() / (size * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return (o * size + j) * inner + i; };
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < size; ++j) m = std::max(m, v[at(j)]);
      double z = 0;
      for (int64_t j = 0; j < size; ++j) z += std::exp(v[at(j)] - m);
      for (int64_t j = 0; j < size; ++j) {
        out[at(j)] = log ? v[at(j)] - m - std::log(z) : std::exp(v[at(j)] - m) / z;
      }
    }
  return out;
}

// y = (x - mean) / sqrt(var + eps) * w + b over the trailing `norm_numel`
// elements of each row, in double.
std::vector<double> layer_norm_reference(const Tensor& x, int64_t norm_numel, const Tensor& w,
                                         const Tensor& b, double eps) {
  std::vector<double> v = values(x), out(v.size());
  std::vector<double> wv = w.defined() ? values(w) : std::vector<double>(norm_numel, 1.0);
  std::vector<double> bv = b.defined() ? values(b) : std::vector<double>(norm_numel, 0.0);
  for (size_t row = 0; row < v.size() / norm_numel; ++row) {
    const double* r = v.data() + row * norm_numel;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < norm_numel; ++i) mean += r[i];
    mean /= static_cast<double>(norm_numel);
    for (int64_t i = 0; i < norm_numel; ++i) var += (r[i] - mean) * (r[i] - mean);
    var /= static_cast<double>(norm_numel);
    for (int64_t i = 0; i < norm_numel; ++i) {
      out[row * norm_numel + i] = (r[i] - mean) / std::sqrt(var + eps) * wv[i] + bv[i];
    }
  }
  return out;
}

LayerNormGrads layer_norm_backward_reference(const Tensor& x, int64_t norm_numel, const Tensor& w,
                                             const Tensor& dy, double eps) {
  std::vector<double> v = values(x), g = values(dy);
  std::vector<double> wv = w.defined() ? values(w) : std::vector<double>(norm_numel, 1.0);
  LayerNormGrads grads{std::vector<double>(v.size()), std::vector<double>(norm_numel, 0.0),
                       std::vector<double>(norm_numel, 0.0)};
  std::vector<double> xhat(norm_numel), gw(norm_numel);
  for (size_t row = 0; row < v.size() / norm_numel; ++row) {
    const double* r = v.data() + row * norm_numel;
    const double* d = g.data() + row * norm_numel;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < norm_numel; ++i) mean += r[i];
    mean /= static_cast<double>(norm_numel);
    for (int64_t i = 0; i < norm_numel; ++i) var += (r[i] - mean) * (r[i] - mean);
    var /= static_cast<double>(norm_numel);
    const double rstd = 1.0 / std::sqrt(var + eps);
    double mean_g = 0, mean_gx = 0;
    for (int64_t i = 0; i < norm_numel; ++i) {
      xhat[i] = (r[i] - mean) * rstd;
      gw[i] = d[i] * wv[i];
      mean_g += gw[i];
      mean_gx += gw[i] * xhat[i];
      grads.weight[i] += d[i] * xhat[i];
      grads.bias[i] += d[i];
    }
    mean_g /= static_cast<double>(norm_numel);
    mean_gx /= static_cast<double>(norm_numel);
    for (int64_t i = 0; i < norm_numel; ++i) {
      grads.x[row * norm_numel + i] = rstd * (gw[i] - mean_g - xhat[i] * mean_gx);
    }
  }
  return grads;
}

// Per element: (1 - eps) * (lse - x_t) + eps * mean_c(lse - x_c); ignored
// targets give 0; "mean" divides by the number of targets not ignored.
std::vector<double> cross_entropy_reference(const Tensor& input, const Tensor& target,
                                            int64_t ignore_index, Reduction reduction,
                                            double smoothing, Shape* out_shape) {
  const Shape& shape = input.shape();
  const bool unbatched = input.dim() == 1;
  const int64_t n = unbatched ? 1 : shape[0], c = unbatched ? shape[0] : shape[1];
  const int64_t inner = unbatched ? 1 : input.numel() / (n * c);
  std::vector<double> x = values(input), t = values(target), losses;
  int64_t counted = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < inner; ++i) {
      auto logit = [&](int64_t k) { return x[(b * c + k) * inner + i]; };
      const int64_t cls = static_cast<int64_t>(t[b * inner + i]);
      if (cls == ignore_index) {
        losses.push_back(0.0);
        continue;
      }
      double m = -std::numeric_limits<double>::infinity(), z = 0, smooth = 0;
      for (int64_t k = 0; k < c; ++k) m = std::max(m, logit(k));
      for (int64_t k = 0; k < c; ++k) z += std::exp(logit(k) - m);
      const double lse = m + std::log(z);
      for (int64_t k = 0; k < c; ++k) smooth += lse - logit(k);
      losses.push_back((1 - smoothing) * (lse - logit(cls)) + smoothing * smooth / c);
      ++counted;
    }
  if (reduction == Reduction::None) {
    *out_shape = target.shape();
    return losses;
  }
  *out_shape = {};
  double total = 0;
  for (double l : losses) total += l;
  return {reduction == Reduction::Sum ? total : total / static_cast<double>(counted)};
}

std::vector<double> embedding_backward_reference(const Tensor& indices, int64_t num_embeddings,
                                                 const Tensor& dout,
                                                 std::optional<int64_t> padding_idx) {
  const int64_t dim = dout.size(-1);
  std::vector<double> g = values(dout), out(static_cast<size_t>(num_embeddings * dim), 0.0);
  std::vector<double> idx = values(indices);
  for (size_t n = 0; n < idx.size(); ++n) {
    const int64_t row = static_cast<int64_t>(idx[n]);
    if (padding_idx && row == *padding_idx) continue;
    for (int64_t d = 0; d < dim; ++d) out[row * dim + d] += g[n * dim + d];
  }
  return out;
}

}  // namespace attnkit::testing
