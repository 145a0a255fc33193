#pragma once
// Plain reference implementations in double: the oracles the op tests compare
// attnkit against. Each is the textbook loop, written for clarity, not speed.
// Inputs may have any strides (they are read with values()).

#include <functional>
#include <optional>
#include <vector>

#include "test_support.h"

namespace attnkit::testing {

// ---- reductions ----
using Fold = std::function<double(const std::vector<double>&)>;
// Applies `fold` to each group of elements that agree outside `dims`, in
// row-major order of the kept dims; *out_shape gets the result's shape.
std::vector<double> reduce_reference(const Tensor& x, Dims dims, bool keepdim, const Fold& fold,
                                     Shape* out_shape);
double fold_sum(const std::vector<double>& g);
double fold_mean(const std::vector<double>& g);
Fold fold_var(int64_t correction);
double fold_max(const std::vector<double>& g);
double fold_min(const std::vector<double>& g);
double fold_argmax(const std::vector<double>& g);  // index of the first maximum
double fold_argmin(const std::vector<double>& g);

// ---- matmul: NumPy semantics (1-D promotion, broadcast batch dims) ----
std::vector<double> matmul_reference(const Tensor& a, const Tensor& b, Shape* out_shape);

// ---- softmax / log_softmax along dim ----
std::vector<double> softmax_reference(const Tensor& x, int64_t dim, bool log);

// ---- layer_norm over the trailing norm_numel elements of each row ----
// y = (x - mean) / sqrt(var + eps) * w + b, biased variance. w, b may be undefined.
std::vector<double> layer_norm_reference(const Tensor& x, int64_t norm_numel, const Tensor& w,
                                         const Tensor& b, double eps);
struct LayerNormGrads {
  std::vector<double> x, weight, bias;
};
// Gradients of sum(y * dy) (Ba et al. 2016, the standard closed form):
//   xhat = (x - mean) * rstd,  g = dy * w
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dw = sum_rows(dy * xhat),  db = sum_rows(dy)
LayerNormGrads layer_norm_backward_reference(const Tensor& x, int64_t norm_numel, const Tensor& w,
                                             const Tensor& dy, double eps);

// ---- cross_entropy with class-index targets ----
// Per element: (1 - eps) * (lse - x_t) + eps * mean_c(lse - x_c); ignored
// targets give 0; "mean" divides by the number of targets not ignored.
std::vector<double> cross_entropy_reference(const Tensor& input, const Tensor& target,
                                            int64_t ignore_index, Reduction reduction,
                                            double smoothing, Shape* out_shape);

// ---- embedding: weight gradient = scatter-add of dout rows ----
std::vector<double> embedding_backward_reference(const Tensor& indices, int64_t num_embeddings,
                                                 const Tensor& dout,
                                                 std::optional<int64_t> padding_idx);

}  // namespace attnkit::testing
