// scaled_dot_product_attention composed from differentiable ops: plain,
// O(L·S) memory, and the reference that a fused kernel is checked against.
#include "attnkit/functional/scaled_dot_product_attention.h"

#include <cmath>
#include <cstdlib>
#include <string_view>
#include <vector>
#include <limits>

#include "attnkit/core/autograd.h"
#include "attnkit/functional/attention.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/dropout.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/matmul.h"
#include "attnkit/ops/reduce.h"
#include "kernels/flash_attention.h"

namespace attnkit::functional {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

// (L, S) bool: query i may attend key j when j <= i (top-left aligned).
Tensor causal_mask(int64_t queries, int64_t keys) {
  Tensor rows = arange(static_cast<double>(queries)).unsqueeze(1);  // (L, 1)
  Tensor cols = arange(static_cast<double>(keys)).unsqueeze(0);     // (1, S)
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

// Element offsets of each (..., rows, cols) matrix of `t`, with its batch
// dims enumerated in row-major order (size-1 or stride-0 dims repeat).
std::vector<int64_t> matrix_offsets(const Tensor& t) {
  const int64_t batch_dims = t.dim() - 2;
  int64_t count = 1;
  for (int64_t d = 0; d < batch_dims; ++d) count *= t.size(d);
  std::vector<int64_t> offsets(static_cast<size_t>(count));
  for (int64_t b = 0; b < count; ++b) {
    int64_t rest = b, offset = 0;
    for (int64_t d = batch_dims - 1; d >= 0; --d) {
      offset += (rest % t.size(d)) * t.stride(d);
      rest /= t.size(d);
    }
    offsets[static_cast<size_t>(b)] = offset;
  }
  return offsets;
}

// Rows must be unit-stride for the kernel's GEMMs.
Tensor unit_column_stride(const Tensor& t) {
  return t.stride(-1) == 1 || t.size(-1) == 1 ? t : t.contiguous();
}

// The fused kernel: inference only (nothing to differentiate), no dropout, no
// weights asked for. Returns false when the call needs the composed path.
bool try_fused(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& mask,
               bool causal, double scale, bool gqa, SdpaOutput& out, bool want_lse) {
  if (autograd::needs_grad({&query, &key, &value, &mask})) return false;
  for (const Tensor* t : {&query, &key, &value}) {
    if (t->dtype() != kFloat32 || t->dim() < 3 || t->dim() != query.dim()) return false;
  }
  if (mask.defined() && mask.dtype() != kBool && mask.dtype() != kFloat32) return false;
  const int64_t queries = query.size(-2), keys = key.size(-2);
  Shape batch(query.shape().begin(), query.shape().end() - 2);
  // K and V as views with q's batch dims: GQA groups (Hkv, G) flattened in
  // row-major order are exactly the query heads h = hkv * G + g.
  auto as_query_batch = [&](const Tensor& t) {
    Tensor view = unit_column_stride(t);
    if (gqa && t.size(-3) != query.size(-3)) {
      const int64_t groups = query.size(-3) / t.size(-3);
      Shape expanded(view.shape().begin(), view.shape().end() - 2);
      expanded.push_back(groups);
      expanded.push_back(view.size(-2));
      expanded.push_back(view.size(-1));
      return view.unsqueeze(-3).expand(expanded);  // (..., Hkv, G, S, D), a view
    }
    Shape target = batch;
    target.push_back(t.size(-2));
    target.push_back(t.size(-1));
    return view.expand(target);
  };
  Tensor q = unit_column_stride(query);
  Tensor k = as_query_batch(key), v = as_query_batch(value);
  std::vector<int64_t> q_off = matrix_offsets(q), k_off = matrix_offsets(k), v_off = matrix_offsets(v);
  if (k_off.size() != q_off.size() || v_off.size() != q_off.size()) return false;
  Shape out_shape = batch;
  out_shape.push_back(queries);
  out_shape.push_back(value.size(-1));
  Tensor output = empty(out_shape, kFloat32);
  std::vector<int64_t> out_off = matrix_offsets(output);
  Tensor lse;
  if (want_lse) {
    Shape lse_shape = batch;
    lse_shape.push_back(queries);
    lse = empty(lse_shape, kFloat32);
  }
  kernels::FlashAttentionParams p;
  p.batch_heads = static_cast<int64_t>(q_off.size());
  p.queries = queries;
  p.keys = keys;
  p.head_dim = query.size(-1);
  p.value_dim = value.size(-1);
  p.q = q.data<float>(); p.k = k.data<float>(); p.v = v.data<float>(); p.out = output.data<float>();
  p.lse = want_lse ? lse.data<float>() : nullptr;
  p.q_offsets = q_off.data(); p.k_offsets = k_off.data(); p.v_offsets = v_off.data(); p.out_offsets = out_off.data();
  p.q_row_stride = q.stride(-2); p.k_row_stride = k.stride(-2); p.v_row_stride = v.stride(-2);
  p.out_row_stride = output.stride(-2);
  p.scale = static_cast<float>(scale);
  p.causal = causal;
  Tensor mask_view;
  std::vector<int64_t> mask_off;
  if (mask.defined()) {
    Shape target = batch;
    target.push_back(queries);
    target.push_back(keys);
    if (broadcast_shapes(target, mask.shape(), kOp) != target) return false;
    mask_view = mask.expand(target);
    mask_off = matrix_offsets(mask_view);
    p.mask_offsets = mask_off.data();
    p.mask_row_stride = mask_view.stride(-2);
    p.mask_col_stride = mask_view.stride(-1);
    if (mask.dtype() == kBool) p.bool_mask = static_cast<const bool*>(mask_view.data_ptr());
    else p.float_mask = static_cast<const float*>(mask_view.data_ptr());
  }
  kernels::flash_attention_forward(p);
  out.output = output;
  if (want_lse) out.lse = lse;
  return true;
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
  const SdpaPath path = forced_path();
  const bool fused_wanted = path != SdpaPath::Reference;
  if (fused_wanted && options.dropout_p == 0.0 && !options.return_weights) {
    SdpaOutput fused;
    if (try_fused(query, key, value, options.attn_mask, options.is_causal, scale,
                  options.enable_gqa && query.dim() >= 3, fused, options.return_lse)) {
      return fused;
    }
  }
  Tensor scores = mul(matmul(query, k.transpose(-2, -1)), scale);  // (..., L, S)

  Tensor bool_mask;
  if (options.is_causal) {
    bool_mask = causal_mask(queries, keys);
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
  Tensor attended = options.dropout_p > 0.0
                        ? dropout(weights, options.dropout_p, true, options.generator)
                        : weights;
  SdpaOutput out;
  out.output = matmul(attended, v);  // (..., L, Ev)
  if (options.return_weights) out.weights = weights;
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
