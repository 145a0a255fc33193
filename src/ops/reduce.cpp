// Reductions. Every reduction first lays the input out as rows (outer, inner)
// with the reduced dims innermost (a permute + contiguous, free when they
// already are), then reduces each row — except where the reduced dims are
// adjacent and followed by kept ones (a bias gradient, CBAM's mean and max
// over channels): sum (column_sums) and amax (BlockLayout) then reduce them
// in place, without the transposing copy.
#include "attnkit/ops/reduce.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "attnkit/core/autograd.h"
#include "attnkit/ops/elementwise.h"
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"

namespace attnkit {

namespace {

struct RowLayout {
  Tensor rows;        // (outer, inner), contiguous
  int64_t outer = 1;
  int64_t inner = 1;
  Shape out_shape;    // without reduced dims
  Shape keep_shape;   // with reduced dims as size 1
  std::vector<int64_t> permutation;  // input dims -> rows order
};

// With materialize = false only the sizes and shapes are worked out (rows
// stays undefined): what mean needs to scale a sum that took another path.
RowLayout to_rows(const Tensor& x, const Dims& dims, const char* op, bool materialize = true) {
  const int64_t nd = x.dim();
  std::vector<bool> reduced(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, nd, op);
    if (nd == 0) continue;
    AK_CHECK(!reduced[w] || dims.empty(), op, ": dim ", d, " appears more than once in ", shape_str(dims));
    reduced[w] = true;
  }
  RowLayout layout;
  for (int64_t d = 0; d < nd; ++d) {
    if (!reduced[d]) {
      layout.permutation.push_back(d);
      layout.out_shape.push_back(x.size(d));
      layout.outer *= x.size(d);
    }
  }
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[d]) {
      layout.permutation.push_back(d);
      layout.inner *= x.size(d);
    }
    layout.keep_shape.push_back(reduced[d] ? 1 : x.size(d));
  }
  if (!materialize) return layout;
  NoGradGuard no_grad;
  layout.rows = x.detach().permute(layout.permutation).contiguous().reshape({layout.outer, layout.inner});
  return layout;
}

// Per row: f(row pointer, length) -> value; parallel over rows.
template <typename In, typename Out, typename F>
void reduce_rows(const RowLayout& layout, Out* out, F f) {
  const In* data = static_cast<const In*>(layout.rows.data_ptr());
  const int64_t inner = layout.inner;
#pragma omp parallel for schedule(static) if (layout.outer > 1 && layout.outer * inner > (1 << 15))
  for (int64_t r = 0; r < layout.outer; ++r) out[r] = f(data + r * inner, inner);
}

// Sum of a row in double; a long single row is split across threads.
template <typename T>
double row_sum(const T* row, int64_t n, bool parallel) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (parallel && n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) total += kernels::cast_value<double>(row[i]);
  return total;
}

Tensor finish_shape(const Tensor& out_flat, const RowLayout& layout, bool keepdim) {
  return out_flat.reshape(keepdim ? layout.keep_shape : layout.out_shape);
}

// The output gradient of a reduction broadcast back over the input's shape.
Tensor expand_grad(const Tensor& g, const Shape& keep_shape, const Shape& input_shape) {
  return g.reshape(keep_shape).expand(input_shape);
}

// The reduced dims as one run of adjacent dims [first, end) followed by at
// least one kept dim (end < x.dim()): x is then (outer, rows, columns) with
// the rows reduced. Empty (first == end) for any other dim set.
struct DimRun {
  int64_t first = 0, end = 0;
  bool found() const { return end > first; }
};

DimRun reduced_run(const Tensor& x, const Dims& dims) {
  const int64_t nd = x.dim();
  std::vector<bool> reduced(static_cast<size_t>(nd), false);
  for (int64_t d : dims) {
    if (d < -nd || d >= nd) return {};  // to_rows reports it
    const int64_t w = d < 0 ? d + nd : d;
    if (reduced[w]) return {};
    reduced[w] = true;
  }
  int64_t first = 0;
  while (first < nd && !reduced[first]) ++first;
  const int64_t end = first + static_cast<int64_t>(dims.size());
  for (int64_t d = first; d < end; ++d) {
    if (d >= nd || !reduced[d]) return {};
  }
  return end < nd ? DimRun{first, end} : DimRun{};
}

