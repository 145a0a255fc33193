#include "kernels/gemm.h"
#include "kernels/gemv.h"
#include "kernels/scratch_buffer.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>

#include <immintrin.h>

#include "kernels/cpu_features.h"

namespace attnkit::kernels {

namespace {

// Register tile: 6 rows x 16 columns = 12 AVX2 accumulators, plus 2 registers
// for B and 1 for the broadcast A value: 15 of the 16 ymm registers.
constexpr int64_t kMR = 6;
constexpr int64_t kNR = 16;
// Cache blocks (BLIS's values for Haswell-class cores, which fit Zen too):
// a KC x NR panel of B (16 KiB) stays in L1, an MC x KC block of A (168 KiB)
// in L2, and a KC x NC block of B in L3.
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 168;
constexpr int64_t kNC = 4080;
static_assert(kMC % kMR == 0 && kNC % kNR == 0, "cache blocks must hold whole register tiles");

// C at most this wide reads a row-major A in place instead of packing it ...
constexpr int64_t kDirectMaxColumns = 4 * kNR;
// ... or when all of A is small enough to stay in L2 unpacked (256 KiB).
constexpr int64_t kDirectMaxAElements = 64 * 1024;
// Work from this many multiply-adds up runs as one team sharing packed B.
constexpr int64_t kMinTeamWork = int64_t{1024} * 1024 * 1024;
// Work below this many multiply-adds is not worth a second thread.
constexpr int64_t kMinParallelWork = 48 * 48 * 48;

// ---- packing ----

// Transposes 8 vectors of 8 floats in registers and stores them: element q
// of every row goes to dst + q * stride (8 consecutive floats), for q = 0..7
// in increasing order, so a stride below 8 lets each store overwrite the
// previous one's tail.
__attribute__((target("avx2,fma"))) inline void transpose_8x8_store(const __m256 (&r)[8], float* dst,
                                                                     int64_t stride) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * stride, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * stride, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * stride, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * stride, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * stride, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * stride, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * stride, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * stride, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// One full panel of a row-major A (unit column stride): 8 columns at a time,
// the 6 rows (and 2 zero rows) transposed in registers. Each of the 8 stores
// writes 8 floats of which the last 2 are overwritten by the next store; the
// loop stops while a later column remains, so no store passes the panel's end.
__attribute__((target("avx2,fma"))) int64_t pack_a_panel_rows_avx2(float* panel, const float* a, int64_t rs,
                                                                    int64_t kc) {
  int64_t p = 0;
  for (; p + 8 < kc; p += 8) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 rows[8] = {_mm256_loadu_ps(a + 0 * rs + p), _mm256_loadu_ps(a + 1 * rs + p),
                            _mm256_loadu_ps(a + 2 * rs + p), _mm256_loadu_ps(a + 3 * rs + p),
                            _mm256_loadu_ps(a + 4 * rs + p), _mm256_loadu_ps(a + 5 * rs + p),
                            zero,                            zero};
    transpose_8x8_store(rows, panel + p * kMR, kMR);
  }
  return p;
}

// Ap: ceil(mc / MR) panels, each kc x MR (column p holds rows i..i+MR), zero-padded.
void pack_a(float* ap, const float* a, int64_t rs, int64_t cs, int64_t mc, int64_t kc) {
  const bool vector = active_isa() >= Isa::Avx2;
  for (int64_t i0 = 0; i0 < mc; i0 += kMR) {
    const int64_t rows = std::min(kMR, mc - i0);
    float* panel = ap + i0 * kc;
    if (rows == kMR && cs == 1 && vector) {
      const float* src = a + i0 * rs;
      for (int64_t p = pack_a_panel_rows_avx2(panel, src, rs, kc); p < kc; ++p) {
        for (int64_t i = 0; i < kMR; ++i) panel[p * kMR + i] = src[i * rs + p];
      }
      continue;
    }
    if (rows == kMR && rs == 1) {
      // Column-major A (a transposed gradient, gᵀ x): each column's 6 rows are adjacent.
      for (int64_t p = 0; p < kc; ++p) std::memcpy(panel + p * kMR, a + i0 + p * cs, kMR * sizeof(float));
      continue;
    }
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = a + i0 * rs + p * cs;
      int64_t i = 0;
      for (; i < rows; ++i) panel[p * kMR + i] = src[i * rs];
      for (; i < kMR; ++i) panel[p * kMR + i] = 0.0f;
    }
  }
}

