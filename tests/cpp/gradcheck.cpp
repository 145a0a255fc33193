#include "gradcheck.h"

#include <cmath>
#include <sstream>

namespace attnkit::testing {

namespace {

::testing::AssertionResult check(const MultiOpFn& op, const std::vector<Tensor>& inputs,
                                 const GradcheckOptions& options) {
  std::vector<Tensor> leaves;  // (handles alias the caller's tensors)
  for (const Tensor& input : inputs) {
    if (!input.defined() || !input.requires_grad()) continue;
    if (!input.is_leaf()) {
      return ::testing::AssertionFailure() << "gradcheck: inputs that require grad must be leaves";
    }
    Tensor handle = input;
    handle.set_grad(Tensor());
    leaves.push_back(handle);
  }
  if (leaves.empty()) return ::testing::AssertionFailure() << "gradcheck: no input requires grad";

  // ---- analytic: backward from every float32 output with its weights ----
  std::vector<Tensor> outputs = op(inputs);
  std::vector<std::vector<double>> weights(outputs.size());
  std::vector<size_t> roots;
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!outputs[k].defined() || outputs[k].dtype() != kFloat32) continue;
    Tensor w = randn_tensor(outputs[k].shape(), options.weight_seed + 977 * k);
    weights[k] = values(w);
    if (outputs[k].requires_grad()) roots.push_back(k);
  }
  if (roots.empty()) {
    return ::testing::AssertionFailure() << "gradcheck: no output requires grad (was the op "
                                            "recorded by autograd?)";
  }
  for (size_t r = 0; r < roots.size(); ++r) {
    const Tensor& out = outputs[roots[r]];
    Tensor w = from_vector(std::vector<float>(weights[roots[r]].begin(), weights[roots[r]].end()),
                           out.shape());
    out.backward(w, /*retain_graph=*/r + 1 < roots.size());
  }
  outputs.clear();

  // ---- numeric: central differences of L = sum_k sum(out_k * W_k) ----
  auto loss = [&]() -> double {
    NoGradGuard no_grad;
    std::vector<Tensor> outs = op(inputs);
    double total = 0;
    for (size_t k = 0; k < outs.size() && k < weights.size(); ++k) {
      if (weights[k].empty() && outs[k].numel() != 0) continue;
      std::vector<double> v = values(outs[k]);
      if (v.size() != weights[k].size()) throw Error("gradcheck: output shape changed between calls");
      for (size_t e = 0; e < v.size(); ++e) total += v[e] * weights[k][e];
    }
    return total;
  };
  const double base_loss = loss();
  if (loss() != base_loss) {
    return ::testing::AssertionFailure() << "gradcheck: the op is not deterministic";
  }

  std::ostringstream report;
  int64_t bad = 0, checked = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor& x = leaves[i];
    Tensor grad = x.grad();
    std::vector<double> analytic;
    if (grad.defined()) {
      if (grad.shape() != x.shape() || grad.dtype() != kFloat32) {
        return ::testing::AssertionFailure()
               << "gradcheck: grad of input " << i << " has shape " << shape_str(grad.shape())
               << " and dtype " << dtype_name(grad.dtype()) << ", expected "
               << shape_str(x.shape()) << " float32";
      }
      analytic = values(grad);
    } else {
      analytic.assign(static_cast<size_t>(x.numel()), 0.0);  // never reached by backward
    }
    float* data = static_cast<float*>(x.data_ptr());
    for (int64_t j = 0; j < x.numel(); ++j) {
      const int64_t offset = element_offset(x, j);
      const float saved = data[offset];
      const float plus = static_cast<float>(saved + options.eps);
      const float minus = static_cast<float>(saved - options.eps);
      data[offset] = plus;
      const double loss_plus = loss();
      data[offset] = minus;
      const double loss_minus = loss();
      data[offset] = saved;
      const double numeric = (loss_plus - loss_minus) / (static_cast<double>(plus) - minus);
      const double diff = std::abs(analytic[j] - numeric);
      ++checked;
      if (!(diff <= options.atol + options.rtol * std::abs(numeric))) {
        if (bad < 8) {
          report << "\n  input " << i << " at " << shape_str(unravel(j, x.shape()))
                 << ": analytic " << analytic[j] << ", numeric " << numeric;
        }
        ++bad;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << checked
                                       << " gradient elements disagree with finite differences"
                                       << " (eps " << options.eps << ", atol " << options.atol
                                       << ", rtol " << options.rtol << ")" << report.str();
}

}  // namespace

::testing::AssertionResult gradcheck_multi(const MultiOpFn& op, const std::vector<Tensor>& inputs,
                                           const GradcheckOptions& options) {
  try {
    return check(op, inputs, options);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "gradcheck: threw " << e.what();
  }
}

::testing::AssertionResult gradcheck(const OpFn& op, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options) {
  return gradcheck_multi(
      [&op](const std::vector<Tensor>& in) { return std::vector<Tensor>{op(in)}; }, inputs, options);
}

}  // namespace attnkit::testing
