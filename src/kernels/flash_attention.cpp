#include "kernels/flash_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/vec_avx2.h"

namespace attnkit::kernels {

namespace {

// Block sizes: a (Br, Bc) score tile and the (Br, Ev) accumulator stay in
// L1/L2 for head dims up to 256; Bc = 128 keeps each K/V block (128 x E) in L2.
constexpr int64_t kQueryBlock = 64;   // Br
constexpr int64_t kKeyBlock = 128;    // Bc
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// row[j] = exp(row[j] - max) for j < cols; returns their sum. The plain loop
// is the reference for the AVX2 one.
float exp_shifted_sum_scalar(float* row, int64_t cols, float max) {
  float total = 0.0f;
  for (int64_t j = 0; j < cols; ++j) {
    row[j] = std::exp(row[j] - max);
    total += row[j];
  }
  return total;
}

__attribute__((target("avx2,fma"))) float exp_shifted_sum_avx2(float* row, int64_t cols, float max) {
  const __m256 shift = _mm256_set1_ps(max);
  __m256 sum = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    __m256 e = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(row + j), shift));
    _mm256_storeu_ps(row + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  float total = avx2::horizontal_sum(sum);
  for (; j < cols; ++j) {
    row[j] = std::exp(row[j] - max);
    total += row[j];
  }
  return total;
}

// One block of queries [q0, q0 + rows) of problem b, against every key block.
void attend_block(const FlashAttentionParams& p, int64_t b, int64_t q0, int64_t rows,
                  std::vector<float>& scores, std::vector<float>& acc, std::vector<float>& part) {
  const int64_t E = p.head_dim, Ev = p.value_dim;
  const auto exp_shifted_sum = active_isa() == Isa::Avx2 ? exp_shifted_sum_avx2 : exp_shifted_sum_scalar;
  const float* q = p.q + p.q_offsets[b] + q0 * p.q_row_stride;
  std::vector<float> row_max(rows, kNegInf), row_sum(rows, 0.0f);
  std::fill(acc.begin(), acc.begin() + rows * Ev, 0.0f);
  // Causal: keys past the block's last query are never attended.
  const int64_t key_end = p.causal ? std::min(p.keys, q0 + rows) : p.keys;
  for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
    const int64_t cols = std::min(kKeyBlock, key_end - k0);
    // S = Q Kᵀ (rows, cols)
    GemmArgs s;
    s.m = rows; s.n = cols; s.k = E;
    s.a = q; s.a_row_stride = p.q_row_stride; s.a_col_stride = 1;
    s.b = p.k + p.k_offsets[b] + k0 * p.k_row_stride; s.b_row_stride = 1; s.b_col_stride = p.k_row_stride;
    s.c = scores.data(); s.ldc = cols;
    gemm_single_thread(s);
    // Scale, mask, and the online softmax update of each row.
    for (int64_t i = 0; i < rows; ++i) {
      float* sr = scores.data() + i * cols;
      const int64_t qi = q0 + i;
      float block_max = kNegInf;
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t kj = k0 + j;
        float x = sr[j] * p.scale;
        if (p.causal && kj > qi) x = kNegInf;
        if (p.bool_mask || p.float_mask) {
          const int64_t at = p.mask_offsets[b] + qi * p.mask_row_stride + kj * p.mask_col_stride;
          if (p.bool_mask && !p.bool_mask[at]) x = kNegInf;
          if (p.float_mask) x += p.float_mask[at];
        }
        sr[j] = x;
        block_max = std::max(block_max, x);
      }
      const float new_max = std::max(row_max[i], block_max);
      if (new_max == kNegInf) {  // nothing to attend to yet in this row
        std::fill(sr, sr + cols, 0.0f);
        continue;
      }
      const float correction = std::exp(row_max[i] - new_max);  // 0 when the old max was -inf
      const float total = exp_shifted_sum(sr, cols, new_max);
      row_sum[i] = row_sum[i] * correction + total;
      row_max[i] = new_max;
      float* ar = acc.data() + i * Ev;
      for (int64_t d = 0; d < Ev; ++d) ar[d] *= correction;
    }
    // acc += P V_block (rows, Ev)
    GemmArgs o;
    o.m = rows; o.n = Ev; o.k = cols;
    o.a = scores.data(); o.a_row_stride = cols; o.a_col_stride = 1;
    o.b = p.v + p.v_offsets[b] + k0 * p.v_row_stride; o.b_row_stride = p.v_row_stride; o.b_col_stride = 1;
    o.c = part.data(); o.ldc = Ev;
    gemm_single_thread(o);
    for (int64_t x = 0; x < rows * Ev; ++x) acc[x] += part[x];
  }
  float* out = p.out + p.out_offsets[b] + q0 * p.out_row_stride;
  for (int64_t i = 0; i < rows; ++i) {
    // A row with nothing to attend to gives zeros (and lse -inf).
    const float inv = row_sum[i] > 0.0f ? 1.0f / row_sum[i] : 0.0f;
    for (int64_t d = 0; d < Ev; ++d) out[i * p.out_row_stride + d] = acc[i * Ev + d] * inv;
    if (p.lse) {
      p.lse[b * p.queries + q0 + i] = row_sum[i] > 0.0f ? row_max[i] + std::log(row_sum[i]) : kNegInf;
    }
  }
}

}  // namespace

void flash_attention_forward(const FlashAttentionParams& p) {
  const int64_t query_blocks = (p.queries + kQueryBlock - 1) / kQueryBlock;
  const int64_t tasks = p.batch_heads * query_blocks;
  std::exception_ptr failure;  // an exception must not cross the parallel region
#pragma omp parallel if (tasks > 1)
  {
    std::vector<float> scores(kQueryBlock * kKeyBlock), acc(kQueryBlock * p.value_dim),
        part(kQueryBlock * p.value_dim);
    // Causal blocks differ in cost (later query blocks see more keys): hand them out dynamically.
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t b = t / query_blocks, q0 = (t % query_blocks) * kQueryBlock;
      try {
        attend_block(p, b, q0, std::min(kQueryBlock, p.queries - q0), scores, acc, part);
      } catch (...) {
#pragma omp critical(attnkit_flash_failure)
        failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace attnkit::kernels