// Σ over the rows of each contiguous float32 (rows, columns) slice of x seen
// as (outer, rows, columns): the bias gradient of a linear layer
// ((N, L, out) -> (out), outer = 1) or a mean over channels ((B, C, H, W) ->
// (B, 1, H, W)) without transposing x first. Threads take column ranges.
Tensor column_sums(const Tensor& x, DimRun run, bool keepdim) {
  int64_t outer = 1, rows = 1;
  Shape out_shape, keep_shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d >= run.first && d < run.end) {
      rows *= x.size(d);
      keep_shape.push_back(1);
    } else {
      if (d < run.first) outer *= x.size(d);
      out_shape.push_back(x.size(d));
      keep_shape.push_back(x.size(d));
    }
  }
  const int64_t columns = outer == 0 ? 0 : shape_numel(out_shape) / outer;
  Tensor out = empty(keepdim ? keep_shape : out_shape, kFloat32);
  const float* in = x.data<float>();
  float* o = out.data<float>();
  constexpr int64_t kBlock = 64;  // columns per task: a few cache lines per row
  const int64_t blocks = (columns + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (outer * rows * columns > (1 << 15) && outer * blocks > 1)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t slice = task / blocks, c0 = (task % blocks) * kBlock, width = std::min(kBlock, columns - c0);
    const float* base = in + slice * rows * columns + c0;
    // Float partial sums over runs of 32 rows, gathered in double: the inner
    // loop stays in float (twice the vector width, no conversions) while the
    // long sum keeps double precision.
    constexpr int64_t kRun = 32;
    double total[kBlock] = {};
    for (int64_t r0 = 0; r0 < rows; r0 += kRun) {
      float partial[kBlock] = {};
      const int64_t r1 = std::min(rows, r0 + kRun);
      for (int64_t r = r0; r < r1; ++r) {
        const float* row = base + r * columns;
        for (int64_t c = 0; c < width; ++c) partial[c] += row[c];
      }
      for (int64_t c = 0; c < width; ++c) total[c] += partial[c];
    }
    for (int64_t c = 0; c < width; ++c) o[slice * columns + c0 + c] = static_cast<float>(total[c]);
  }
  return out;
}

Tensor sum_impl(const Tensor& x, const Dims& dims, bool keepdim, bool all) {
  const char* op = "sum";
  if (!all && x.dtype() == kFloat32 && x.is_contiguous()) {
    if (const DimRun run = reduced_run(x, dims); run.found()) {
      Tensor result = column_sums(x, run, keepdim);
      if (autograd::needs_grad({&x})) {
        Shape keep = x.shape(), input_shape = x.shape();
        for (int64_t d = run.first; d < run.end; ++d) keep[static_cast<size_t>(d)] = 1;
        autograd::record("sum", result, {x}, [keep, input_shape](const Tensor& g, const std::vector<bool>&) {
          return std::vector<Tensor>{expand_grad(g, keep, input_shape)};
        });
      }
      return result;
    }
  }
  RowLayout layout = to_rows(x, all ? Dims{} : dims, op);
  DType out_dtype = is_floating(x.dtype()) ? kFloat32 : kInt64;
  Tensor out = empty({layout.outer}, out_dtype);
  const bool single_row = layout.outer == 1;
  kernels::visit_dtype(x.dtype(), [&]<typename T>() {
    if (out_dtype == kFloat32) {
      reduce_rows<T, float>(layout, out.data<float>(), [&](const T* row, int64_t n) {
        return static_cast<float>(row_sum(row, n, single_row));
      });
    } else {
      reduce_rows<T, int64_t>(layout, out.data<int64_t>(), [&](const T* row, int64_t n) {
        int64_t total = 0;
        for (int64_t i = 0; i < n; ++i) total += kernels::cast_value<int64_t>(row[i]);
        return total;
      });
    }
  });
  Tensor result = finish_shape(out, layout, keepdim);
  if (autograd::needs_grad({&x})) {
    Shape keep = layout.keep_shape, input_shape = x.shape();
    autograd::record("sum", result, {x}, [keep, input_shape](const Tensor& g, const std::vector<bool>&) {
      return std::vector<Tensor>{expand_grad(g, keep, input_shape)};
    });
  }
  return result;
}

