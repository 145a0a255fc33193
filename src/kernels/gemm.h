#pragma once
// attnkit's own fp32 GEMM, for CPUs where oneDNN 2.6 has no fast kernel
// (AVX2-only machines: its jit gemm there runs at 40-85 % of the FMA peak and
// collapses at power-of-two leading dimensions).
//
//   C (m, n) = A (m, k) · B (k, n)        C row-major with leading dim ldc
//
// A and B are read through arbitrary element strides (so transposed views
// need no copy). The algorithm is the BLIS one (Van Zee & van de Geijn 2015):
// B is packed into k-by-NR panels and A into MR-by-k panels sized for the
// caches, and a register-blocked micro-kernel computes MR x NR tiles of C.
// Packing also removes the cache-set conflicts that power-of-two strides cause.

#include <cstdint>

namespace attnkit::kernels {

struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t a_row_stride = 0, a_col_stride = 0;  // A[i][p] = a[i * a_row_stride + p * a_col_stride]
  const float* b = nullptr;
  int64_t b_row_stride = 0, b_col_stride = 0;  // B[p][j] = b[p * b_row_stride + j * b_col_stride]
  float* c = nullptr;
  int64_t ldc = 0;                             // C[i][j] = c[i * ldc + j]
  const float* bias = nullptr;                 // optional (n): C = A B + bias, added to every row
};

// Splits the work over the OpenMP threads (call it outside a parallel region;
// inside one it runs on the calling thread only).
void gemm(const GemmArgs& args);
// One thread, whatever the thread count.
void gemm_single_thread(const GemmArgs& args);
// Plain triple loop with double accumulation: the oracle for the tests.
void gemm_reference(const GemmArgs& args);

// Which GEMM matmul runs. Auto (the default) chooses by shape class:
//   - products of at most kGemvMaxRows rows (a decoding step) run on
//     attnkit's gemv, which streams B once (bench/matmul.py on a Zen 4 with
//     AVX-512, 2 threads: 1x768 @ 768x3072 0.074 ms against oneDNN's 0.115,
//     the tied LM head 1x768 @ 50257x768^T 6.2 against 6.7 ms; 4 rows 0.14
//     against 0.13 ms, a draw), and GPT-2 decoding (bench/models.py) went
//     from 24-25 to 19-20 ms/token;
//   - the rest run on oneDNN's brgemm on CPUs with AVX-512F (~86 % of the
//     AVX-512 peak) and on attnkit's own GEMM elsewhere.
// The environment variable ATTNKIT_GEMM=attnkit|onednn forces one backend
// for every shape (auto: the default).
enum class GemmBackend { Auto, Attnkit, OneDnn };
GemmBackend gemm_backend();
void set_gemm_backend(GemmBackend backend);  // for tests and benchmarks
// Whether a product with `rows` rows per matrix runs on oneDNN under the
// current setting.
bool gemm_runs_on_onednn(int64_t rows);

}  // namespace attnkit::kernels