// Eight columns of a column-major B (column j at src + j * cs, 8 values of
// k each) into 8 rows of a panel (row stride NR).
__attribute__((target("avx2,fma"))) void pack_b_transposed_block_avx2(float* dst, const float* src, int64_t cs) {
  __m256 columns[8];
  for (int j = 0; j < 8; ++j) columns[j] = _mm256_loadu_ps(src + j * cs);
  transpose_8x8_store(columns, dst, kNR);
}

// Bp: ceil(nc / NR) panels, each kc x NR (row p holds columns j..j+NR), zero-padded.
void pack_b(float* bp, const float* b, int64_t rs, int64_t cs, int64_t kc, int64_t nc) {
  if (cs == 1 && nc % kNR == 0) {
    // Row-major B: walk each row of B once, dealing its 16-float pieces out
    // to the panels. (Walking panel by panel would read B with the row stride,
    // which for power-of-two widths keeps hitting the same cache sets.)
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = b + p * rs;
      for (int64_t j0 = 0; j0 < nc; j0 += kNR) {
        std::memcpy(bp + j0 * kc + p * kNR, src + j0, kNR * sizeof(float));
      }
    }
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += kNR) {
    const int64_t cols = std::min(kNR, nc - j0);
    float* panel = bp + j0 * kc;
    if (rs == 1 && cs != 1 && cols == kNR && active_isa() >= Isa::Avx2) {
      // Column-major B (a transposed weight, x @ Wᵀ), a full panel: 8 x 8
      // blocks transposed in registers, then the rest of k one row at a time.
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        pack_b_transposed_block_avx2(panel + p * kNR, b + j0 * cs + p, cs);
        pack_b_transposed_block_avx2(panel + p * kNR + 8, b + (j0 + 8) * cs + p, cs);
      }
      for (; p < kc; ++p) {
        for (int64_t j = 0; j < kNR; ++j) panel[p * kNR + j] = b[(j0 + j) * cs + p];
      }
      continue;
    }
    if (rs == 1 && cs != 1) {
      // Column-major B (a transposed weight, x @ Wᵀ): read each column
      // sequentially rather than gathering 16 columns per row.
      for (int64_t j = 0; j < kNR; ++j) {
        if (j >= cols) {
          for (int64_t p = 0; p < kc; ++p) panel[p * kNR + j] = 0.0f;
          continue;
        }
        const float* column = b + (j0 + j) * cs;
        for (int64_t p = 0; p < kc; ++p) panel[p * kNR + j] = column[p];
      }
      continue;
    }
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = b + p * rs + j0 * cs;
      float* dst = panel + p * kNR;
      if (cs == 1 && cols == kNR) {
        std::memcpy(dst, src, kNR * sizeof(float));
        continue;
      }
      int64_t j = 0;
      for (; j < cols; ++j) dst[j] = src[j * cs];
      for (; j < kNR; ++j) dst[j] = 0.0f;
    }
  }
}

// ---- micro-kernels: tile (MR x NR) = Ap panel . Bp panel, stored into or added to c ----

// accumulate: add to c; otherwise store, adding bias[0..NR) per row if given.
using MicroKernel = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc,
                             bool accumulate, const float* bias);

void micro_kernel_scalar(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc,
                         bool accumulate, const float* bias) {
  float tile[kMR][kNR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int64_t i = 0; i < kMR; ++i) {
      const float a = ap[p * kMR + i];
      for (int64_t j = 0; j < kNR; ++j) tile[i][j] += a * bp[p * kNR + j];
    }
  }
  for (int64_t i = 0; i < kMR; ++i) {
    for (int64_t j = 0; j < kNR; ++j) {
      c[i * ldc + j] = (accumulate ? c[i * ldc + j] : (bias ? bias[j] : 0.0f)) + tile[i][j];
    }
  }
}

__attribute__((target("avx2,fma"))) void micro_kernel_avx2(int64_t kc, const float* ap, const float* bp,
                                                            float* c, int64_t ldc, bool accumulate,
                                                            const float* bias) {
  // Bring the C tile towards L1 while the FMAs run; it is touched only at the end.
  for (int64_t i = 0; i < kMR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp + p * kNR);
    const __m256 b1 = _mm256_load_ps(bp + p * kNR + 8);
    const float* a = ap + p * kMR;
    __m256 av = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  const __m256 rows[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int64_t i = 0; i < kMR; ++i) {
    float* out = c + i * ldc;
    __m256 lo = rows[i][0], hi = rows[i][1];
    if (accumulate) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(out));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(out + 8));
    } else if (bias) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8));
    }
    _mm256_storeu_ps(out, lo);
    _mm256_storeu_ps(out + 8, hi);
  }
}