void check_floating(const Tensor& x, const char* op) {
  AK_CHECK(is_floating(x.dtype()), op, ": expected a floating point tensor, got ",
           dtype_name(x.dtype()), "; convert with .to(float32)");
}

Tensor mean_impl(const Tensor& x, const Dims& dims, bool keepdim, bool all) {
  check_floating(x, "mean");
  const RowLayout layout = to_rows(x, all ? Dims{} : dims, "mean", /*materialize=*/false);
  const int64_t count = layout.inner;
  Tensor s;
  {
    NoGradGuard no_grad;
    s = sum(x, all ? Dims{} : dims, keepdim);
  }
  Tensor result = div(s, static_cast<double>(count));  // 0 / 0 = NaN for empty, as PyTorch
  if (autograd::needs_grad({&x})) {
    Shape keep = layout.keep_shape, input_shape = x.shape();
    autograd::record("mean", result, {x},
                     [keep, input_shape, count](const Tensor& g, const std::vector<bool>&) {
                       return std::vector<Tensor>{
                           expand_grad(div(g, static_cast<double>(count)), keep, input_shape)};
                     });
  }
  return result;
}

Tensor var_impl(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim, bool all) {
  check_floating(x, "var");
  AK_CHECK(correction >= 0, "var: correction must be non-negative, got ", correction);
  RowLayout layout = to_rows(x, all ? Dims{} : dims, "var");
  Tensor out = empty({layout.outer}, kFloat32);
  Tensor means = empty({layout.outer}, kFloat32);
  const double denominator = static_cast<double>(layout.inner - correction);
  Tensor rows_f = layout.rows.to(kFloat32);
  const float* data = rows_f.data<float>();
  float* o = out.data<float>();
  float* m = means.data<float>();
  const int64_t inner = layout.inner;
#pragma omp parallel for schedule(static) if (layout.outer > 1 && layout.outer * inner > (1 << 15))
  for (int64_t r = 0; r < layout.outer; ++r) {
    const float* row = data + r * inner;
    double mu = 0.0;  // two passes: mean, then squared deviations (stable)
    for (int64_t i = 0; i < inner; ++i) mu += row[i];
    mu /= static_cast<double>(inner);
    double ss = 0.0;
    for (int64_t i = 0; i < inner; ++i) ss += (row[i] - mu) * (row[i] - mu);
    m[r] = static_cast<float>(mu);
    o[r] = denominator > 0 ? static_cast<float>(ss / denominator)
                           : std::numeric_limits<float>::quiet_NaN();
  }
  Tensor result = finish_shape(out, layout, keepdim);
  if (autograd::needs_grad({&x})) {
    Shape keep = layout.keep_shape, input_shape = x.shape();
    Tensor saved_x = x.detach(), saved_mean = means.reshape(keep);
    autograd::record("var", result, {x},
                     [keep, input_shape, saved_x, saved_mean, denominator](const Tensor& g,
                                                                          const std::vector<bool>&) {
                       // d var / dx_i = 2 (x_i - mean) / (N - correction)
                       Tensor scale = mul(g.reshape(keep), 2.0 / denominator);
                       return std::vector<Tensor>{mul(sub(saved_x, saved_mean), scale)};
                     });
  }
  return result;
}

// Index of the extreme element of each row (first one on ties; NaN wins, as torch).
template <typename T>
int64_t row_extreme(const T* row, int64_t n, bool want_max) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    T v = row[i], b = row[best];
    if constexpr (std::is_floating_point_v<T>) {
      if (b != b) break;
      if (v != v) { best = i; break; }
    }
    if (want_max ? v > b : v < b) best = i;
  }
  return best;
}

