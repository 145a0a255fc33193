// The fast grid sampler: bilinear and nearest on AVX2 + FMA.
//
// Work goes by output row (n, h). A row first turns its W_out grid locations
// into a "tap table", 8 pixels per step: where each pixel reads and with
// which weights. The channels then reuse the table, so the coordinate work
// (unnormalise, pad, floor, bounds) is paid once per pixel, not per channel.
// Steps go outside and channels inside, as in PyTorch's kernel: a step's
// table stays in registers, and the input lines the next step reads were
// read only C planes' worth of lines ago.
//
// Bilinear reads each pixel's two neighbours in a row as one 64-bit pair
// (x_l, x_l + 1): one load instead of two gathered floats. x_l is the west
// neighbour clamped into [0, W_in - 2], so the pair always lies inside the
// row; a pair element that is not a real neighbour (outside the input, or
// moved there by the clamp) has a zero mask and reads as 0. Steps whose
// elements are all real ("interior", most of them) skip the masks. Pairs of 4
// pixels fill a vector in the order {0, 1, 4, 5} (A) and {2, 3, 6, 7} (B),
// the order in which _mm256_hadd_ps of the weighted pairs returns pixels
// 0..7 in place. Inputs one pixel wide are padded to two columns first.
//
// Backward: the grid gradient needs Σ_c g_c·v_c at each of a pixel's 4
// neighbours (g the upstream gradient, v the input value), summed over the
// channels in registers and weighted once per step. The input gradient is
// scattered with scalar adds. Two rows of one image may scatter into the
// same input pixels, so with the input gradient wanted the threads split the
// work by image and, for small batches, by channel group (each group then
// keeps its own grid-gradient partial sums); without it, by row.
#include "kernels/grid_sample.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/grid_sample_reference.h"
#include "kernels/parallel_tasks.h"

namespace attnkit::kernels {

namespace {

#define AK_AVX2 __attribute__((target("avx2,fma"))) inline

constexpr int64_t kLanes = 8;  // output pixels per vector step
// Rows handed to a thread at a time (consecutive rows share input lines).
constexpr int kRowsPerChunk = 8;

// ---- the geometry shared by all rows -----------------------------------------

struct Axis {
  int64_t size;
  float scale;       // unnormalisation: d(pixel coordinate) / d(grid value)
  float shift;       // coordinate = (g + 1) * scale - shift
  float max_val;     // size - 1
  float low;         // reflection: the mirror lines are low and low + span
  float twice_span;
  bool no_span;      // align_corners with size 1: every reflection gives 0

  Axis(int64_t n, bool align_corners)
      : size(n),
        scale(align_corners ? static_cast<float>(n - 1) / 2 : static_cast<float>(n) / 2),
        shift(align_corners ? 0.0f : 0.5f),
        max_val(static_cast<float>(n - 1)),
        low(align_corners ? 0.0f : -0.5f),
        twice_span(align_corners ? static_cast<float>(n - 1) * 2 : static_cast<float>(n) * 2),
        no_span(align_corners && n <= 1) {}
};

// Passed by value to the vector code: a copy cannot alias the tables and
// outputs it writes, so its fields stay in registers across those stores.
struct Geometry {
  Axis x, y;
  GridSamplePadding padding;
  int64_t stride;  // row stride of the planes read (W_in, or 2 for padded one-column inputs)
  int64_t in_plane, out_plane;
};

// ---- source coordinates, 8 at a time -------------------------------------------

// Hides v from the compiler's contraction of a * b + c into an FMA, so the
// products below round as PyTorch's (and the reference's) do; otherwise a
// coordinate that lands on a whole pixel could floor to the other side.
AK_AVX2 __m256 rounded(__m256 v) {
  __asm__("" : "+x"(v));
  return v;
}

// The source coordinates of grid values g along one axis, padding applied,
// and (when d is not null) d(coordinate)/dg. A NaN or infinite coordinate
// stays so with zeros padding and clamps to 0 with zero derivative otherwise
// (see grid_sample.h).
AK_AVX2 __m256 source_coords(__m256 g, const Axis& a, GridSamplePadding padding, __m256* d) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 scale = _mm256_set1_ps(a.scale);
  __m256 v = rounded(_mm256_mul_ps(_mm256_add_ps(g, _mm256_set1_ps(1.0f)), scale));
  if (a.shift != 0) v = _mm256_sub_ps(v, _mm256_set1_ps(a.shift));
  if (padding == GridSamplePadding::Zeros) {
    if (d) *d = scale;
    return v;
  }
  __m256 slope = scale;
  if (padding == GridSamplePadding::Reflection) {
    if (a.no_span) {
      if (d) *d = zero;
      return zero;
    }
    const __m256 low = _mm256_set1_ps(a.low), twice_span = _mm256_set1_ps(a.twice_span);
    const __m256 t = _mm256_sub_ps(v, low);
    const __m256 negative = _mm256_cmp_ps(t, zero, _CMP_LT_OQ);
    const __m256 abs_t = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), t);
    const __m256 flips = _mm256_round_ps(_mm256_div_ps(abs_t, twice_span), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 extra = _mm256_sub_ps(abs_t, rounded(_mm256_mul_ps(flips, twice_span)));
    const __m256 reflected = _mm256_sub_ps(twice_span, extra);
    const __m256 flip = _mm256_cmp_ps(extra, reflected, _CMP_GT_OQ);
    v = _mm256_add_ps(_mm256_blendv_ps(extra, reflected, flip), low);
    // The slope's sign flips with each mirror and with the |t| above.
    slope = _mm256_xor_ps(scale, _mm256_and_ps(_mm256_xor_ps(flip, negative), _mm256_set1_ps(-0.0f)));
  }
  const __m256 max_val = _mm256_set1_ps(a.max_val);
  // Borders count as outside for the derivative, as in PyTorch.
  const __m256 inside = _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_GT_OQ), _mm256_cmp_ps(v, max_val, _CMP_LT_OQ));
  if (d) *d = _mm256_and_ps(slope, inside);
  // max(v, 0) returns its second operand for NaN: NaN clamps to 0.
  return _mm256_min_ps(_mm256_max_ps(v, zero), max_val);
}

