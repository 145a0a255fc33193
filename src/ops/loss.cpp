#include "attnkit/ops/loss.h"

#include <cmath>
#include <limits>

#include "attnkit/core/autograd.h"

namespace attnkit {

Reduction parse_reduction(std::string_view name, const char* op) {
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  if (name == "none") return Reduction::None;
  throw ValueError(detail::concat(op, ": reduction must be 'none', 'mean' or 'sum', got '", name, "'"));
}

namespace {

struct Rows {
  Tensor logits;   // (M, C) contiguous float32
  Tensor targets;  // (M) int64
  Shape target_shape;
};

// Lays out input (N, C, d...) as rows (N·d..., C) with the matching targets.
Rows to_rows(const Tensor& input, const Tensor& target) {
  AK_CHECK(is_floating(input.dtype()), "cross_entropy: expected floating point logits, got ",
           dtype_name(input.dtype()));
  AK_CHECK(target.dtype() == kInt64 || target.dtype() == kInt32,
           "cross_entropy: expected class-index targets of dtype int64, got ", dtype_name(target.dtype()));
  AK_CHECK(input.dim() >= 1, "cross_entropy: expected logits with at least 1 dim (C), got a 0-d tensor");
  Shape expected_target;
  if (input.dim() >= 2) {
    expected_target = input.shape();
    expected_target.erase(expected_target.begin() + 1);
  }
  AK_CHECK(target.shape() == expected_target, "cross_entropy: expected target of shape ",
           shape_str(expected_target), " for input of shape ", shape_str(input.shape()), ", got ",
           shape_str(target.shape()));
  NoGradGuard no_grad;
  Rows rows;
  const int64_t classes = input.dim() == 1 ? input.size(0) : input.size(1);
  Tensor x = input.detach().to(kFloat32);
  if (input.dim() == 1) {
    x = x.unsqueeze(0);
  } else if (input.dim() > 2) {
    std::vector<int64_t> perm{0};
    for (int64_t d = 2; d < input.dim(); ++d) perm.push_back(d);
    perm.push_back(1);
    x = x.permute(perm);
  }
  rows.logits = x.contiguous().reshape({-1, classes});
  rows.targets = target.detach().to(kInt64).contiguous().reshape({-1});
  rows.target_shape = target.shape();
  return rows;
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, int64_t ignore_index,
                     Reduction reduction, double label_smoothing) {
  AK_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
           "cross_entropy: label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  Rows rows = to_rows(input, target);
  const int64_t m = rows.logits.size(0), c = rows.logits.size(1);
  const float* x = rows.logits.data<float>();
  const int64_t* t = rows.targets.data<int64_t>();
  for (int64_t i = 0; i < m; ++i) {
    AK_CHECK(t[i] == ignore_index || (t[i] >= 0 && t[i] < c), "cross_entropy: target ", t[i],
             " is out of bounds for ", c, " classes");
  }
  const float eps = static_cast<float>(label_smoothing);
  Tensor losses = empty({m}, kFloat32);
  // Per row: the max and log Σ exp(x - max), kept apart so that large logits
  // keep their precision ((x - max) - log Σ, never x - (max + log Σ)).
  Tensor row_max = empty({m}, kFloat32);
  Tensor log_sum = empty({m}, kFloat32);
  float* pl = losses.data<float>();
  float* pmax = row_max.data<float>();
  float* plog = log_sum.data<float>();
  int64_t counted = 0;
#pragma omp parallel for schedule(static) reduction(+ : counted) if (m * c > (1 << 15))
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * c;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < c; ++j) max = std::fmax(max, row[j]);
    double total = 0.0, sum_shifted = 0.0;
    for (int64_t j = 0; j < c; ++j) {
      total += std::exp(row[j] - max);
      sum_shifted += row[j] - max;
    }
    const float log_total = static_cast<float>(std::log(total));
    pmax[i] = max;
    plog[i] = log_total;
    if (t[i] == ignore_index) {
      pl[i] = 0.0f;
      continue;
    }
    ++counted;
    // -log p_t = log Σ - (x_t - max);  mean_c(-log p_c) = log Σ - mean(x - max)
    const float nll = log_total - (row[t[i]] - max);
    const float smooth = log_total - static_cast<float>(sum_shifted / c);
    pl[i] = (1.0f - eps) * nll + eps * smooth;
  }

  Tensor out;
  if (reduction == Reduction::None) {
    out = losses.reshape(rows.target_shape);
  } else {
    double total = 0.0;
    for (int64_t i = 0; i < m; ++i) total += pl[i];
    if (reduction == Reduction::Mean) total /= static_cast<double>(counted);  // 0/0 = NaN, as PyTorch
    out = scalar_tensor(total);
  }
  if (autograd::needs_grad({&input})) {
    Shape input_shape = input.shape();
    Tensor logits = rows.logits, targets = rows.targets;
    autograd::record("cross_entropy", out, {input},
                     [logits, targets, row_max, log_sum, input_shape, ignore_index, reduction, eps, counted](
                         const Tensor& g, const std::vector<bool>&) {
                       const int64_t m = logits.size(0), c = logits.size(1);
                       Tensor grad_rows = empty({m, c}, kFloat32);
                       Tensor gc = g.contiguous();
                       const float* pg = gc.data<float>();
                       const float* x = logits.data<float>();
                       const float* zmax = row_max.data<float>();
                       const float* zlog = log_sum.data<float>();
                       const int64_t* t = targets.data<int64_t>();
                       float* d = grad_rows.data<float>();
                       const float scale_all = reduction == Reduction::Mean ? 1.0f / counted : 1.0f;
                       // d loss_i / d x_j = p_j - (1 - ε) [j == t_i] - ε / C
#pragma omp parallel for schedule(static) if (m * c > (1 << 15))
                       for (int64_t i = 0; i < m; ++i) {
                         float* row = d + i * c;
                         if (t[i] == ignore_index) {
                           for (int64_t j = 0; j < c; ++j) row[j] = 0.0f;
                           continue;
                         }
                         const float up = (reduction == Reduction::None ? pg[i] : pg[0]) * scale_all;
                         for (int64_t j = 0; j < c; ++j) {
                           float p = std::exp((x[i * c + j] - zmax[i]) - zlog[i]);
                           row[j] = up * (p - eps / c - (j == t[i] ? 1.0f - eps : 0.0f));
                         }
                       }
                       // Back to the input's layout: rows (N·d..., C) -> (N, C, d...).
                       Tensor grad;
                       if (input_shape.size() == 1) {
                         grad = grad_rows.reshape(input_shape);
                       } else {
                         Shape permuted{input_shape[0]};
                         for (size_t k = 2; k < input_shape.size(); ++k) permuted.push_back(input_shape[k]);
                         permuted.push_back(input_shape[1]);
                         std::vector<int64_t> back{0, static_cast<int64_t>(input_shape.size()) - 1};
                         for (size_t k = 1; k + 1 < input_shape.size(); ++k) back.push_back(static_cast<int64_t>(k));
                         grad = grad_rows.reshape(permuted).permute(back).contiguous();
                       }
                       return std::vector<Tensor>{grad};
                     });
  }
  return out;
}

}  // namespace attnkit