// values, indices (int64 flat row offsets) of the extreme of each row.
ValuesIndices extreme_impl(const Tensor& x, const Dims& dims, bool keepdim, bool want_max,
                           const char* op, RowLayout* layout_out = nullptr) {
  RowLayout layout = to_rows(x, dims, op);
  AK_CHECK(layout.inner > 0, op, ": cannot reduce over an empty dimension (input shape ",
           shape_str(x.shape()), ")");
  AK_CHECK(x.dtype() != kBool, op, ": not supported for bool tensors");
  DType value_dtype = x.dtype() == kBFloat16 ? kFloat32 : x.dtype();
  Tensor rows = layout.rows.to(value_dtype);
  Tensor values = empty({layout.outer}, value_dtype);
  Tensor indices = empty({layout.outer}, kInt64);
  int64_t* idx = indices.data<int64_t>();
  kernels::visit_dtype(value_dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, int64_t> || std::is_same_v<T, int32_t>) {
      const T* data = rows.data<T>();
      T* v = values.data<T>();
      const int64_t inner = layout.inner;
#pragma omp parallel for schedule(static) if (layout.outer > 1 && layout.outer * inner > (1 << 15))
      for (int64_t r = 0; r < layout.outer; ++r) {
        idx[r] = row_extreme(data + r * inner, inner, want_max);
        v[r] = data[r * inner + idx[r]];
      }
    }
  });
  ValuesIndices result{finish_shape(values, layout, keepdim), finish_shape(indices, layout, keepdim)};
  if (autograd::needs_grad({&x})) {
    // Scatter the gradient to the chosen element of each row, then undo the permutation.
    Shape input_shape = x.shape();
    std::vector<int64_t> permutation = layout.permutation;
    Tensor flat_idx = indices;
    const int64_t outer = layout.outer, inner = layout.inner;
    autograd::record(op, result.values, {x},
                     [input_shape, permutation, flat_idx, outer, inner](const Tensor& g,
                                                                       const std::vector<bool>&) {
                       Tensor grad_rows = zeros({outer, inner});
                       Tensor gc = g.contiguous().reshape({outer});
                       const float* pg = gc.data<float>();
                       const int64_t* pi = flat_idx.data<int64_t>();
                       float* pr = grad_rows.data<float>();
                       for (int64_t r = 0; r < outer; ++r) pr[r * inner + pi[r]] = pg[r];
                       Shape permuted(permutation.size());
                       std::vector<int64_t> inverse(permutation.size());
                       for (size_t i = 0; i < permutation.size(); ++i) {
                         permuted[i] = input_shape[permutation[i]];
                         inverse[permutation[i]] = static_cast<int64_t>(i);
                       }
                       return std::vector<Tensor>{grad_rows.reshape(permuted).permute(inverse).contiguous()};
                     });
  }
  if (layout_out) *layout_out = layout;
  return result;
}

// ---- amax ----------------------------------------------------------------
//
// amax lays the input out as blocks (outer, reduced, inner), contiguous. When
// the reduced dims are adjacent that is the input itself, with no copy:
// (B, C, H, W) over {2, 3} is (B·C, H·W, 1) and over {1} is (B, C, H·W) —
// the two reductions of CBAM. Other dim sets are permuted to the end first
// (inner = 1), and the backward permutes back.
struct BlockLayout {
  Tensor data;  // (outer, reduced, inner), contiguous; float32 for floating input
  int64_t outer = 1, reduced = 1, inner = 1;
  Shape out_shape, keep_shape;
  std::vector<int64_t> permutation;  // empty unless the reduced dims were moved last
  Shape permuted_shape;
};