// x and y of 8 consecutive grid points (x0 y0 x1 y1 ...); n < 8 reads only n
// points and gives (0, 0), a valid location, for the rest.
AK_AVX2 void load_grid(const float* grid, int64_t n, __m256* x, __m256* y) {
  __m256 lo, hi;
  if (n >= kLanes) {
    lo = _mm256_loadu_ps(grid);
    hi = _mm256_loadu_ps(grid + 8);
  } else {
    alignas(32) float buffer[16] = {};
    std::memcpy(buffer, grid, sizeof(float) * 2 * n);
    lo = _mm256_load_ps(buffer);
    hi = _mm256_load_ps(buffer + 8);
  }
  // shuffle gives x0 x1 x4 x5 | x2 x3 x6 x7; the permute restores the order.
  *x = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
  *y = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

AK_AVX2 __m256 as_float_mask(__m256i m) { return _mm256_castsi256_ps(m); }

// Whole-numbered floats (any size, NaN) to int32 within [lo, hi]: NaN -> lo.
AK_AVX2 __m256i clamp_to_int(__m256 v, float lo, float hi) {
  return _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi)));
}

// ---- bilinear tap table ----------------------------------------------------------

// Per row, sized for the row rounded up to whole steps. Vectors of 8 floats
// per step, in the pair order of the file comment: [top A, top B, bottom A,
// bottom B]; each pair holds the elements at x_l and x_l + 1.
struct BilinearTable {
  std::vector<int32_t> top, bottom;      // (W_pad) offset of each pixel's top / bottom pair in the plane
  std::vector<float> weight;             // (W_pad / 8, 4, 8) interpolation weight of each pair element
  std::vector<float> mask;               // same layout: all ones where the element is a real neighbour
  std::vector<float> dx_weight, dy_weight;  // same layout: its weight in d out / d x and d out / d y
  std::vector<float> x_slope, y_slope;   // (W_pad) d(coordinate)/d(grid value)
  std::vector<uint8_t> interior;         // (W_pad / 8) every element of the step is a real neighbour

  void resize(int64_t width, bool backward) {
    const int64_t padded = (width + kLanes - 1) / kLanes * kLanes;
    interior.assign(padded / kLanes, 0);
    top.assign(padded, 0);
    bottom.assign(padded, 0);
    weight.assign(padded * 4, 0.0f);
    mask.assign(padded * 4, 0.0f);
    if (backward) {
      dx_weight.assign(padded * 4, 0.0f);
      dy_weight.assign(padded * 4, 0.0f);
      x_slope.assign(padded, 0.0f);
      y_slope.assign(padded, 0.0f);
    }
  }
};

AK_AVX2 __m256 blend_where(__m256 mask, __m256 if_true, __m256 if_false) { return _mm256_blendv_ps(if_false, if_true, mask); }

