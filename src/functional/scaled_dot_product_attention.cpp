// scaled_dot_product_attention: checks the call, then runs it on the fused
// kernels (sdpa_fused.h) when they fit, and otherwise composes it from
// differentiable ops - plain, O(L·S) memory, and the reference the fused
// path is tested against (ATTNKIT_SDPA=reference forces it).
#include "attnkit/functional/scaled_dot_product_attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <vector>
#include <limits>

#include "attnkit/core/autograd.h"
#include "attnkit/functional/attention.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/join.h"
#include "attnkit/ops/matmul.h"
#include "attnkit/ops/reduce.h"
#include "functional/sdpa_fused.h"

namespace attnkit::functional {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

// (L, S) bool: query i may attend key j when j <= i + offset (offset 0:
// top-left aligned, S - L: bottom-right).
Tensor causal_mask(int64_t queries, int64_t keys, int64_t offset) {
  // float32 counts are exact up to 2^24 positions
  Tensor rows = add(arange(static_cast<double>(queries), kFloat32), static_cast<double>(offset)).unsqueeze(1);
  Tensor cols = arange(static_cast<double>(keys), kFloat32).unsqueeze(0);
  return le(cols, rows);
}

// k or v (..., Hkv, S, D) -> (..., Hkv * groups, S, D), each head repeated
// `groups` times in a row (torch.repeat_interleave on dim -3).
Tensor repeat_heads(const Tensor& t, int64_t groups) {
  if (groups == 1) return t;
  Shape expanded = t.shape();
  expanded.insert(expanded.end() - 2, groups);  // (..., Hkv, G, S, D)
  Shape merged = t.shape();
  merged[merged.size() - 3] *= groups;
  return t.unsqueeze(-3).expand(expanded).reshape(merged);
}

// log Σ_j exp(s_ij) per row; -inf for a row with nothing to attend to.
Tensor row_logsumexp(const Tensor& scores) {
  NoGradGuard no_grad;
  const double neg_inf = -std::numeric_limits<double>::infinity();
  Tensor row_max = max(scores, -1, true).values;  // (..., L, 1)
  Tensor finite_max = where(eq(row_max, neg_inf), zeros({}), row_max);
  Tensor total = sum(exp(sub(scores, finite_max)), {-1});
  return add(log(total), finite_max.squeeze(-1));
}

// Which path an eligible call takes. ATTNKIT_SDPA=reference or =fused forces
// one (tests compare the two); by default every eligible call runs fused: with
// packed K/V and the tile kernels it is faster than the composed path from the
// shortest lengths up (bench, 2 threads, B=8 H=12 d=64: 64 keys 1.5 vs 1.8 ms,
// 128 keys 5.8 vs 13.2 ms).
enum class SdpaPath { Auto, Reference, Fused };

SdpaPath forced_path() {
  const char* choice = std::getenv("ATTNKIT_SDPA");  // read per call: tests switch it
  if (choice == nullptr) return SdpaPath::Auto;
  std::string_view name(choice);
  if (name == "reference") return SdpaPath::Reference;
  if (name == "fused") return SdpaPath::Fused;
  return SdpaPath::Auto;
}

}  // namespace