BlockLayout to_blocks(const Tensor& x, const Dims& dims, const char* op) {
  const int64_t nd = x.dim();
  std::vector<bool> reduced(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, nd, op);
    if (nd == 0) continue;
    AK_CHECK(!reduced[w], op, ": dim ", d, " appears more than once in ", shape_str(dims));
    reduced[w] = true;
  }
  BlockLayout b;
  int64_t first = nd, last = -1;
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[d]) {
      first = std::min(first, d);
      last = d;
      b.keep_shape.push_back(1);
    } else {
      b.out_shape.push_back(x.size(d));
      b.keep_shape.push_back(x.size(d));
    }
  }
  bool adjacent = true;
  for (int64_t d = first; d <= last; ++d) adjacent = adjacent && reduced[d];

  NoGradGuard no_grad;
  Tensor source = x.detach();
  if (source.dtype() == kBFloat16) source = source.to(kFloat32);
  if (adjacent) {
    for (int64_t d = 0; d < nd; ++d) {
      (d < first ? b.outer : d <= last ? b.reduced : b.inner) *= x.size(d);
    }
    b.data = source.contiguous();
    return b;
  }
  for (int64_t d = 0; d < nd; ++d) {
    if (!reduced[d]) b.permutation.push_back(d);
  }
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[d]) b.permutation.push_back(d);
  }
  for (int64_t d : b.permutation) {
    (reduced[d] ? b.reduced : b.outer) *= x.size(d);
    b.permuted_shape.push_back(x.size(d));
  }
  b.data = source.permute(b.permutation).contiguous();
  return b;
}

// The larger of a candidate and the running maximum; a NaN wins and stays.
template <typename T>
[[gnu::always_inline]] inline T pick_max(T candidate, T running) {
  if constexpr (std::is_floating_point_v<T>) {
    return (candidate > running || candidate != candidate) ? candidate : running;
  } else {
    return candidate > running ? candidate : running;
  }
}

// The two loops of the forward, written once and compiled twice for float:
// baseline, and inlined into AVX2 wrappers where the compiler vectorises them
// with 8-wide selects (adaptive_pooling.cpp's pattern).
#define AK_AMAX_LOOP [[gnu::always_inline]] inline

// The maximum of a row. kAmaxLanes independent running maxima, combined at
// the end, turn the loop into elementwise selects that vectorise (a single
// running maximum is a loop-carried dependence); 32 lanes are four AVX2
// registers, enough to hide the compare-and-blend latency.
constexpr int64_t kAmaxLanes = 32;

template <typename T>
AK_AMAX_LOOP T row_max(const T* row, int64_t n) {
  T m = row[0];
  int64_t i = 1;
  if (n >= 2 * kAmaxLanes) {
    T lanes[kAmaxLanes];
    std::copy(row, row + kAmaxLanes, lanes);
    for (i = kAmaxLanes; i + kAmaxLanes <= n; i += kAmaxLanes) {
      for (int64_t l = 0; l < kAmaxLanes; ++l) lanes[l] = pick_max(row[i + l], lanes[l]);
    }
    m = lanes[0];
    for (int64_t l = 1; l < kAmaxLanes; ++l) m = pick_max(lanes[l], m);
  }
  for (; i < n; ++i) m = pick_max(row[i], m);
  return m;
}

// running[c] = max(running[c], row[c]) for c < n.
template <typename T>
AK_AMAX_LOOP void max_into(T* running, const T* row, int64_t n) {
  for (int64_t c = 0; c < n; ++c) running[c] = pick_max(row[c], running[c]);
}

__attribute__((target("avx2,fma"))) float row_max_avx2(const float* row, int64_t n) { return row_max(row, n); }
__attribute__((target("avx2,fma"))) void max_into_avx2(float* running, const float* row, int64_t n) {
  max_into(running, row, n);
}

template <typename T>
struct AmaxLoops {
  T (*row_max)(const T*, int64_t) = attnkit::row_max<T>;
  void (*max_into)(T*, const T*, int64_t) = attnkit::max_into<T>;
};

template <typename T>
AmaxLoops<T> amax_loops() {
  if constexpr (std::is_same_v<T, float>) {
    if (kernels::active_isa() >= kernels::Isa::Avx2) return {row_max_avx2, max_into_avx2};
  }
  return {};
}