// Fills the table for one row of `width` grid points.
AK_AVX2 void bilinear_table(BilinearTable& t, const float* grid, int64_t width, Geometry g, bool backward) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256i one_i = _mm256_set1_epi32(1);
  const __m256i last_pair = _mm256_set1_epi32(static_cast<int32_t>(std::max<int64_t>(g.x.size - 2, 0)));
  const __m256i last_row = _mm256_set1_epi32(static_cast<int32_t>(g.y.size - 1));
  const __m256i zero_i = _mm256_setzero_si256();
  // One-pixel-wide inputs have no element x_l + 1.
  const __m256i has_second = g.x.size >= 2 ? _mm256_set1_epi32(-1) : zero_i;
  for (int64_t p = 0; p < width; p += kLanes) {
    __m256 gx, gy, x_slope, y_slope;
    load_grid(grid + 2 * p, width - p, &gx, &gy);
    const __m256 x = source_coords(gx, g.x, g.padding, backward ? &x_slope : nullptr);
    const __m256 y = source_coords(gy, g.y, g.padding, backward ? &y_slope : nullptr);
    const __m256 x_w = _mm256_floor_ps(x), y_n = _mm256_floor_ps(y);
    const __m256 w = _mm256_sub_ps(x, x_w), e = _mm256_sub_ps(one, w);
    const __m256 n = _mm256_sub_ps(y, y_n), s = _mm256_sub_ps(one, n);
    // Neighbour indices; far-away (and NaN) coordinates clamp to -2 or size,
    // where no neighbour is real.
    const __m256i xi = clamp_to_int(x_w, -2.0f, static_cast<float>(g.x.size));
    const __m256i yi = clamp_to_int(y_n, -2.0f, static_cast<float>(g.y.size));
    const __m256i xl = _mm256_min_epi32(_mm256_max_epi32(xi, zero_i), last_pair);
    const __m256i y_top = _mm256_min_epi32(_mm256_max_epi32(yi, zero_i), last_row);
    const __m256i y_bottom = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(yi, one_i), zero_i), last_row);
    // Pair element A (at x_l) is the west neighbour when x_w = x_l, the east
    // one when x_w + 1 = x_l; element B (x_l + 1) is west when x_w = x_l + 1,
    // east when x_w = x_l.
    const __m256 a_west = as_float_mask(_mm256_cmpeq_epi32(xi, xl));
    const __m256 a_east = as_float_mask(_mm256_cmpeq_epi32(_mm256_add_epi32(xi, one_i), xl));
    const __m256 b_west = as_float_mask(_mm256_and_si256(_mm256_cmpeq_epi32(xi, _mm256_add_epi32(xl, one_i)), has_second));
    const __m256 b_east = _mm256_and_ps(a_west, as_float_mask(has_second));
    const __m256 top_real = as_float_mask(_mm256_cmpeq_epi32(yi, y_top));
    const __m256 bottom_real = as_float_mask(_mm256_cmpeq_epi32(_mm256_add_epi32(yi, one_i), y_bottom));
    // x weight of each element: e for west, w for east (e when not real: the
    // value is masked to 0, but a NaN weight still makes the output NaN).
    const __m256 a_x = blend_where(a_east, w, e), b_x = blend_where(b_east, w, e);
    const __m256 a_mask = _mm256_or_ps(a_west, a_east), b_mask = _mm256_or_ps(b_west, b_east);

    const __m256i stride = _mm256_set1_epi32(static_cast<int32_t>(g.stride));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.top.data() + p),
                        _mm256_add_epi32(_mm256_mullo_epi32(y_top, stride), xl));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.bottom.data() + p),
                        _mm256_add_epi32(_mm256_mullo_epi32(y_bottom, stride), xl));
    // Interleave per-pixel (A, B) values into the pair order: unpacklo gives
    // pixels {0, 1, 4, 5}, unpackhi {2, 3, 6, 7}.
    const __m256 x_pairs_a = _mm256_unpacklo_ps(a_x, b_x), x_pairs_b = _mm256_unpackhi_ps(a_x, b_x);
    const __m256 s_a = _mm256_unpacklo_ps(s, s), s_b = _mm256_unpackhi_ps(s, s);
    const __m256 n_a = _mm256_unpacklo_ps(n, n), n_b = _mm256_unpackhi_ps(n, n);
    float* weight = t.weight.data() + 4 * p;
    _mm256_storeu_ps(weight, _mm256_mul_ps(s_a, x_pairs_a));
    _mm256_storeu_ps(weight + 8, _mm256_mul_ps(s_b, x_pairs_b));
    _mm256_storeu_ps(weight + 16, _mm256_mul_ps(n_a, x_pairs_a));
    _mm256_storeu_ps(weight + 24, _mm256_mul_ps(n_b, x_pairs_b));
    const __m256 m_a = _mm256_unpacklo_ps(a_mask, b_mask), m_b = _mm256_unpackhi_ps(a_mask, b_mask);
    const __m256 top_a = _mm256_unpacklo_ps(top_real, top_real), top_b = _mm256_unpackhi_ps(top_real, top_real);
    const __m256 bot_a = _mm256_unpacklo_ps(bottom_real, bottom_real);
    const __m256 bot_b = _mm256_unpackhi_ps(bottom_real, bottom_real);
    float* mask = t.mask.data() + 4 * p;
    const __m256 masks[4] = {_mm256_and_ps(m_a, top_a), _mm256_and_ps(m_b, top_b), _mm256_and_ps(m_a, bot_a),
                             _mm256_and_ps(m_b, bot_b)};
    for (int i = 0; i < 4; ++i) _mm256_storeu_ps(mask + 8 * i, masks[i]);
    const __m256 all = _mm256_and_ps(_mm256_and_ps(masks[0], masks[1]), _mm256_and_ps(masks[2], masks[3]));
    t.interior[p / kLanes] = _mm256_movemask_ps(all) == 0xFF;
    if (!backward) continue;
    // out = Σ v · x_weight · y_weight with x_weight = 1 - (x - x_w) (west) or
    // x - x_w (east), y_weight = 1 - (y - y_n) (top) or y - y_n (bottom):
    // d out/dx = Σ v · (∓1) · y_weight, d out/dy = Σ v · x_weight · (∓1).
    const __m256 minus_one = _mm256_set1_ps(-1.0f);
    const __m256 a_dx = _mm256_or_ps(_mm256_and_ps(a_east, one), _mm256_and_ps(a_west, minus_one));
    const __m256 b_dx = _mm256_or_ps(_mm256_and_ps(b_east, one), _mm256_and_ps(b_west, minus_one));
    const __m256 dx_a = _mm256_unpacklo_ps(a_dx, b_dx), dx_b = _mm256_unpackhi_ps(a_dx, b_dx);
    float* dx_weight = t.dx_weight.data() + 4 * p;
    _mm256_storeu_ps(dx_weight, _mm256_mul_ps(dx_a, s_a));
    _mm256_storeu_ps(dx_weight + 8, _mm256_mul_ps(dx_b, s_b));
    _mm256_storeu_ps(dx_weight + 16, _mm256_mul_ps(dx_a, n_a));
    _mm256_storeu_ps(dx_weight + 24, _mm256_mul_ps(dx_b, n_b));
    float* dy_weight = t.dy_weight.data() + 4 * p;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    _mm256_storeu_ps(dy_weight, _mm256_xor_ps(x_pairs_a, sign));
    _mm256_storeu_ps(dy_weight + 8, _mm256_xor_ps(x_pairs_b, sign));
    _mm256_storeu_ps(dy_weight + 16, x_pairs_a);
    _mm256_storeu_ps(dy_weight + 24, x_pairs_b);
    _mm256_storeu_ps(t.x_slope.data() + p, x_slope);
    _mm256_storeu_ps(t.y_slope.data() + p, y_slope);
  }
}

