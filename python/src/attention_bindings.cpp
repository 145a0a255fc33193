// The attention family's functional API (attnkit.functional): score
// functions, soft attention with its distribution α, masked_softmax and
// scaled_dot_product_attention with torch's signature plus return_weights /
// return_lse.
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"

namespace attnkit::python {

nb::object sdpa_result(const functional::SdpaOutput& out, bool weights, bool lse) {
  if (!weights && !lse) return nb::cast(out.output);
  nb::list parts;
  parts.append(out.output);
  if (weights) parts.append(out.weights);
  if (lse) parts.append(out.lse);
  return nb::tuple(parts);
}

namespace {

using namespace nb::literals;

// score="dot" | "scaled_dot", or any callable (query, key) -> scores.
functional::ScoreFn to_score_fn(nb::handle score) {
  if (nb::isinstance<nb::str>(score)) {
    std::string name = nb::cast<std::string>(score);
    if (name == "dot") return functional::dot_score;
    if (name == "scaled_dot") return functional::scaled_dot_score;
    throw ValueError("attention: score must be 'dot', 'scaled_dot' or a callable (query, key) -> "
                     "scores (e.g. functools.partial(attnkit.functional.additive, w_key=..., "
                     "w_query=..., v=...)), got '" + name + "'");
  }
  if (!PyCallable_Check(score.ptr())) {
    throw nb::type_error("attention: score must be a string or a callable");
  }
  nb::object fn = nb::borrow(score);
  return [fn](const Tensor& query, const Tensor& key) {
    nb::gil_scoped_acquire gil;
    return nb::cast<Tensor>(fn(query, key));
  };
}

nb::tuple attention_op(const Tensor& query, const Tensor& key, const Tensor* value, nb::handle score,
                       const Tensor* mask) {
  functional::ScoreFn fn = to_score_fn(score);
  functional::AttentionOutput out =
      functional::attention(query, key, value ? *value : Tensor(), fn, mask ? *mask : Tensor());
  return nb::make_tuple(out.output, out.weights);
}

nb::object sdpa_op(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor* attn_mask,
                   double dropout_p, bool is_causal, std::optional<double> scale, bool enable_gqa,
                   bool return_weights, std::optional<std::vector<int64_t>> weights_heads, bool return_lse,
                   Generator* generator, bool causal_lower_right) {
  functional::SdpaOptions options;
  options.attn_mask = attn_mask ? *attn_mask : Tensor();
  options.dropout_p = dropout_p;
  options.is_causal = is_causal;
  options.causal_lower_right = causal_lower_right;
  options.scale = scale;
  options.enable_gqa = enable_gqa;
  options.return_weights = return_weights;
  if (weights_heads) options.weights_heads = *weights_heads;
  options.return_lse = return_lse;
  options.generator = generator;
  functional::SdpaOutput out;
  {
    nb::gil_scoped_release release;
    out = functional::scaled_dot_product_attention(query, key, value, options);
  }
  return sdpa_result(out, return_weights, return_lse);
}

nb::tuple hard_attention_op(const Tensor& query, const Tensor& key, const Tensor* value, nb::handle score,
                            const Tensor* mask, const std::string& mode, Generator* generator) {
  if (mode != "argmax" && mode != "sample") {
    throw ValueError("hard_attention: mode must be 'argmax' or 'sample', got '" + mode + "'");
  }
  functional::HardAttentionOutput out = functional::hard_attention(
      query, key, value ? *value : Tensor(), to_score_fn(score), mask ? *mask : Tensor(),
      mode == "argmax" ? functional::HardMode::Argmax : functional::HardMode::Sample, generator);
  return nb::make_tuple(out.output, out.index, out.log_prob, out.weights);
}

Tensor gumbel_softmax_op(const Tensor& logits, double tau, bool hard, double /*eps*/, int64_t dim,
                         Generator* generator) {
  if (logits.dim() > 0 && wrap_dim(dim, logits.dim(), "gumbel_softmax") != logits.dim() - 1) {
    throw ValueError("gumbel_softmax: only dim=-1 (the last dim) is supported");
  }
  return functional::gumbel_softmax(logits, tau, hard, generator);
}

}  // namespace

void bind_attention(nb::module_& m) {
  m.def("dot_score", &functional::dot_score, "query"_a, "key"_a,
        "s = xᵀ q: query (..., M, D), key (..., N, D) -> scores (..., M, N).");
  m.def("scaled_dot_score", &functional::scaled_dot_score, "query"_a, "key"_a,
        "s = xᵀ q / √D: query (..., M, D), key (..., N, D) -> scores (..., M, N).");
  m.def("bilinear_score", &functional::bilinear_score, "query"_a, "key"_a, "weight"_a,
        "s = xᵀ W q with weight W (Dk, Dq) -> scores (..., M, N).");
  m.def("additive_score", &functional::additive_score, "query"_a, "key"_a, "w_key"_a, "w_query"_a, "v"_a,
        "s = vᵀ tanh(W x + U q), w_key W (H, Dk), w_query U (H, Dq), v (H) -> scores (..., M, N).");
  m.def(
      "masked_softmax",
      [](const Tensor& scores, const Tensor* mask) {
        return functional::masked_softmax(scores, mask ? *mask : Tensor());
      },
      "scores"_a, "mask"_a = nb::none(),
      "softmax over the last dim where mask (bool) is true; fully masked rows give zeros.");
  m.def("attention", &attention_op, "query"_a, "key"_a, "value"_a = nb::none(), "score"_a = "scaled_dot",
        "mask"_a = nb::none(),
        "Soft attention: returns (output, weights). Without value the keys are read out (key = "
        "value). mask (bool, broadcast to (..., M, N)): true where a key may be attended.");
  m.def("hard_attention", &hard_attention_op, "query"_a, "key"_a, "value"_a = nb::none(),
        "score"_a = "scaled_dot", "mask"_a = nb::none(), "mode"_a = "argmax", "generator"_a = nb::none(),
        "Hard attention: returns (output, index, log_prob, weights). mode 'argmax' or 'sample' "
        "(from α). The choice has no gradient: train the scores with REINFORCE on log_prob, or use "
        "gumbel_softmax(hard=True) (straight-through).");
  m.def("gumbel_softmax", &gumbel_softmax_op, "logits"_a, "tau"_a = 1.0, "hard"_a = false, "eps"_a = 1e-10,
        "dim"_a = -1, "generator"_a = nb::none(),
        "torch.nn.functional.gumbel_softmax over the last dim; with hard=True the straight-through "
        "one-hot. The noise is rand(logits.shape) from the generator.");
  m.def("scaled_dot_product_attention", &sdpa_op, "query"_a, "key"_a, "value"_a, "attn_mask"_a = nb::none(),
        "dropout_p"_a = 0.0, "is_causal"_a = false, "scale"_a = nb::none(), "enable_gqa"_a = false,
        "return_weights"_a = false, "weights_heads"_a = nb::none(), "return_lse"_a = false,
        "generator"_a = nb::none(), "causal_lower_right"_a = false,
        "torch.nn.functional.scaled_dot_product_attention; causal_lower_right=True aligns the causal "
        "mask bottom-right (query i sees keys j <= i + S - L, for decoding); with return_weights / return_lse also "
        "returns the attention weights (..., H, L, S) and the row log-sum-exp (..., L), in that order. "
        "weights_heads=[h, ...] limits the weights to those heads (..., len(heads), L, S); without "
        "gradients they are recomputed from the log-sum-exp of the fused kernel. "
        "A query whose every key is masked gives zeros, not NaN.");
}

}  // namespace attnkit::python