// Columns of the inner dim per task: a task keeps its block of running maxima
// (2 KB of float) in L1 while it walks the reduced rows.
constexpr int64_t kAmaxBlock = 512;

// out (outer, inner) = the maximum over the reduced dim of x (outer, reduced, inner).
template <typename T>
void amax_blocks(const T* x, T* out, int64_t outer, int64_t reduced, int64_t inner) {
  const AmaxLoops<T> loops = amax_loops<T>();
  const bool parallel = outer * reduced * inner > (1 << 15);
  if (inner == 1) {  // one row per output
#pragma omp parallel for schedule(static) if (parallel && outer > 1)
    for (int64_t o = 0; o < outer; ++o) out[o] = loops.row_max(x + o * reduced, reduced);
    return;
  }
  const int64_t blocks = (inner + kAmaxBlock - 1) / kAmaxBlock;
#pragma omp parallel for schedule(static) if (parallel && outer * blocks > 1)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t o = task / blocks, c0 = (task % blocks) * kAmaxBlock;
    const int64_t width = std::min(kAmaxBlock, inner - c0);
    const T* base = x + o * reduced * inner + c0;
    T* m = out + o * inner + c0;
    std::copy(base, base + width, m);
    for (int64_t r = 1; r < reduced; ++r) loops.max_into(m, base + r * inner, width);
  }
}

// The backward of amax_blocks (torch's rule): dx = g / count where x equals
// its slice's maximum, 0 elsewhere, count being the number of such elements.
// A NaN maximum equals nothing (count = 0): torch's g / count * mask is then
// NaN for the whole slice, and so is ours.
void amax_backward_blocks(const float* x, const float* maxima, const float* g, float* dx, int64_t outer,
                          int64_t reduced, int64_t inner) {
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  const bool parallel = outer * reduced * inner > (1 << 15);
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (parallel && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const float* row = x + o * reduced;
      float* out = dx + o * reduced;
      const float m = maxima[o];
      float count = 0.f;
      for (int64_t i = 0; i < reduced; ++i) count += row[i] == m ? 1.f : 0.f;
      const float share = count > 0.f ? g[o] / count : kNan, rest = count > 0.f ? 0.f : kNan;
      for (int64_t i = 0; i < reduced; ++i) out[i] = row[i] == m ? share : rest;
    }
    return;
  }
  const int64_t blocks = (inner + kAmaxBlock - 1) / kAmaxBlock;
#pragma omp parallel for schedule(static) if (parallel && outer * blocks > 1)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t o = task / blocks, c0 = (task % blocks) * kAmaxBlock;
    const int64_t width = std::min(kAmaxBlock, inner - c0);
    const float* base = x + o * reduced * inner + c0;
    float* out = dx + o * reduced * inner + c0;
    const float* m = maxima + o * inner + c0;
    float count[kAmaxBlock] = {}, share[kAmaxBlock], rest[kAmaxBlock];
    for (int64_t r = 0; r < reduced; ++r) {
      const float* row = base + r * inner;
      for (int64_t c = 0; c < width; ++c) count[c] += row[c] == m[c] ? 1.f : 0.f;
    }
    const float* go = g + o * inner + c0;
    for (int64_t c = 0; c < width; ++c) {
      share[c] = count[c] > 0.f ? go[c] / count[c] : kNan;
      rest[c] = count[c] > 0.f ? 0.f : kNan;
    }
    for (int64_t r = 0; r < reduced; ++r) {
      const float* row = base + r * inner;
      float* out_row = out + r * inner;
      for (int64_t c = 0; c < width; ++c) out_row[c] = row[c] == m[c] ? share[c] : rest[c];
    }
  }
}

}  // namespace

Tensor sum(const Tensor& x) { return sum_impl(x, {}, false, true); }
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) { return sum_impl(x, dims, keepdim, dims.empty()); }
Tensor mean(const Tensor& x) { return mean_impl(x, {}, false, true); }
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
  return mean_impl(x, dims, keepdim, dims.empty());
}
Tensor var(const Tensor& x, int64_t correction) { return var_impl(x, {}, correction, false, true); }
Tensor var(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
  return var_impl(x, dims, correction, keepdim, dims.empty());
}