// The same tile with A read in place from MR row pointers (row-major A,
// unit column stride) instead of a packed panel. Used when C is narrow: then
// each A element feeds few tiles, and packing A would cost as much as the FMAs.
using DirectKernel = void (*)(int64_t kc, const float* const* a_rows, const float* bp, float* c,
                              int64_t ldc, bool accumulate, const float* bias);

void direct_kernel_scalar(int64_t kc, const float* const* a_rows, const float* bp, float* c,
                          int64_t ldc, bool accumulate, const float* bias) {
  float tile[kMR][kNR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int64_t i = 0; i < kMR; ++i) {
      const float a = a_rows[i][p];
      for (int64_t j = 0; j < kNR; ++j) tile[i][j] += a * bp[p * kNR + j];
    }
  }
  for (int64_t i = 0; i < kMR; ++i) {
    for (int64_t j = 0; j < kNR; ++j) {
      c[i * ldc + j] = (accumulate ? c[i * ldc + j] : (bias ? bias[j] : 0.0f)) + tile[i][j];
    }
  }
}

__attribute__((target("avx2,fma"))) void direct_kernel_avx2(int64_t kc, const float* const* a_rows,
                                                             const float* bp, float* c, int64_t ldc,
                                                             bool accumulate, const float* bias) {
  for (int64_t i = 0; i < kMR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
  const float *a0 = a_rows[0], *a1 = a_rows[1], *a2 = a_rows[2];
  const float *a3 = a_rows[3], *a4 = a_rows[4], *a5 = a_rows[5];
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp + p * kNR);
    const __m256 b1 = _mm256_load_ps(bp + p * kNR + 8);
    __m256 av = _mm256_broadcast_ss(a0 + p);
    c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a1 + p);
    c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a2 + p);
    c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a3 + p);
    c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a4 + p);
    c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a5 + p);
    c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  const __m256 rows[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int64_t i = 0; i < kMR; ++i) {
    float* out = c + i * ldc;
    __m256 lo = rows[i][0], hi = rows[i][1];
    if (accumulate) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(out));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(out + 8));
    } else if (bias) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8));
    }
    _mm256_storeu_ps(out, lo);
    _mm256_storeu_ps(out + 8, hi);
  }
}

MicroKernel pick_micro_kernel() {
  return active_isa() >= Isa::Avx2 ? micro_kernel_avx2 : micro_kernel_scalar;
}

// At least `floats` floats of `buffer`, 64-byte aligned.
float* scratch(ScratchBuffer& buffer, size_t floats) { return static_cast<float*>(buffer.get(floats * sizeof(float))); }

// Kept per thread: packing buffers are reused across calls (no allocation on
// the hot path).
struct PackBuffers {
  ScratchBuffer a, b;
};

PackBuffers& thread_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

}  // namespace

