#pragma once
// Loops over N strided operands of one shape, row by row.
//
// Dimensions that are contiguous with their neighbour in every operand are
// merged first, so contiguous (and broadcast-scalar) operands become a single
// flat row and the inner loop vectorises. Rows are split across OpenMP
// threads when the work is large enough to pay for the fork.

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit::kernels {

// Work below this many elements runs on one thread.
inline constexpr int64_t kParallelThreshold = 1 << 15;

template <size_t N>
struct StridedLayout {
  Shape shape;                    // merged shape
  std::array<Shape, N> strides;  // per operand, merged
};

template <size_t N>
StridedLayout<N> merge_dims(const Shape& shape, const std::array<Shape, N>& strides) {
  StridedLayout<N> out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims carry no stride information
    bool mergeable = !out.shape.empty();
    for (size_t k = 0; k < N && mergeable; ++k) {
      mergeable = out.strides[k].back() == strides[k][d] * shape[d];
    }
    if (mergeable) {
      out.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) out.strides[k].back() = strides[k][d];
    } else {
      out.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) out.strides[k].push_back(strides[k][d]);
    }
  }
  if (out.shape.empty()) {  // a single element
    out.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) out.strides[k].push_back(1);
  }
  return out;
}

// row(base_offsets, length, steps): process `length` elements starting at
// base_offsets[k], advancing steps[k] per element.
template <size_t N, typename RowFn>
void for_each_row(const Shape& shape, const std::array<Shape, N>& strides, RowFn&& row) {
  const int64_t numel = shape_numel(shape);
  if (numel == 0) return;
  StridedLayout<N> layout = merge_dims<N>(shape, strides);
  const int64_t ndim = static_cast<int64_t>(layout.shape.size());
  const int64_t length = layout.shape.back();
  const int64_t rows = numel / length;
  std::array<int64_t, N> steps;
  for (size_t k = 0; k < N; ++k) steps[k] = layout.strides[k].back();

  auto run_rows = [&](int64_t first, int64_t last) {
    // Multi-index of `first` over the outer dims, then increment it like an odometer.
    std::vector<int64_t> index(static_cast<size_t>(ndim > 1 ? ndim - 1 : 0));
    int64_t rest = first;
    for (int64_t d = ndim - 2; d >= 0; --d) {
      index[d] = rest % layout.shape[d];
      rest /= layout.shape[d];
    }
    std::array<int64_t, N> base{};
    for (size_t k = 0; k < N; ++k)
      for (int64_t d = 0; d < ndim - 1; ++d) base[k] += index[d] * layout.strides[k][d];
    for (int64_t r = first; r < last; ++r) {
      row(base, length, steps);
      for (int64_t d = ndim - 2; d >= 0; --d) {
        for (size_t k = 0; k < N; ++k) base[k] += layout.strides[k][d];
        if (++index[d] < layout.shape[d]) break;
        for (size_t k = 0; k < N; ++k) base[k] -= layout.strides[k][d] * layout.shape[d];
        index[d] = 0;
      }
    }
  };

  if (numel < kParallelThreshold || rows == 1) {
    if (rows == 1 && numel >= kParallelThreshold) {
      // One long row: split it into chunks instead.
#pragma omp parallel
      {
        int threads = omp_get_num_threads();
        int id = omp_get_thread_num();
        int64_t chunk = (length + threads - 1) / threads;
        int64_t begin = id * chunk, end = std::min(length, begin + chunk);
        if (begin < end) {
          std::array<int64_t, N> base;
          for (size_t k = 0; k < N; ++k) base[k] = begin * steps[k];
          row(base, end - begin, steps);
        }
      }
    } else {
      run_rows(0, rows);
    }
    return;
  }
#pragma omp parallel
  {
    int threads = omp_get_num_threads();
    int id = omp_get_thread_num();
    int64_t chunk = (rows + threads - 1) / threads;
    int64_t begin = id * chunk, end = std::min(rows, begin + chunk);
    if (begin < end) run_rows(begin, end);
  }
}

}  // namespace attnkit::kernels
