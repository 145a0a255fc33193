#include "attnkit/nn/multihead_attention.h"

#include <cmath>
#include <limits>

#include "attnkit/core/error.h"
#include "attnkit/functional/scaled_dot_product_attention.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/compare.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/join.h"
#include "attnkit/ops/reduce.h"

namespace attnkit::nn {

namespace {

constexpr const char* kOp = "MultiheadAttention";
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// A mask in PyTorch's MultiheadAttention convention (true = may not attend;
// float = added) as float: -inf where masked.
Tensor as_additive(const Tensor& mask) {
  if (mask.dtype() != kBool) return mask;
  return masked_fill(zeros(mask.shape()), mask, kNegInf);
}

// Appends `count` columns (keys) to a mask (..., S): false for bool, 0 for float.
Tensor pad_keys(const Tensor& mask, int64_t count) {
  Shape extra = mask.shape();
  extra.back() = count;
  return cat({mask, zeros(extra, mask.dtype())}, -1);
}

void check_mask_dtype(const Tensor& mask, const char* what) {
  AK_CHECK(mask.dtype() == kBool || is_floating(mask.dtype()), kOp, ": ", what,
           " must be bool or floating point, got ", dtype_name(mask.dtype()));
}

}  // namespace

MultiheadAttention::MultiheadAttention(const MultiheadAttentionOptions& options, Generator* generator)
    : options_(options) {
  MultiheadAttentionOptions& o = options_;
  AK_CHECK(o.embed_dim > 0 && o.num_heads > 0, kOp, ": embed_dim and num_heads must be positive, got ",
           o.embed_dim, " and ", o.num_heads);
  AK_CHECK(o.embed_dim % o.num_heads == 0, kOp, ": embed_dim (", o.embed_dim,
           ") must be divisible by num_heads (", o.num_heads, ")");
  AK_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, kOp, ": dropout must be in [0, 1), got ", o.dropout);
  AK_CHECK(o.kdim >= 0 && o.vdim >= 0, kOp, ": kdim and vdim must be positive (or 0 for embed_dim)");
  if (o.kdim == 0) o.kdim = o.embed_dim;
  if (o.vdim == 0) o.vdim = o.embed_dim;
  const int64_t E = o.embed_dim;
  // Registration order is torch's, so state dicts list the same keys in the same order.
  if (o.kdim == E && o.vdim == E) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * E, E}));
    register_parameter("q_proj_weight", Tensor());
    register_parameter("k_proj_weight", Tensor());
    register_parameter("v_proj_weight", Tensor());
    init::xavier_uniform_(in_proj_weight, 1.0, generator);
  } else {
    register_parameter("in_proj_weight", Tensor());
    q_proj_weight = register_parameter("q_proj_weight", empty({E, E}));
    k_proj_weight = register_parameter("k_proj_weight", empty({E, o.kdim}));
    v_proj_weight = register_parameter("v_proj_weight", empty({E, o.vdim}));
    for (Tensor* w : {&q_proj_weight, &k_proj_weight, &v_proj_weight}) init::xavier_uniform_(*w, 1.0, generator);
  }
  if (o.bias) {
    in_proj_bias = register_parameter("in_proj_bias", zeros({3 * E}));
  } else {
    register_parameter("in_proj_bias", Tensor());
  }
  out_proj = register_module("out_proj", std::make_shared<Linear>(E, E, o.bias, generator));
  if (o.bias) init::zeros_(out_proj->bias);
  if (o.add_bias_kv) {
    bias_k = register_parameter("bias_k", empty({1, 1, E}));
    bias_v = register_parameter("bias_v", empty({1, 1, E}));
    init::xavier_normal_(bias_k, 1.0, generator);
    init::xavier_normal_(bias_v, 1.0, generator);
  } else {
    register_parameter("bias_k", Tensor());
    register_parameter("bias_v", Tensor());
  }
}

MultiheadAttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                     const MultiheadAttentionCall& call) const {
  const MultiheadAttentionOptions& o = options_;
  const int64_t E = o.embed_dim, H = o.num_heads, d = head_dim();
  AK_CHECK(query.dim() == 2 || query.dim() == 3, kOp, ": query must be (L, E) unbatched or ",
           o.batch_first ? "(N, L, E)" : "(L, N, E)", ", got shape ", shape_str(query.shape()));
  AK_CHECK(key.dim() == query.dim() && value.dim() == query.dim(), kOp,
           ": query, key and value must all be batched or all unbatched, got shapes ",
           shape_str(query.shape()), ", ", shape_str(key.shape()), " and ", shape_str(value.shape()));
  AK_CHECK(query.size(-1) == E, kOp, ": query has ", query.size(-1), " features, expected embed_dim ", E);
  AK_CHECK(key.size(-1) == o.kdim, kOp, ": key has ", key.size(-1), " features, expected kdim ", o.kdim);
  AK_CHECK(value.size(-1) == o.vdim, kOp, ": value has ", value.size(-1), " features, expected vdim ", o.vdim);
  const bool batched = query.dim() == 3;
  const bool self_attention = query.impl_ptr() == key.impl_ptr() && key.impl_ptr() == value.impl_ptr();

  // Work in (N, L, E).
  auto to_batch_first = [&](const Tensor& t) {
    if (!batched) return t.unsqueeze(0);
    return o.batch_first ? t : t.transpose(0, 1);
  };
  Tensor q_in = to_batch_first(query), k_in = to_batch_first(key), v_in = to_batch_first(value);
  const int64_t N = q_in.size(0), L = q_in.size(1);
  AK_CHECK(k_in.size(0) == N && v_in.size(0) == N, kOp, ": query, key and value batch sizes differ: ", N, ", ",
           k_in.size(0), " and ", v_in.size(0));
  AK_CHECK(k_in.size(1) == v_in.size(1), kOp, ": key and value lengths differ: ", k_in.size(1), " != ",
           v_in.size(1));
  int64_t S = k_in.size(1);

  // Projections: one GEMM for self-attention, three otherwise.
  Tensor q, k, v;  // (N, L|S, E)
  auto bias_part = [&](int64_t i) { return in_proj_bias.defined() ? in_proj_bias.narrow(0, i * E, E) : Tensor(); };
  if (in_proj_weight.defined() && self_attention) {
    std::vector<Tensor> qkv = chunk(linear(q_in, in_proj_weight, in_proj_bias), 3, -1);
    q = qkv[0]; k = qkv[1]; v = qkv[2];
  } else if (in_proj_weight.defined()) {
    q = linear(q_in, in_proj_weight.narrow(0, 0, E), bias_part(0));
    k = linear(k_in, in_proj_weight.narrow(0, E, E), bias_part(1));
    v = linear(v_in, in_proj_weight.narrow(0, 2 * E, E), bias_part(2));
  } else {
    q = linear(q_in, q_proj_weight, bias_part(0));
    k = linear(k_in, k_proj_weight, bias_part(1));
    v = linear(v_in, v_proj_weight, bias_part(2));
  }

  // Masks, in torch's convention until the end: attn_mask -> (N|1, H|1, L, S), key_padding_mask -> (N, 1, 1, S).
  Tensor attn_mask = call.attn_mask, padding = call.key_padding_mask;
  if (attn_mask.defined()) {
    check_mask_dtype(attn_mask, "attn_mask");
    if (attn_mask.dim() == 2) {
      AK_CHECK(attn_mask.size(0) == L && attn_mask.size(1) == S, kOp, ": the 2-D attn_mask must be (L, S) = (", L,
               ", ", S, "), got ", shape_str(attn_mask.shape()));
      attn_mask = attn_mask.unsqueeze(0).unsqueeze(0);
    } else if (attn_mask.dim() == 3) {
      const int64_t batch_heads = batched ? N * H : H;
      AK_CHECK(attn_mask.size(0) == batch_heads && attn_mask.size(1) == L && attn_mask.size(2) == S, kOp,
               ": the 3-D attn_mask must be (", batched ? "N·num_heads" : "num_heads", ", L, S) = (", batch_heads,
               ", ", L, ", ", S, "), got ", shape_str(attn_mask.shape()));
      attn_mask = attn_mask.reshape({N, H, L, S});
    } else {
      AK_CHECK(false, kOp, ": attn_mask must be 2-D or 3-D, got shape ", shape_str(attn_mask.shape()));
    }
  } else if (call.is_causal) {
    attn_mask = gt(arange(static_cast<double>(S)).unsqueeze(0), arange(static_cast<double>(L)).unsqueeze(1))
                    .unsqueeze(0).unsqueeze(0);  // key j > query i may not be attended
  }
  if (padding.defined()) {
    check_mask_dtype(padding, "key_padding_mask");
    const Shape expected = batched ? Shape{N, S} : Shape{S};
    AK_CHECK(padding.shape() == expected, kOp, ": key_padding_mask must be ", shape_str(expected), ", got ",
             shape_str(padding.shape()));
    padding = padding.reshape({N, 1, 1, S});
  }

  // Extra keys: learned biases, then a zero key, each with an always-visible mask column.
  auto split_heads = [&](const Tensor& t) { return t.reshape({N, t.size(1), H, d}).transpose(1, 2); };
  if (o.add_bias_kv) {
    k = cat({k, bias_k.expand({N, 1, E})}, 1);
    v = cat({v, bias_v.expand({N, 1, E})}, 1);
    S += 1;
    if (attn_mask.defined()) attn_mask = pad_keys(attn_mask, 1);
    if (padding.defined()) padding = pad_keys(padding, 1);
  }
  q = split_heads(q);  // (N, H, L, d)
  k = split_heads(k);  // (N, H, S, d)
  v = split_heads(v);
  if (o.add_zero_attn) {
    k = cat({k, zeros({N, H, 1, d})}, 2);
    v = cat({v, zeros({N, H, 1, d})}, 2);
    S += 1;
    if (attn_mask.defined()) attn_mask = pad_keys(attn_mask, 1);
    if (padding.defined()) padding = pad_keys(padding, 1);
  }

  // To scaled_dot_product_attention's convention: bool true = take part, float added.
  functional::SdpaOptions sdpa;
  const bool plain_causal = call.is_causal && !call.attn_mask.defined() && !padding.defined() &&
                            !o.add_bias_kv && !o.add_zero_attn;
  if (plain_causal) {
    sdpa.is_causal = true;  // the fused kernel then skips the blocks above the diagonal
  } else if (attn_mask.defined() && padding.defined()) {
    if (attn_mask.dtype() == kBool && padding.dtype() == kBool) {
      sdpa.attn_mask = logical_not(where(attn_mask, attn_mask, padding));  // neither masks the key
    } else {
      sdpa.attn_mask = add(as_additive(attn_mask), as_additive(padding));
    }
  } else if (attn_mask.defined() || padding.defined()) {
    const Tensor& m = attn_mask.defined() ? attn_mask : padding;
    sdpa.attn_mask = m.dtype() == kBool ? logical_not(m) : m;
  }
  sdpa.dropout_p = is_training() ? o.dropout : 0.0;
  sdpa.return_weights = call.need_weights;
  functional::SdpaOutput attended = functional::scaled_dot_product_attention(q, k, v, sdpa);

  Tensor merged = attended.output.transpose(1, 2).reshape({N, L, E});  // heads side by side
  Tensor out = out_proj->forward(merged);
  if (!batched) {
    out = out.squeeze(0);
  } else if (!o.batch_first) {
    out = out.transpose(0, 1);
  }
  MultiheadAttentionOutput result;
  result.output = out;
  if (call.need_weights) {
    Tensor w = call.average_attn_weights ? mean(attended.weights, {1}) : attended.weights;
    result.weights = batched ? w : w.squeeze(0);
  }
  return result;
}

}  // namespace attnkit::nn