// Four 64-bit pairs at plane + offsets[i] for i = 0, 1 (low half) and 4, 5
// (high half): pixels {0, 1, 4, 5} of a step, or {2, 3, 6, 7} from offsets + 2.
AK_AVX2 __m256 load_pairs(const float* plane, const int32_t* offsets) {
  __m128 lo = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(plane + offsets[0])));
  lo = _mm_loadh_pi(lo, reinterpret_cast<const __m64*>(plane + offsets[1]));
  __m128 hi = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(plane + offsets[4])));
  hi = _mm_loadh_pi(hi, reinterpret_cast<const __m64*>(plane + offsets[5]));
  return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

// Four vectors in the table's layout: [top A, top B, bottom A, bottom B].
struct Quad {
  __m256 v[4];
};

AK_AVX2 Quad load_quad(const float* table) {
  return {{_mm256_loadu_ps(table), _mm256_loadu_ps(table + 8), _mm256_loadu_ps(table + 16),
           _mm256_loadu_ps(table + 24)}};
}

// The neighbour pairs of one step's 8 pixels in one plane. Interior steps
// (every element a real neighbour) read the bottom pairs one row below the
// top ones and need no mask.
template <bool kInterior>
AK_AVX2 Quad load_neighbours(const float* plane, const int32_t* top, const int32_t* bottom, int64_t stride,
                             const Quad& mask) {
  if constexpr (kInterior) {
    return {{load_pairs(plane, top), load_pairs(plane, top + 2), load_pairs(plane + stride, top),
             load_pairs(plane + stride, top + 2)}};
  } else {
    return {{_mm256_and_ps(load_pairs(plane, top), mask.v[0]), _mm256_and_ps(load_pairs(plane, top + 2), mask.v[1]),
             _mm256_and_ps(load_pairs(plane, bottom), mask.v[2]),
             _mm256_and_ps(load_pairs(plane, bottom + 2), mask.v[3])}};
  }
}

// Σ over each pixel's 4 elements of values · weights, pixels 0..7 in order.
AK_AVX2 __m256 weighted_sum(const Quad& v, const Quad& w) {
  const __m256 a = _mm256_fmadd_ps(v.v[2], w.v[2], _mm256_mul_ps(v.v[0], w.v[0]));
  const __m256 b = _mm256_fmadd_ps(v.v[3], w.v[3], _mm256_mul_ps(v.v[1], w.v[1]));
  return _mm256_hadd_ps(a, b);
}

// The lanes < n of a step at the end of a row.
AK_AVX2 __m256i lane_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AK_AVX2 void store_step(float* out, __m256 v, int64_t n) {
  if (n >= kLanes) {
    _mm256_storeu_ps(out, v);
  } else {
    _mm256_maskstore_ps(out, lane_mask(n), v);
  }
}

AK_AVX2 __m256 load_step(const float* in, int64_t n) {
  return n >= kLanes ? _mm256_loadu_ps(in) : _mm256_maskload_ps(in, lane_mask(n));
}

// The input lines a step some way ahead will read (its first and last
// pixels' pairs, top and bottom), requested now: rows of an image are
// usually not in L1/L2 yet, and a step has too few instructions for the
// out-of-order window to overlap its misses with the next steps' on its own.
struct Prefetch {
  static constexpr int64_t kSteps = 2;
  int32_t offsets[4];
  Prefetch(const BilinearTable& t, int64_t p) {
    const int64_t last = static_cast<int64_t>(t.top.size()) - 1;
    const int64_t first = std::min(p + kSteps * kLanes, last), end = std::min(first + kLanes - 1, last);
    offsets[0] = t.top[first];
    offsets[1] = t.top[end];
    offsets[2] = t.bottom[first];
    offsets[3] = t.bottom[end];
  }
  void issue(const float* plane) const {
    for (int32_t o : offsets) _mm_prefetch(reinterpret_cast<const char*>(plane + o), _MM_HINT_T0);
  }
};