Tensor max(const Tensor& x) {
  AK_CHECK(x.numel() > 0, "max: cannot reduce an empty tensor (shape ", shape_str(x.shape()), ")");
  return extreme_impl(x.reshape({-1}), {0}, false, true, "max").values;
}
Tensor min(const Tensor& x) {
  AK_CHECK(x.numel() > 0, "min: cannot reduce an empty tensor (shape ", shape_str(x.shape()), ")");
  return extreme_impl(x.reshape({-1}), {0}, false, false, "min").values;
}
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_impl(x, {wrap_dim(dim, x.dim(), "max")}, keepdim && x.dim() > 0, true, "max");
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_impl(x, {wrap_dim(dim, x.dim(), "min")}, keepdim && x.dim() > 0, false, "min");
}

Tensor amax(const Tensor& x, const Dims& dims, bool keepdim) {
  const char* op = "amax";
  AK_CHECK(x.dtype() != kBool, op, ": not supported for bool tensors");
  BlockLayout b = to_blocks(x, dims, op);
  AK_CHECK(b.reduced > 0, op, ": cannot reduce over an empty dimension (input shape ", shape_str(x.shape()),
           ", dims ", shape_str(dims), ")");
  const DType dtype = b.data.dtype();
  Tensor maxima = empty({b.outer * b.inner}, dtype);  // (outer, inner)
  kernels::visit_dtype(dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, int64_t> || std::is_same_v<T, int32_t>) {
      amax_blocks<T>(b.data.data<T>(), maxima.data<T>(), b.outer, b.reduced, b.inner);
    }
  });
  Tensor result = maxima.reshape(keepdim ? b.keep_shape : b.out_shape);
  if (autograd::needs_grad({&x})) {
    autograd::record(op, result, {x}, [b, maxima, input_shape = x.shape()](const Tensor& g,
                                                                            const std::vector<bool>&) {
      Tensor gc = g.to(kFloat32).contiguous();
      Tensor dx = empty({b.outer * b.reduced * b.inner}, kFloat32);
      amax_backward_blocks(b.data.data<float>(), maxima.data<float>(), gc.data<float>(), dx.data<float>(),
                           b.outer, b.reduced, b.inner);
      if (b.permutation.empty()) return std::vector<Tensor>{dx.reshape(input_shape)};
      std::vector<int64_t> inverse(b.permutation.size());
      for (size_t i = 0; i < b.permutation.size(); ++i) inverse[b.permutation[i]] = static_cast<int64_t>(i);
      return std::vector<Tensor>{dx.reshape(b.permuted_shape).permute(inverse).contiguous()};
    });
  }
  return result;
}

Tensor argmax(const Tensor& x) {
  AK_CHECK(x.numel() > 0, "argmax: cannot reduce an empty tensor");
  NoGradGuard no_grad;
  return extreme_impl(x.reshape({-1}), {0}, false, true, "argmax").indices;
}
Tensor argmin(const Tensor& x) {
  AK_CHECK(x.numel() > 0, "argmin: cannot reduce an empty tensor");
  NoGradGuard no_grad;
  return extreme_impl(x.reshape({-1}), {0}, false, false, "argmin").indices;
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard no_grad;
  return extreme_impl(x, {wrap_dim(dim, x.dim(), "argmax")}, keepdim && x.dim() > 0, true, "argmax").indices;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard no_grad;
  return extreme_impl(x, {wrap_dim(dim, x.dim(), "argmin")}, keepdim && x.dim() > 0, false, "argmin").indices;
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  AK_CHECK(lead >= 0, "sum_to_shape: cannot sum ", shape_str(x.shape()), " to ", shape_str(shape));
  Dims dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] == 1 && x.size(d) != 1) {
      dims.push_back(d);
    } else {
      AK_CHECK(shape[d - lead] == x.size(d), "sum_to_shape: cannot sum ", shape_str(x.shape()),
               " to ", shape_str(shape));
    }
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace attnkit