SdpaOutput scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                        const SdpaOptions& options) {
  AK_CHECK(query.dim() >= 2 && key.dim() >= 2 && value.dim() >= 2, kOp,
           ": expected query (..., L, E), key (..., S, E) and value (..., S, Ev), got ",
           shape_str(query.shape()), ", ", shape_str(key.shape()), " and ", shape_str(value.shape()));
  for (const Tensor* t : {&query, &key, &value}) {
    AK_CHECK(is_floating(t->dtype()), kOp, ": expected floating point query, key and value, got ",
             dtype_name(t->dtype()));
  }
  AK_CHECK(query.size(-1) == key.size(-1), kOp, ": query and key feature sizes differ: ",
           query.size(-1), " != ", key.size(-1));
  AK_CHECK(key.size(-2) == value.size(-2), kOp, ": key and value lengths differ: ", key.size(-2),
           " != ", value.size(-2));
  AK_CHECK(options.dropout_p >= 0.0 && options.dropout_p < 1.0, kOp,
           ": dropout_p must be in [0, 1), got ", options.dropout_p);
  AK_CHECK(!(options.is_causal && options.attn_mask.defined()), kOp,
           ": attn_mask must not be given when is_causal is true");

  Tensor k = key, v = value;
  if (options.enable_gqa && query.dim() >= 3) {
    AK_CHECK(key.dim() >= 3 && value.dim() >= 3, kOp, ": enable_gqa needs a heads dim (-3) in key and value");
    const int64_t hq = query.size(-3), hkv = key.size(-3);
    AK_CHECK(value.size(-3) == hkv, kOp, ": key has ", hkv, " heads but value has ", value.size(-3));
    AK_CHECK(hkv > 0 && hq % hkv == 0, kOp, ": the number of query heads (", hq,
             ") must be a multiple of the number of key/value heads (", hkv, ")");
    k = repeat_heads(key, hq / hkv);
    v = repeat_heads(value, hq / hkv);
  } else if (query.dim() >= 3 && key.dim() >= 3) {
    Shape qb(query.shape().begin(), query.shape().end() - 2), kb(k.shape().begin(), k.shape().end() - 2);
    broadcast_shapes(qb, kb, kOp);  // a clear error for mismatched heads (enable_gqa?)
  }

  const int64_t queries = query.size(-2), keys = key.size(-2);
  const double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(query.size(-1))));
  const std::vector<int64_t>& heads = options.weights_heads;
  if (!heads.empty()) {
    AK_CHECK(options.return_weights, kOp, ": weights_heads needs return_weights");
    AK_CHECK(query.dim() >= 3, kOp, ": weights_heads needs a heads dim (-3) in query, got shape ",
             shape_str(query.shape()));
    for (int64_t h : heads) {
      AK_CHECK(h >= 0 && h < query.size(-3), kOp, ": weights_heads entry ", h, " is out of range for ",
               query.size(-3), " heads");
    }
  }
  const int64_t causal_offset = options.causal_lower_right ? keys - queries : 0;
  const SdpaPath path = forced_path();
  // Weights that must carry a gradient come from the composed path.
  const bool fused_wanted =
      path != SdpaPath::Reference && !(options.return_weights && autograd::needs_grad({&query, &key, &value}));
  if (fused_wanted) {
    detail::FusedSdpaCall call;
    call.mask = options.attn_mask;
    call.causal = options.is_causal;
    call.causal_offset = causal_offset;
    call.scale = scale;
    call.gqa = options.enable_gqa && query.dim() >= 3;
    call.want_lse = options.return_lse || options.return_weights;
    call.dropout_p = options.dropout_p;
    call.generator = options.generator;
    SdpaOutput fused;
    if (detail::fused_attention(query, key, value, call, fused)) {
      if (options.return_weights) fused.weights = detail::fused_attention_weights(query, key, call, fused.lse, heads);
      if (!options.return_lse) fused.lse = Tensor();
      return fused;
    }
  }
  Tensor scores = mul(matmul(query, k.transpose(-2, -1)), scale);  // (..., L, S)

  Tensor bool_mask;
  if (options.is_causal) {
    bool_mask = causal_mask(queries, keys, causal_offset);
  } else if (options.attn_mask.defined()) {
    const Tensor& m = options.attn_mask;
    Shape target = broadcast_shapes(scores.shape(), m.shape(), kOp);
    AK_CHECK(m.dim() <= scores.dim() || target == scores.shape(), kOp, ": attn_mask of shape ",
             shape_str(m.shape()), " does not broadcast to the scores' shape ", shape_str(scores.shape()));
    if (m.dtype() == kBool) {
      bool_mask = m;
    } else {
      AK_CHECK(is_floating(m.dtype()), kOp, ": attn_mask must be bool (true = take part) or float ",
               "(added to the scores), got ", dtype_name(m.dtype()));
      scores = add(scores, m);
    }
  }
  Tensor weights = masked_softmax(scores, bool_mask);  // (..., L, S)
  Tensor attended = weights;
  if (options.dropout_p > 0.0) {  // the fused kernels' mask, so both paths drop the same entries
    Shape batch(weights.shape().begin(), weights.shape().end() - 2);
    const int64_t problems = weights.numel() / std::max<int64_t>(queries * keys, 1);
    kernels::AttentionDropout drop =
        detail::reserve_attention_dropout(options.dropout_p, problems, queries, keys, options.generator);
    attended = mul(weights, detail::attention_dropout_factors(drop, batch, queries, keys));
  }
  SdpaOutput out;
  out.output = matmul(attended, v);  // (..., L, Ev)
  if (options.return_weights) {
    out.weights = weights;
    if (!heads.empty()) {
      std::vector<Tensor> chosen;
      for (int64_t h : heads) chosen.push_back(weights.select(-3, h));
      out.weights = stack(chosen, -3);
    }
  }
  if (options.return_lse) {
    Tensor masked = scores;
    if (bool_mask.defined()) {
      NoGradGuard no_grad;
      Shape shape = broadcast_shapes(scores.shape(), bool_mask.shape(), kOp);
      masked = masked_fill(scores.detach().expand(shape), logical_not(bool_mask).expand(shape),
                           -std::numeric_limits<double>::infinity());
    }
    out.lse = row_logsumexp(masked.detach());
  }
  return out;
}

}  // namespace attnkit::functional