// One step (8 pixels) of an output row, every channel. Steps go outside,
// channels inside: the step's table stays in registers, and the next step
// reads input lines this one read, only C planes' worth of lines ago (L1),
// where a row per channel would put them a whole row of all channels away.
template <bool kInterior>
AK_AVX2 void bilinear_forward_step(float* out, const float* input, const BilinearTable& t, Geometry g,
                                   int64_t channels, int64_t p, int64_t n) {
  const Quad w = load_quad(t.weight.data() + 4 * p);
  const Quad mask = load_quad(t.mask.data() + 4 * p);
  const int32_t* top = t.top.data() + p;
  const int32_t* bottom = t.bottom.data() + p;
  const Prefetch ahead(t, p);
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = input + c * g.in_plane;
    ahead.issue(plane);
    const Quad v = load_neighbours<kInterior>(plane, top, bottom, g.stride, mask);
    store_step(out + c * g.out_plane + p, weighted_sum(v, w), n);
  }
}

// One output row of every channel: out (C, H_out, W_out) of one image, at the row.
AK_AVX2 void bilinear_forward_row(float* out, const float* input, const BilinearTable& t, Geometry g,
                                  int64_t channels, int64_t width) {
  for (int64_t p = 0; p < width; p += kLanes) {
    const int64_t n = std::min(kLanes, width - p);
    if (t.interior[p / kLanes]) {
      bilinear_forward_step<true>(out, input, t, g, channels, p, n);
    } else {
      bilinear_forward_step<false>(out, input, t, g, channels, p, n);
    }
  }
}

// Adds 4 pair vectors (table layout) into a plane at the pixels' pair
// offsets, for the first n pixels. Consecutive pixels usually share a
// neighbour (pixel k's x_l + 1 is pixel k + 1's x_l), and an add to memory
// waits for the previous store to the same float; so the adds go element by
// element (all x_l of the step, then all x_l + 1), which puts 8 independent
// adds between two to one address.
AK_AVX2 void scatter_pairs(float* plane, const int32_t* top, const int32_t* bottom, const Quad& v, int64_t n) {
  // Even lanes of the (A, B) pair vectors are the x_l elements, odd lanes the
  // x_l + 1 ones; this shuffle returns them in pixel order 0..7.
  alignas(32) float e[4][kLanes];
  _mm256_store_ps(e[0], _mm256_shuffle_ps(v.v[0], v.v[1], 0x88));
  _mm256_store_ps(e[1], _mm256_shuffle_ps(v.v[0], v.v[1], 0xDD));
  _mm256_store_ps(e[2], _mm256_shuffle_ps(v.v[2], v.v[3], 0x88));
  _mm256_store_ps(e[3], _mm256_shuffle_ps(v.v[2], v.v[3], 0xDD));
  for (int64_t k = 0; k < n; ++k) plane[top[k]] += e[0][k];
  for (int64_t k = 0; k < n; ++k) plane[top[k] + 1] += e[1][k];
  for (int64_t k = 0; k < n; ++k) plane[bottom[k]] += e[2][k];
  for (int64_t k = 0; k < n; ++k) plane[bottom[k] + 1] += e[3][k];
}

// Backward of one step over channels [c0, c1): scatters into grad_input
// (image base; kInput) and writes the grid gradient of these channels to
// grad_grid (the row's; kGrid). The grid gradient needs Σ_c g_c·v_c at each
// neighbour (g the upstream gradient, v the input): summed over the channels
// in registers, then weighted once.
//
// Every read of the step (upstream gradient, input) comes before its first
// scatter: planes are usually whole multiples of 4 KiB apart, so a read just
// after a store to the same offset of another plane would wait on the store
// (4K aliasing).
template <bool kInterior, bool kInput, bool kGrid>
AK_AVX2 void bilinear_backward_step(float* grad_input, float* grad_grid, const float* grad_out, const float* input,
                                    const BilinearTable& t, Geometry g, int64_t c0, int64_t c1, int64_t p,
                                    int64_t n, float* up_buffer) {
  const Quad mask = load_quad(t.mask.data() + 4 * p);
  const int32_t* top = t.top.data() + p;
  const int32_t* bottom = t.bottom.data() + p;
  const Prefetch ahead(t, p);
  __m256 sums[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t c = c0; c < c1; ++c) {
    const __m256 up = load_step(grad_out + c * g.out_plane + p, n);
    if constexpr (kInput) _mm256_storeu_ps(up_buffer + (c - c0) * kLanes, up);
    if constexpr (kGrid) {
      // The upstream gradient of each pixel, twice, in pair order.
      const __m256 up_a = _mm256_unpacklo_ps(up, up), up_b = _mm256_unpackhi_ps(up, up);
      const float* plane = input + c * g.in_plane;
      ahead.issue(plane);
      const Quad v = load_neighbours<kInterior>(plane, top, bottom, g.stride, mask);
      sums[0] = _mm256_fmadd_ps(up_a, v.v[0], sums[0]);
      sums[1] = _mm256_fmadd_ps(up_b, v.v[1], sums[1]);
      sums[2] = _mm256_fmadd_ps(up_a, v.v[2], sums[2]);
      sums[3] = _mm256_fmadd_ps(up_b, v.v[3], sums[3]);
    }
  }
  if constexpr (kGrid) {
    const Quad s{{sums[0], sums[1], sums[2], sums[3]}};
    const __m256 dx = _mm256_mul_ps(weighted_sum(s, load_quad(t.dx_weight.data() + 4 * p)),
                                    _mm256_loadu_ps(t.x_slope.data() + p));
    const __m256 dy = _mm256_mul_ps(weighted_sum(s, load_quad(t.dy_weight.data() + 4 * p)),
                                    _mm256_loadu_ps(t.y_slope.data() + p));
    // (dx, dy) per pixel: unpack gives pixels {0, 1, 4, 5} and {2, 3, 6, 7}.
    const __m256 lo = _mm256_unpacklo_ps(dx, dy), hi = _mm256_unpackhi_ps(dx, dy);
    store_step(grad_grid + 2 * p, _mm256_permute2f128_ps(lo, hi, 0x20), 2 * n);
    if (n > kLanes / 2) store_step(grad_grid + 2 * p + kLanes, _mm256_permute2f128_ps(lo, hi, 0x31), 2 * n - kLanes);
  }
  if constexpr (kInput) {
    const Quad w = load_quad(t.weight.data() + 4 * p);
    for (int64_t c = c0; c < c1; ++c) {
      const __m256 up = _mm256_loadu_ps(up_buffer + (c - c0) * kLanes);
      const __m256 up_a = _mm256_unpacklo_ps(up, up), up_b = _mm256_unpackhi_ps(up, up);
      Quad share{{_mm256_mul_ps(up_a, w.v[0]), _mm256_mul_ps(up_b, w.v[1]), _mm256_mul_ps(up_a, w.v[2]),
                  _mm256_mul_ps(up_b, w.v[3])}};
      if constexpr (!kInterior) {
        for (int i = 0; i < 4; ++i) share.v[i] = _mm256_and_ps(share.v[i], mask.v[i]);
      }
      float* grad_plane = grad_input + c * g.in_plane;
      ahead.issue(grad_plane);
      scatter_pairs(grad_plane, top, bottom, share, n);
    }
  }
}

