#pragma once
// The small building blocks of the fused attention kernels: an (R x 16) tile
// product with a packed right-hand panel, and the row passes of the online
// softmax. Each has a plain scalar version (the reference, and the path taken
// with ATTNKIT_ISA=scalar), an AVX2 + FMA version (R <= 6) and an AVX-512
// version (R <= 12), picked at run time.

#include <cstdint>

#include "kernels/cpu_features.h"

namespace attnkit::kernels {

constexpr int kMaxTileRows = 12;  // the most rows any ISA's tile takes
constexpr int kTileCols = 16;     // panel width: two ymm or one zmm

// c[r][0, 16) (+)= Σ_{p < depth} A(r, p) · panel[p * 16 + (0, 16)]   for r < rows (1..tile_rows)
// A(r, p) = a[r * a_row_stride + p * a_col_stride]: A is read in place, so
// Q rows, probability rows and their transposes all feed it without a copy.
// c rows are ldc apart and 16 wide; with accumulate the tile is added to c.
using TileKernel = void (*)(int rows, int64_t depth, const float* a, int64_t a_row_stride,
                            int64_t a_col_stride, const float* panel, float* c, int64_t ldc, bool accumulate);

struct AttentionTileKernels {
  int tile_rows;  // the rows of one tile: 6 (AVX2: 12 ymm accumulators), 12 (AVX-512)
  TileKernel tile;
  float (*row_max)(const float* x, int64_t n);
  // x[j] = 2^(x[j] - shift) for j < n; returns their sum. shift >= every x[j].
  // Base 2: the kernels fold log2(e) into the scale, saving a multiply per score.
  float (*exp2_shifted_sum)(float* x, int64_t n, float shift);
  void (*scale)(float* x, int64_t n, float factor);
  // The softmax gradient of one row, in place: ds[j] = p[j] · (ds[j] - dot).
  void (*softmax_grad)(const float* p, float* ds, int64_t n, float dot);
};

// Packing into 16-wide panels, zero-padded to whole panels. For a row-major
// matrix m (rows, cols) with row stride ld:
//   transposed panels (rows/16, cols, 16): dst[jp][e][c] = m[jp*16 + c][e]
//     (Kᵀ for Q Kᵀ: a panel is 16 keys, read feature by feature)
//   column panels     (cols/16, rows, 16): dst[dp][j][c] = m[j][dp*16 + c]
//     (V for P V: a panel is 16 features, read key by key)
int64_t panel_count(int64_t n);
void pack_transposed_panels(const float* m, int64_t rows, int64_t cols, int64_t ld, float* dst);
void pack_column_panels(const float* m, int64_t rows, int64_t cols, int64_t ld, float* dst);

// The set for the active ISA (cpu_features.h), looked up per call so tests
// can switch it.
const AttentionTileKernels& attention_tile_kernels();
// One ISA's set (that ISA must be available): the tests compare them.
const AttentionTileKernels& attention_tile_kernels(Isa isa);

}  // namespace attnkit::kernels
