// matmul with NumPy semantics on oneDNN. 1-D operands are lifted to matrices
// and the added dim removed afterwards; a batched a times a plain matrix b is
// folded into one tall GEMM, which both runs faster and keeps b's gradient a
// single GEMM instead of a batch of them summed.
#include "attnkit/ops/matmul.h"

#include <omp.h>

#include <exception>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/elementwise.h"
#include "attnkit/ops/reduce.h"
#include "kernels/gemm.h"
#include "kernels/matmul_dnnl.h"

namespace attnkit {

namespace {

// oneDNN reads plain layouts with any positive strides, provided one of the
// last two dims is unit-stride. Otherwise (or for broadcast zero strides in
// a dim larger than 1) the operand is copied to a contiguous layout.
bool dnnl_readable(const Tensor& t) {
  const int64_t n = t.dim();
  const Shape& s = t.strides();
  const Shape& d = t.shape();
  bool row_major = s[n - 1] == 1 || d[n - 1] == 1;
  bool col_major = s[n - 2] == 1 || d[n - 2] == 1;
  if (!row_major && !col_major) return false;
  for (int64_t i = 0; i < n; ++i) {
    if (d[i] > 1 && s[i] <= 0) return false;
  }
  return true;
}

kernels::MatrixOperand operand(const Tensor& t) {
  // Size-1 dims may carry any stride; give them a consistent one so that
  // layouts that differ only there share a cached primitive.
  Shape strides = t.strides();
  for (int64_t i = t.dim() - 1; i >= 0; --i) {
    if (t.size(i) == 1) strides[i] = (i + 1 < t.dim()) ? strides[i + 1] * t.size(i + 1) : 1;
    if (strides[i] == 0) strides[i] = 1;
  }
  if (t.dim() >= 2 && t.size(-1) == 1 && t.size(-2) == 1) strides[t.dim() - 1] = 1;
  return {static_cast<float*>(t.data_ptr()), t.shape(), strides};
}

// attnkit's GEMM over the broadcast batch: whole GEMMs per thread when the
// batch splits evenly over the threads, else one threaded GEMM after another.
void own_gemm_batched(const Tensor& a, const Tensor& b, const Tensor& out, const Shape& batch) {
  const int64_t nd = out.dim();
  const int64_t count = shape_numel(batch);
  const int64_t m = out.size(-2), n = out.size(-1), k = a.size(-1);
  auto offset_of = [&](const Tensor& t, int64_t index) {
    int64_t offset = 0;
    for (int64_t d = nd - 3; d >= 0; --d) {
      const int64_t i = index % batch[d];
      index /= batch[d];
      if (t.size(d) != 1) offset += i * t.stride(d);
    }
    return offset;
  };
  const float* pa = static_cast<const float*>(a.data_ptr());
  const float* pb = static_cast<const float*>(b.data_ptr());
  float* pc = static_cast<float*>(out.data_ptr());
  auto args_for = [&](int64_t index) {
    kernels::GemmArgs g;
    g.m = m; g.n = n; g.k = k;
    g.a = pa + offset_of(a, index);
    g.a_row_stride = a.stride(-2); g.a_col_stride = a.stride(-1);
    g.b = pb + offset_of(b, index);
    g.b_row_stride = b.stride(-2); g.b_col_stride = b.stride(-1);
    g.c = pc + index * m * n;
    g.ldc = n;
    return g;
  };
  const int threads = omp_get_max_threads();
  if (count > 1 && threads > 1 && (count % threads == 0 || count >= 4 * threads)) {
    std::exception_ptr failure;  // an exception must not cross the parallel region
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) {
      try {
        kernels::gemm_single_thread(args_for(i));
      } catch (...) {
#pragma omp critical(attnkit_matmul_failure)
        failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
  } else {
    for (int64_t i = 0; i < count; ++i) kernels::gemm(args_for(i));
  }
}

// (..., M, K) @ (..., K, N) with equal ranks >= 2 and broadcastable batch dims.
Tensor batched_matmul(const Tensor& a_in, const Tensor& b_in) {
  const int64_t nd = a_in.dim();
  Shape batch_a(a_in.shape().begin(), a_in.shape().end() - 2);
  Shape batch_b(b_in.shape().begin(), b_in.shape().end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  const int64_t m = a_in.size(-2), n = b_in.size(-1), k = a_in.size(-1);
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = empty(out_shape, kFloat32);
  if (out.numel() == 0) return out;
  if (k == 0) return out.fill_(0.0);
  if (!kernels::gemm_runs_on_onednn(m)) {
    own_gemm_batched(a_in, b_in, out, batch);
    return out;
  }
  Tensor a = dnnl_readable(a_in) ? a_in : a_in.contiguous();
  Tensor b = dnnl_readable(b_in) ? b_in : b_in.contiguous();
  AK_CHECK(nd <= 12, "matmul: at most 12 dimensions are supported, got ", nd);
  kernels::dnnl_matmul(operand(a), operand(b), operand(out));
  return out;
}

Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  // Fold (..., M, K) @ (K, N) into (B*M, K) @ (K, N).
  if (b.dim() == 2 && a.dim() > 2) {
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(b.size(1));
    return matmul_nd(a.reshape({-1, a.size(-1)}), b).reshape(out_shape);
  }
  // Equal ranks: pad the shorter batch with leading 1s.
  Tensor a_r = a, b_r = b;
  while (a_r.dim() < b_r.dim()) a_r = a_r.unsqueeze(0);
  while (b_r.dim() < a_r.dim()) b_r = b_r.unsqueeze(0);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = batched_matmul(a_r.detach(), b_r.detach());
  }
  if (autograd::needs_grad({&a_r, &b_r})) {
    Tensor sa = a_r.detach(), sb = b_r.detach();
    Shape shape_a = a_r.shape(), shape_b = b_r.shape();
    autograd::record("matmul", out, {a_r, b_r},
                     [sa, sb, shape_a, shape_b](const Tensor& g, const std::vector<bool>& need) {
                       // out = a b  =>  da = g bᵀ, db = aᵀ g (summed over broadcast batch dims)
                       Tensor ga, gb;
                       if (need[0]) ga = sum_to_shape(matmul(g, sb.transpose(-1, -2)), shape_a);
                       if (need[1]) gb = sum_to_shape(matmul(sa.transpose(-1, -2), g), shape_b);
                       return std::vector<Tensor>{ga, gb};
                     });
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  AK_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both arguments need at least 1 dimension, got ",
           a_in.dim(), "-d and ", b_in.dim(), "-d tensors");
  for (const Tensor* t : {&a_in, &b_in}) {
    AK_CHECK(is_floating(t->dtype()), "matmul: expected float32 or bfloat16 tensors, got ",
             dtype_name(a_in.dtype()), " and ", dtype_name(b_in.dtype()));
  }
  const int64_t k_a = a_in.size(-1);
  const int64_t k_b = b_in.dim() == 1 ? b_in.size(0) : b_in.size(-2);
  AK_CHECK(k_a == k_b, "matmul: shapes ", shape_str(a_in.shape()), " and ", shape_str(b_in.shape()),
           " cannot be multiplied: ", k_a, " != ", k_b);
  Tensor a = a_in.to(kFloat32), b = b_in.to(kFloat32);
  const bool lift_a = a.dim() == 1, lift_b = b.dim() == 1;
  if (lift_a) a = a.unsqueeze(0);   // (K) -> (1, K)
  if (lift_b) b = b.unsqueeze(-1);  // (K) -> (K, 1)
  Tensor out = matmul_nd(a, b);
  if (lift_b) out = out.squeeze(-1);
  if (lift_a) out = out.squeeze(lift_b ? -1 : -2);
  return out;
}

size_t matmul_cache_size() { return kernels::dnnl_matmul_cache_size(); }

}  // namespace attnkit