template <bool kInput, bool kGrid>
AK_AVX2 void bilinear_backward_row(float* grad_input, float* grad_grid, const float* grad_out, const float* input,
                                   const BilinearTable& t, Geometry g, int64_t c0, int64_t c1,
                                   int64_t width) {
  // The step's upstream gradients, one vector per channel (see above).
  std::vector<float> up_buffer(kInput ? (c1 - c0) * kLanes : 0);
  for (int64_t p = 0; p < width; p += kLanes) {
    const int64_t n = std::min(kLanes, width - p);
    if (t.interior[p / kLanes]) {
      bilinear_backward_step<true, kInput, kGrid>(grad_input, grad_grid, grad_out, input, t, g, c0, c1, p, n,
                                                  up_buffer.data());
    } else {
      bilinear_backward_step<false, kInput, kGrid>(grad_input, grad_grid, grad_out, input, t, g, c0, c1, p, n,
                                                   up_buffer.data());
    }
  }
}

// ---- nearest -----------------------------------------------------------------------

struct NearestTable {
  std::vector<int32_t> offset;  // (W_pad) the nearest pixel, 0 where it is outside
  std::vector<int32_t> inside;  // (W_pad) all ones where it is inside the input
  void resize(int64_t width) {
    const int64_t padded = (width + kLanes - 1) / kLanes * kLanes;
    offset.assign(padded, 0);
    inside.assign(padded, 0);
  }
};

AK_AVX2 void nearest_table(NearestTable& t, const float* grid, int64_t width, Geometry g) {
  for (int64_t p = 0; p < width; p += kLanes) {
    __m256 gx, gy;
    load_grid(grid + 2 * p, width - p, &gx, &gy);
    const int rounding = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;  // ties to even, as nearbyint
    const __m256 x = _mm256_round_ps(source_coords(gx, g.x, g.padding, nullptr), rounding);
    const __m256 y = _mm256_round_ps(source_coords(gy, g.y, g.padding, nullptr), rounding);
    const __m256i xi = clamp_to_int(x, -1.0f, static_cast<float>(g.x.size));
    const __m256i yi = clamp_to_int(y, -1.0f, static_cast<float>(g.y.size));
    const __m256i minus_one = _mm256_set1_epi32(-1);
    const __m256i inside = _mm256_and_si256(
        _mm256_and_si256(_mm256_cmpgt_epi32(xi, minus_one),
                         _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(g.x.size)), xi)),
        _mm256_and_si256(_mm256_cmpgt_epi32(yi, minus_one),
                         _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(g.y.size)), yi)));
    const __m256i offset =
        _mm256_add_epi32(_mm256_mullo_epi32(yi, _mm256_set1_epi32(static_cast<int32_t>(g.stride))), xi);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.offset.data() + p), _mm256_and_si256(offset, inside));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.inside.data() + p), inside);
  }
}

AK_AVX2 void nearest_forward_row(float* out, const float* input, const NearestTable& t, Geometry g,
                                 int64_t channels, int64_t width) {
  for (int64_t p = 0; p < width; p += kLanes) {
    const int64_t n = std::min(kLanes, width - p);
    const __m256i offset = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.offset.data() + p));
    const __m256 inside = _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.inside.data() + p)));
    for (int64_t c = 0; c < channels; ++c) {
      const __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), input + c * g.in_plane, offset, inside, 4);
      store_step(out + c * g.out_plane + p, v, n);
    }
  }
}

