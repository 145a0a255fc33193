#include "functional/sdpa_fused.h"

#include <algorithm>
#include <vector>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/reduce.h"

namespace attnkit::functional::detail {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

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

// Rows must be unit-stride for the kernels' tiles.
Tensor unit_column_stride(const Tensor& t) {
  return t.stride(-1) == 1 || t.size(-1) == 1 ? t : t.contiguous();
}

// The operands as the kernels see them: views whose batch dims enumerate the
// (batch, head) problems, with each matrix's offset, kept alive together.
struct Operands {
  Tensor q, k, v, mask;             // k, v: views with q's problems (GQA groups expanded)
  std::vector<int64_t> q_off, k_off, v_off, mask_off;
  Shape batch;                      // q's batch dims
  int64_t problems = 0;
  kernels::AttentionDropout dropout;  // reserved once: the backward regenerates the same mask

  kernels::FlashAttentionParams params(const FusedSdpaCall& call) const {
    kernels::FlashAttentionParams p;
    p.batch_heads = problems;
    p.queries = q.size(-2);
    p.keys = k.size(-2);
    p.head_dim = q.size(-1);
    p.value_dim = v.size(-1);
    p.q = q.data<float>(); p.k = k.data<float>(); p.v = v.data<float>();
    p.q_offsets = q_off.data(); p.k_offsets = k_off.data(); p.v_offsets = v_off.data();
    p.q_row_stride = q.stride(-2); p.k_row_stride = k.stride(-2); p.v_row_stride = v.stride(-2);
    p.scale = static_cast<float>(call.scale);
    p.causal = call.causal;
    p.causal_offset = call.causal_offset;
    p.dropout = dropout;
    if (mask.defined()) {
      p.mask_offsets = mask_off.data();
      p.mask_row_stride = mask.stride(-2);
      p.mask_col_stride = mask.stride(-1);
      if (mask.dtype() == kBool) p.bool_mask = static_cast<const bool*>(mask.data_ptr());
      else p.float_mask = static_cast<const float*>(mask.data_ptr());
    }
    return p;
  }
};

// K or V as a view with q's batch dims: GQA groups (Hkv, G) flattened in
// row-major order are exactly the query heads h = hkv * G + g.
Tensor as_query_problems(const Tensor& t, const Shape& batch, int64_t query_heads, bool gqa) {
  Tensor view = unit_column_stride(t);
  if (gqa && t.size(-3) != query_heads) {
    Shape expanded(view.shape().begin(), view.shape().end() - 2);
    expanded.push_back(query_heads / t.size(-3));
    expanded.push_back(view.size(-2));
    expanded.push_back(view.size(-1));
    return view.unsqueeze(-3).expand(expanded);  // (..., Hkv, G, S, D)
  }
  Shape target = batch;
  target.push_back(t.size(-2));
  target.push_back(t.size(-1));
  return view.expand(target);
}

// The gradient of every problem's K (or V) copy, (q batch..., S, D)
// contiguous, summed back onto the tensor they were views of.
Tensor reduce_to_input(const Tensor& per_problem, const Tensor& view, const Shape& input_shape, bool grouped) {
  Tensor g = per_problem.reshape(view.shape());
  if (!grouped) return sum_to_shape(g, input_shape);
  Shape unsqueezed = input_shape;
  unsqueezed.insert(unsqueezed.end() - 2, 1);
  return sum_to_shape(g, unsqueezed).reshape(input_shape);
}

}  // namespace

kernels::AttentionDropout reserve_attention_dropout(double p, int64_t problems, int64_t queries, int64_t keys,
                                                    Generator* generator) {
  kernels::AttentionDropout dropout;
  if (p <= 0.0) return dropout;
  Generator& gen = generator ? *generator : current_generator();
  const Generator::Range range = gen.reserve(kernels::attention_dropout_blocks(problems * queries, keys));
  dropout.p = static_cast<float>(p);
  dropout.seed = range.seed;
  dropout.first_block = range.first_block;
  return dropout;
}