namespace {

// Buffers one member of a GEMM team packs into.
struct PackTarget {
  float* b;  // KC x NC packed B block (shared by the whole team)
  float* a;  // MC x KC packed A block (this member's own); null when A is read in place
};

// Narrow C or small A, row-major: read A in place (see DirectKernel).
bool reads_a_in_place(const GemmArgs& g) {
  return g.a_col_stride == 1 && (g.n <= kDirectMaxColumns || g.m * g.k <= kDirectMaxAElements);
}

size_t packed_b_floats(const GemmArgs& g) {
  return static_cast<size_t>(std::min(kKC, g.k) * std::min(kNC, (g.n + kNR - 1) / kNR * kNR));
}

size_t packed_a_floats(const GemmArgs& g) {
  return static_cast<size_t>(std::min(kKC, g.k) * std::min(kMC, (g.m + kMR - 1) / kMR * kMR));
}

// The BLIS loop nest, run by member `member` of a team of `team_size` (1 for
// a lone thread). The team packs each KC x NC block of B together into the
// shared buffer, then each member computes its own band of C's rows from its
// own packed A blocks: B is packed once, not once per thread.
void gemm_blocked(const GemmArgs& g, int member, int team_size, PackTarget pack) {
  const MicroKernel kernel = pick_micro_kernel();
  const DirectKernel direct_kernel = active_isa() >= Isa::Avx2 ? direct_kernel_avx2 : direct_kernel_scalar;
  const bool direct_a = reads_a_in_place(g);
  alignas(64) float edge[kMR * kNR];

  // This member's band of rows, in whole register tiles.
  const int64_t row_tiles = (g.m + kMR - 1) / kMR;
  const int64_t row_begin = row_tiles * member / team_size * kMR;
  const int64_t row_end = std::min(g.m, row_tiles * (member + 1) / team_size * kMR);

  for (int64_t jc = 0; jc < g.n; jc += kNC) {
    const int64_t nc = std::min(kNC, g.n - jc);
    const int64_t panels = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < g.k; pc += kKC) {
      const int64_t kc = std::min(kKC, g.k - pc);
      const bool accumulate = pc > 0;
      // This member's share of the B panels.
      const int64_t first_panel = panels * member / team_size;
      const int64_t last_panel = panels * (member + 1) / team_size;
      if (first_panel < last_panel) {
        const int64_t j0 = first_panel * kNR;
        const int64_t width = std::min(nc, last_panel * kNR) - j0;
        pack_b(pack.b + j0 * kc, g.b + pc * g.b_row_stride + (jc + j0) * g.b_col_stride,
               g.b_row_stride, g.b_col_stride, kc, width);
      }
      // Wait for the others' panels. (A lone member must not: inside someone
      // else's parallel region, e.g. matmul's batch loop, the barrier would
      // bind to that team.)
      if (team_size > 1) {
#pragma omp barrier
      }
      for (int64_t ic = row_begin; ic < row_end; ic += kMC) {
        const int64_t mc = std::min(kMC, row_end - ic);
        const float* a_block = g.a + ic * g.a_row_stride + pc * g.a_col_stride;
        if (!direct_a) pack_a(pack.a, a_block, g.a_row_stride, g.a_col_stride, mc, kc);
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const int64_t cols = std::min(kNR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const int64_t rows = std::min(kMR, mc - ir);
            float* c = g.c + (ic + ir) * g.ldc + jc + jr;
            const float* b_panel = pack.b + jr * kc;
            const bool full = rows == kMR && cols == kNR;
            // Edge tiles are computed aside in full, then their valid part kept.
            float* target = full ? c : edge;
            const int64_t ld = full ? g.ldc : kNR;
            const bool acc = full && accumulate;
            // The bias enters with the first k block of a full tile (edge
            // tiles add it below).
            const float* tile_bias = full && !accumulate && g.bias ? g.bias + jc + jr : nullptr;
            if (direct_a) {
              const float* a_rows[kMR];
              // Rows past the edge repeat row 0: valid memory, results discarded.
              for (int64_t i = 0; i < kMR; ++i) a_rows[i] = a_block + (i < rows ? ir + i : ir) * g.a_row_stride;
              direct_kernel(kc, a_rows, b_panel, target, ld, acc, tile_bias);
            } else {
              kernel(kc, pack.a + ir * kc, b_panel, target, ld, acc, tile_bias);
            }
            if (full) continue;
            for (int64_t i = 0; i < rows; ++i) {
              for (int64_t j = 0; j < cols; ++j) {
                const float base = accumulate ? c[i * g.ldc + j] : (g.bias ? g.bias[jc + jr + j] : 0.0f);
                c[i * g.ldc + j] = base + edge[i * kNR + j];
              }
            }
          }
        }
      }
      // Everyone is done with this B block before it is overwritten.
      if (team_size > 1) {
#pragma omp barrier
      }
    }
  }
}

// A lone thread's GEMM with its own reusable buffers.
void gemm_alone(const GemmArgs& g) {
  PackBuffers& buffers = thread_buffers();
  PackTarget pack{scratch(buffers.b, packed_b_floats(g)),
                  reads_a_in_place(g) ? nullptr : scratch(buffers.a, packed_a_floats(g))};
  gemm_blocked(g, 0, 1, pack);
}

bool trivial(const GemmArgs& g) {
  if (g.m <= 0 || g.n <= 0) return true;
  if (g.k <= 0) {
    for (int64_t i = 0; i < g.m; ++i) {
      if (g.bias) {
        std::copy(g.bias, g.bias + g.n, g.c + i * g.ldc);
      } else {
        std::fill(g.c + i * g.ldc, g.c + i * g.ldc + g.n, 0.0f);
      }
    }
    return true;
  }
  return false;
}

}  // namespace