void nearest_backward_row(float* grad_input, const float* grad_out, const NearestTable& t, const Geometry& g,
                          int64_t c0, int64_t c1, int64_t width) {
  for (int64_t p = 0; p < width; p += kLanes) {
    const int64_t n = std::min(kLanes, width - p);
    for (int64_t c = c0; c < c1; ++c) {
      float* grad_plane = grad_input + c * g.in_plane;
      const float* up = grad_out + c * g.out_plane + p;
      for (int64_t k = 0; k < n; ++k) {
        if (t.inside[p + k]) grad_plane[t.offset[p + k]] += up[k];
      }
    }
  }
}

// ---- driving the rows ----------------------------------------------------------------

Geometry make_geometry(const GridSampleArgs& a, int64_t stride) {
  return {Axis(a.in_width, a.align_corners), Axis(a.in_height, a.align_corners), a.padding, stride,
          a.in_height * stride, a.out_height * a.out_width};
}

void forward_avx2(float* output, const float* input, const GridSampleArgs& a, const Geometry& g) {
  const int64_t rows = a.batch * a.out_height;
  const int64_t width = a.out_width;
  const bool bilinear = a.mode == GridSampleMode::Bilinear;
#pragma omp parallel if (rows > 1 && a.batch * a.channels * g.out_plane > (1 << 14))
  {
    BilinearTable bt;
    NearestTable nt;
    if (bilinear) {
      bt.resize(width, false);
    } else {
      nt.resize(width);
    }
    // Dynamic chunks of rows: a thread slowed down (by another process on
    // its core) does fewer rows instead of making the others wait.
#pragma omp for schedule(dynamic, kRowsPerChunk)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / a.out_height, h = r % a.out_height;
      const float* grid_row = a.grid + (n * g.out_plane + h * width) * 2;
      const float* in = input + n * a.channels * g.in_plane;
      float* out = output + n * a.channels * g.out_plane + h * width;
      if (bilinear) {
        bilinear_table(bt, grid_row, width, g, false);
        bilinear_forward_row(out, in, bt, g, a.channels, width);
      } else {
        nearest_table(nt, grid_row, width, g);
        nearest_forward_row(out, in, nt, g, a.channels, width);
      }
    }
  }
}

// Per-thread scratch of the backward rows.
struct BackwardWork {
  BilinearTable bt;
  NearestTable nt;
};

// Backward over rows [h0, h1) of image n and channels [c0, c1): scatters into
// grad_input (may be null) and writes the grid gradient of those channels
// into grad_grid's rows (may be null).
void backward_block(BackwardWork& work, float* grad_input, float* grad_grid, const float* grad_output,
                    const float* input, const GridSampleArgs& a, const Geometry& g, int64_t n, int64_t h0,
                    int64_t h1, int64_t c0, int64_t c1) {
  const int64_t width = a.out_width;
  const float* in = input + n * a.channels * g.in_plane;
  float* gin = grad_input ? grad_input + n * a.channels * g.in_plane : nullptr;
  for (int64_t h = h0; h < h1; ++h) {
    const float* grid_row = a.grid + (n * g.out_plane + h * width) * 2;
    const float* up = grad_output + n * a.channels * g.out_plane + h * width;
    float* gg = grad_grid ? grad_grid + (n * g.out_plane + h * width) * 2 : nullptr;
    if (a.mode == GridSampleMode::Bilinear) {
      bilinear_table(work.bt, grid_row, width, g, gg != nullptr);
      if (gin && gg) {
        bilinear_backward_row<true, true>(gin, gg, up, in, work.bt, g, c0, c1, width);
      } else if (gin) {
        bilinear_backward_row<true, false>(gin, gg, up, in, work.bt, g, c0, c1, width);
      } else if (gg) {
        bilinear_backward_row<false, true>(gin, gg, up, in, work.bt, g, c0, c1, width);
      }
    } else {
      if (gin) {
        nearest_table(work.nt, grid_row, width, g);
        nearest_backward_row(gin, up, work.nt, g, c0, c1, width);
      }
      if (gg) std::memset(gg, 0, sizeof(float) * 2 * width);
    }
  }
}