Tensor attention_dropout_factors(const kernels::AttentionDropout& dropout, const Shape& batch, int64_t queries,
                                 int64_t keys) {
  Shape shape = batch;
  shape.push_back(queries);
  shape.push_back(keys);
  Tensor factors = empty(shape, kFloat32);
  float* f = factors.data<float>();
  const int64_t rows = factors.numel() / std::max<int64_t>(keys, 1);
  for (int64_t r = 0; r < rows; ++r) {
    std::fill(f + r * keys, f + (r + 1) * keys, 1.0f);
    kernels::apply_attention_dropout(dropout, r, keys, 0, keys, f + r * keys);
  }
  return factors;
}

Tensor fused_attention_weights(const Tensor& query, const Tensor& key, const FusedSdpaCall& call,
                               const Tensor& lse, const std::vector<int64_t>& heads) {
  Operands ops;
  ops.batch.assign(query.shape().begin(), query.shape().end() - 2);
  ops.q = unit_column_stride(query.detach());
  ops.k = as_query_problems(key.detach(), ops.batch, query.size(-3), call.gqa);
  ops.v = ops.k;  // unused
  ops.q_off = matrix_offsets(ops.q);
  ops.k_off = matrix_offsets(ops.k);
  ops.v_off = ops.k_off;
  ops.problems = static_cast<int64_t>(ops.q_off.size());
  const int64_t queries = query.size(-2), keys = key.size(-2), query_heads = query.size(-3);
  if (call.mask.defined()) {
    Shape target = ops.batch;
    target.insert(target.end(), {queries, keys});
    ops.mask = call.mask.detach().expand(target);
    ops.mask_off = matrix_offsets(ops.mask);
  }
  std::vector<int64_t> chosen = heads;
  if (chosen.empty()) {
    for (int64_t h = 0; h < query_heads; ++h) chosen.push_back(h);
  }
  // Problem b is head b % H of batch entry b / H.
  std::vector<int64_t> problems;
  for (int64_t outer = 0; outer < ops.problems / query_heads; ++outer) {
    for (int64_t h : chosen) problems.push_back(outer * query_heads + h);
  }
  Shape shape(ops.batch.begin(), ops.batch.end() - 1);
  shape.insert(shape.end(), {static_cast<int64_t>(chosen.size()), queries, keys});
  Tensor weights = empty(shape, kFloat32);
  Tensor lse_contiguous = lse.contiguous();
  kernels::FlashAttentionParams p = ops.params(call);
  p.lse = const_cast<float*>(lse_contiguous.data<float>());
  kernels::attention_weights_from_lse(p, problems.data(), static_cast<int64_t>(problems.size()),
                                      weights.data<float>());
  return weights;
}