void gemm_single_thread(const GemmArgs& g) {
  if (!trivial(g)) gemm_alone(g);
}

void gemm(const GemmArgs& g) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (trivial(g)) return;
  if (gemv_applies(g)) {  // a few rows: stream B once instead of packing it
    gemv(g);
    return;
  }
  if (threads <= 1 || g.m * g.n * g.k < kMinParallelWork) {
    gemm_alone(g);
    return;
  }
  if (g.m * g.n * g.k >= kMinTeamWork && g.m >= threads * kMC) {
    // Large: one team shares each packed B block and splits the rows, so B
    // is packed once. Buffers are allocated here, outside the parallel
    // region, where an allocation failure can still be thrown.
    PackBuffers& buffers = thread_buffers();
    float* bp = scratch(buffers.b, packed_b_floats(g));
    const size_t a_floats = reads_a_in_place(g) ? 0 : packed_a_floats(g);
    ScratchBuffer a_all;  // every member's packed A, for this call only
    float* ap = a_floats ? scratch(a_all, a_floats * threads) : nullptr;
#pragma omp parallel num_threads(threads)
    {
      const int id = omp_get_thread_num();
      gemm_blocked(g, id, omp_get_num_threads(), PackTarget{bp, ap ? ap + a_floats * id : nullptr});
    }
    return;
  }
  // Smaller: each thread computes an independent slab of C, made of whole
  // register tiles, with its own buffers (no barriers, which cost more than
  // packing twice at these sizes). Splitting columns makes every thread pack
  // all of A (m x k); splitting rows, all of B (k x n): split the longer side.
  const bool split_columns = g.n > g.m;
  const int64_t extent = split_columns ? g.n : g.m;
  const int64_t unit = split_columns ? kNR : kMR;
  const int64_t units = (extent + unit - 1) / unit;
  const int parts = static_cast<int>(std::min<int64_t>(threads, units));
  std::exception_ptr failure;  // an exception must not cross the parallel region
#pragma omp parallel num_threads(parts)
  {
    const int id = omp_get_thread_num();
    const int64_t begin = units * id / parts * unit;
    const int64_t end = std::min(extent, units * (id + 1) / parts * unit);
    if (begin < end) {
      GemmArgs part = g;
      if (split_columns) {
        part.n = end - begin;
        part.b = g.b + begin * g.b_col_stride;
        part.c = g.c + begin;
        if (g.bias) part.bias = g.bias + begin;
      } else {
        part.m = end - begin;
        part.a = g.a + begin * g.a_row_stride;
        part.c = g.c + begin * g.ldc;
      }
      try {
        gemm_alone(part);
      } catch (...) {
#pragma omp critical(attnkit_gemm_failure)
        failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

namespace {
GemmBackend default_backend() {
  if (const char* forced = std::getenv("ATTNKIT_GEMM")) {
    if (std::strcmp(forced, "onednn") == 0) return GemmBackend::OneDnn;
    if (std::strcmp(forced, "attnkit") == 0) return GemmBackend::Attnkit;
  }
  return GemmBackend::Auto;
}

std::atomic<GemmBackend>& backend_setting() {
  static std::atomic<GemmBackend> backend{default_backend()};
  return backend;
}
}  // namespace

GemmBackend gemm_backend() { return backend_setting().load(std::memory_order_relaxed); }
void set_gemm_backend(GemmBackend backend) { backend_setting().store(backend); }

bool gemm_runs_on_onednn(int64_t rows) {
  switch (gemm_backend()) {
    case GemmBackend::Attnkit: return false;
    case GemmBackend::OneDnn: return true;
    case GemmBackend::Auto: break;
  }
  if (rows <= kGemvMaxRows && active_isa() >= Isa::Avx2) return false;  // gemv's shape class
  return detected_isa() >= Isa::Avx512;
}

void gemm_reference(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      double total = 0.0;
      for (int64_t p = 0; p < g.k; ++p) {
        total += static_cast<double>(g.a[i * g.a_row_stride + p * g.a_col_stride]) *
                 g.b[p * g.b_row_stride + j * g.b_col_stride];
      }
      g.c[i * g.ldc + j] = static_cast<float>(total + (g.bias ? g.bias[j] : 0.0));
    }
  }
}

}  // namespace attnkit::kernels