void backward_avx2(float* grad_input, float* grad_grid, const float* grad_output, const float* input,
                   const GridSampleArgs& a, const Geometry& g) {
  const int threads = omp_get_max_threads();
  const bool parallel = a.batch * a.channels * g.out_plane > (1 << 14);
  if (!grad_input) {
    // Rows write disjoint grid-gradient rows: split by row.
    const int64_t rows = a.batch * a.out_height;
#pragma omp parallel if (parallel && rows > 1)
    {
      BackwardWork work;
      work.bt.resize(a.out_width, true);
#pragma omp for schedule(dynamic, kRowsPerChunk)
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t n = r / a.out_height, h = r % a.out_height;
        backward_block(work, nullptr, grad_grid, grad_output, input, a, g, n, h, h + 1, 0, a.channels);
      }
    }
    return;
  }
  // Tasks own whole (image, channel group) slices of grad_input. Small
  // batches split the channels so every thread has work; each group then
  // has its own grid-gradient sums, and groups after the first write them to
  // separate buffers.
  int64_t groups = 1;
  if (parallel && a.batch < 2 * threads) {
    groups = std::min<int64_t>(a.channels, (2 * threads + a.batch - 1) / a.batch);
  }
  const int64_t per_group = (a.channels + groups - 1) / groups;
  groups = (a.channels + per_group - 1) / per_group;
  const int64_t grid_numel = a.batch * g.out_plane * 2;
  std::vector<float> partial(grad_grid && groups > 1 ? (groups - 1) * grid_numel : 0);
  auto run = [&](int64_t task) {
    const int64_t n = task / groups, group = task % groups;
    const int64_t c_begin = group * per_group, c_end = std::min(a.channels, c_begin + per_group);
    float* grid_target =
        grad_grid == nullptr ? nullptr : group == 0 ? grad_grid : partial.data() + (group - 1) * grid_numel;
    BackwardWork work;  // a few KiB per task of a whole image
    if (a.mode == GridSampleMode::Bilinear) work.bt.resize(a.out_width, grad_grid != nullptr);
    if (a.mode == GridSampleMode::Nearest) work.nt.resize(a.out_width);
    std::memset(grad_input + (n * a.channels + c_begin) * g.in_plane, 0,
                sizeof(float) * (c_end - c_begin) * g.in_plane);
    backward_block(work, grad_input, grid_target, grad_output, input, a, g, n, 0, a.out_height, c_begin, c_end);
  };
  if (parallel) {
    parallel_tasks(a.batch * groups, run);
  } else {
    for (int64_t task = 0; task < a.batch * groups; ++task) run(task);
  }
  for (int64_t b = 1; grad_grid && b < groups; ++b) {
    const float* part = partial.data() + (b - 1) * grid_numel;
    for (int64_t i = 0; i < grid_numel; ++i) grad_grid[i] += part[i];
  }
}

// ---- plain fallbacks and one-column inputs ---------------------------------------------

// The reference, one image per task.
GridSampleArgs one_image(const GridSampleArgs& a, int64_t n) {
  GridSampleArgs b = a;
  b.batch = 1;
  b.input = a.input + n * a.channels * a.in_height * a.in_width;
  b.grid = a.grid + n * a.out_height * a.out_width * 2;
  return b;
}

// The tap tables hold int32 offsets within a plane.
bool use_reference(const GridSampleArgs& a) {
  return a.mode == GridSampleMode::Bicubic || active_isa() < Isa::Avx2 ||
         a.in_height * std::max<int64_t>(a.in_width, 2) > INT32_MAX;
}

// Bilinear pairs need two columns: one-column inputs are copied with a zero
// second column (never read with a nonzero mask).
std::vector<float> pad_to_two_columns(const float* input, int64_t planes_rows) {
  std::vector<float> padded(planes_rows * 2, 0.0f);
  for (int64_t i = 0; i < planes_rows; ++i) padded[2 * i] = input[i];
  return padded;
}

#undef AK_AVX2

}  // namespace

void grid_sample_forward(float* output, const GridSampleArgs& a) {
  if (a.batch * a.channels * a.out_height * a.out_width == 0) return;
  if (use_reference(a)) {
    const int64_t out_image = a.channels * a.out_height * a.out_width;
    parallel_tasks(a.batch, [&](int64_t n) { grid_sample_forward_reference(output + n * out_image, one_image(a, n)); });
    return;
  }
  if (a.mode == GridSampleMode::Bilinear && a.in_width == 1) {
    const std::vector<float> padded = pad_to_two_columns(a.input, a.batch * a.channels * a.in_height);
    forward_avx2(output, padded.data(), a, make_geometry(a, 2));
    return;
  }
  forward_avx2(output, a.input, a, make_geometry(a, a.in_width));
}

void grid_sample_backward(float* grad_input, float* grad_grid, const float* grad_output, const GridSampleArgs& a) {
  const int64_t in_numel = a.batch * a.channels * a.in_height * a.in_width;
  const int64_t grid_numel = a.batch * a.out_height * a.out_width * 2;
  if (a.batch * a.channels * a.out_height * a.out_width == 0) {
    if (grad_input) std::memset(grad_input, 0, sizeof(float) * in_numel);
    if (grad_grid) std::memset(grad_grid, 0, sizeof(float) * grid_numel);
    return;
  }
  if (use_reference(a)) {
    const int64_t in_image = a.channels * a.in_height * a.in_width;
    const int64_t out_image = a.channels * a.out_height * a.out_width;
    const int64_t grid_image = a.out_height * a.out_width * 2;
    parallel_tasks(a.batch, [&](int64_t n) {
      grid_sample_backward_reference(grad_input ? grad_input + n * in_image : nullptr,
                                     grad_grid ? grad_grid + n * grid_image : nullptr,
                                     grad_output + n * out_image, one_image(a, n));
    });
    return;
  }
  if (a.mode == GridSampleMode::Bilinear && a.in_width == 1) {
    const int64_t rows = a.batch * a.channels * a.in_height;
    const std::vector<float> padded = pad_to_two_columns(a.input, rows);
    std::vector<float> padded_grad(grad_input ? rows * 2 : 0);
    backward_avx2(grad_input ? padded_grad.data() : nullptr, grad_grid, grad_output, padded.data(), a,
                  make_geometry(a, 2));
    if (grad_input) {
      for (int64_t i = 0; i < rows; ++i) grad_input[i] = padded_grad[2 * i];
    }
    return;
  }
  backward_avx2(grad_input, grad_grid, grad_output, a.input, a, make_geometry(a, a.in_width));
}

}  // namespace attnkit::kernels