bool fused_attention(const Tensor& query, const Tensor& key, const Tensor& value, const FusedSdpaCall& call,
                     SdpaOutput& out) {
  for (const Tensor* t : {&query, &key, &value}) {
    if (t->dtype() != kFloat32 || t->dim() < 3 || t->dim() != query.dim()) return false;
  }
  const Tensor& mask = call.mask;
  if (mask.defined()) {
    if (mask.dtype() != kBool && mask.dtype() != kFloat32) return false;
    if (mask.requires_grad() && autograd::grad_mode_enabled()) return false;  // composed path differentiates it
  }
  const int64_t queries = query.size(-2), keys = key.size(-2);
  auto ops = std::make_shared<Operands>();
  ops->batch.assign(query.shape().begin(), query.shape().end() - 2);
  if (!call.gqa || key.size(-3) == query.size(-3)) {
    // The problems are query's: K/V may broadcast into its batch, not widen it.
    for (const Tensor* t : {&key, &value}) {
      const Shape kv_batch(t->shape().begin(), t->shape().end() - 2);
      if (broadcast_shapes(ops->batch, kv_batch, kOp) != ops->batch) return false;
    }
  }
  ops->q = unit_column_stride(query);
  ops->k = as_query_problems(key, ops->batch, query.size(-3), call.gqa);
  ops->v = as_query_problems(value, ops->batch, query.size(-3), call.gqa);
  ops->q_off = matrix_offsets(ops->q);
  ops->k_off = matrix_offsets(ops->k);
  ops->v_off = matrix_offsets(ops->v);
  ops->problems = static_cast<int64_t>(ops->q_off.size());
  if (static_cast<int64_t>(ops->k_off.size()) != ops->problems ||
      static_cast<int64_t>(ops->v_off.size()) != ops->problems) {
    return false;
  }
  if (mask.defined()) {
    Shape target = ops->batch;
    target.push_back(queries);
    target.push_back(keys);
    if (broadcast_shapes(target, mask.shape(), kOp) != target) return false;
    ops->mask = mask.detach().expand(target);
    ops->mask_off = matrix_offsets(ops->mask);
  }

  // With batch dims (..., H) the output is laid out as (..., L, H, Ev) and
  // returned as its (..., H, L, Ev) view: multi-head attention's merge of
  // the heads (transpose(-3, -2) + reshape to (..., L, H·Ev)) is then a view,
  // not a copy, and so is its gradient on the way back.
  Tensor output;
  if (ops->batch.size() >= 1) {
    Shape storage_shape(ops->batch.begin(), ops->batch.end() - 1);
    storage_shape.insert(storage_shape.end(), {queries, ops->batch.back(), value.size(-1)});
    const int64_t nd = static_cast<int64_t>(storage_shape.size());
    output = empty(storage_shape, kFloat32).transpose(nd - 3, nd - 2);
  } else {
    output = empty({queries, value.size(-1)}, kFloat32);
  }
  const std::vector<int64_t> out_off = matrix_offsets(output);
  const bool differentiable = autograd::needs_grad({&query, &key, &value});
  Tensor lse;
  if (call.want_lse || differentiable) {
    Shape lse_shape = ops->batch;
    lse_shape.push_back(queries);
    lse = empty(lse_shape, kFloat32);
  }
  ops->dropout = reserve_attention_dropout(call.dropout_p, ops->problems, queries, keys, call.generator);
  kernels::FlashAttentionParams p = ops->params(call);
  p.out = output.data<float>();
  p.out_offsets = out_off.data();
  p.out_row_stride = output.stride(-2);
  p.lse = lse.defined() ? lse.data<float>() : nullptr;
  kernels::flash_attention_forward(p);

  if (differentiable) {
    // The node keeps detached views of the inputs, the output and the lse.
    ops->q = ops->q.detach(); ops->k = ops->k.detach(); ops->v = ops->v.detach();
    // Detached aliases: the node must not own the output it hangs on (a cycle).
    Tensor saved_out = output.detach(), saved_lse = lse;
    const Shape key_shape = key.shape(), value_shape = value.shape();
    const bool grouped = call.gqa && key.size(-3) != query.size(-3);
    autograd::record(
        "scaled_dot_product_attention", output, {query, key, value},
        [ops, call, saved_out, saved_lse, key_shape, value_shape, grouped](const Tensor& grad,
                                                                           const std::vector<bool>& need) {
          Tensor dout = unit_column_stride(grad);
          const std::vector<int64_t> dout_off = matrix_offsets(dout);
          const std::vector<int64_t> out_off = matrix_offsets(saved_out);
          Shape dk_shape = ops->batch, dv_shape = ops->batch;
          dk_shape.insert(dk_shape.end(), {ops->k.size(-2), ops->k.size(-1)});
          dv_shape.insert(dv_shape.end(), {ops->v.size(-2), ops->v.size(-1)});
          Tensor dq = empty(ops->q.shape(), kFloat32), dk = empty(dk_shape, kFloat32),
                 dv = empty(dv_shape, kFloat32);
          kernels::FlashAttentionParams p = ops->params(call);
          p.out = const_cast<float*>(saved_out.data<float>());
          p.out_offsets = out_off.data();
          p.out_row_stride = saved_out.stride(-2);
          p.lse = const_cast<float*>(saved_lse.data<float>());
          kernels::FlashAttentionGrads g;
          g.dout = dout.data<float>();
          g.dout_offsets = dout_off.data();
          g.dout_row_stride = dout.stride(-2);
          g.dq = dq.data<float>(); g.dk = dk.data<float>(); g.dv = dv.data<float>();
          kernels::flash_attention_backward(p, g);
          return std::vector<Tensor>{
              need[0] ? dq : Tensor(),
              need[1] ? reduce_to_input(dk, ops->k, key_shape, grouped) : Tensor(),
              need[2] ? reduce_to_input(dv, ops->v, value_shape, grouped) : Tensor()};
        });
  }
  out.output = output;
  if (call.want_lse) out.lse = lse;
  return true;
}

}  // namespace attnkit::functional::detail
