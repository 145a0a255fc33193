#pragma once
// Shared helpers for attnkit's C++ tests.
//
// Test inputs come from a small generator of our own (splitmix64 + Box-Muller),
// not from attnkit's RNG, so a broken RNG cannot hide a broken op. Values are
// read with our own stride walk, so a broken contiguous()/copy kernel cannot
// hide either. Comparisons return ::testing::AssertionResult with the first
// mismatches spelled out.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attnkit/attnkit.h"

namespace attnkit::testing {

// Deterministic test-side random numbers (splitmix64).
class TestRng {
 public:
  explicit TestRng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64();
  double uniform();  // [0, 1)
  double normal();   // standard normal (Box-Muller)
  // A uniformly random permutation of 0..n-1.
  std::vector<int64_t> permutation(int64_t n);

 private:
  uint64_t state_;
};

// ---- float32 inputs ----
Tensor randn_tensor(const Shape& shape, uint64_t seed, double scale = 1.0);
Tensor uniform_tensor(const Shape& shape, uint64_t seed, double low, double high);
// |x| >= margin everywhere, so kinks at 0 (abs, relu) stay far from x ± eps.
Tensor away_from_zero(const Shape& shape, uint64_t seed, double margin = 0.2);
// Shuffled values (k - n/2) * gap + shift for k = 0..n-1: no ties, no
// near-ties, so max/min/maximum pick a unique, eps-stable winner. Two tensors
// with the same gap and shifts differing by gap/2 never come within gap/2.
Tensor distinct_tensor(const Shape& shape, uint64_t seed, double gap = 0.05, double shift = 0.0);
// Marks t as a leaf that requires grad and returns it.
Tensor leaf(Tensor t);
// An int64 (rows, columns) tensor of token ids, row by row (rows of equal length).
Tensor id_matrix(const std::vector<std::vector<int64_t>>& rows);

// ---- reading values (any dtype, any strides), row-major ----
std::vector<double> values(const Tensor& t);
std::vector<int64_t> unravel(int64_t linear, const Shape& shape);
// Element offset (from data_ptr) of the row-major `linear`-th element.
int64_t element_offset(const Tensor& t, int64_t linear);

// ---- comparisons (NaN equals NaN, same-signed infinities are equal) ----
::testing::AssertionResult all_close(const Tensor& actual, const std::vector<double>& expected,
                                     double atol = 1e-5, double rtol = 1e-5);
// Also checks that the shapes match.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                     double atol = 1e-5, double rtol = 1e-5);

// ---- errors ----
// Succeeds when `body` throws attnkit::Error whose message contains `needle`.
::testing::AssertionResult throws_error_naming(const std::function<void()>& body,
                                               const std::string& needle);

// Non-contiguous layouts for testing that ops honour strides. A view of
// `shape` in `layout` is made from a contiguous base of base_shape(...):
//   Transposed: base has the last two dims swapped; view = base.transpose(-2, -1)
//               (tensors with fewer than 2 dims fall back to Strided);
//   Strided:    base's last dim is 2n + 1; view = slice(last, 1, 2n + 1, 2)
//               (a step and a nonzero offset; 0-d tensors stay contiguous).
enum class Layout { Contiguous, Transposed, Strided };
const char* layout_name(Layout layout);
Shape base_shape(const Shape& shape, Layout layout);
Tensor layout_view(const Tensor& base, const Shape& shape, Layout layout);
// A tensor with the values of `values` (contiguous) laid out as `layout`.
Tensor relayout(const Tensor& values, Layout layout);

// Broadcast reference for binary elementwise ops: out[i] = f(a[..], b[..]).
std::vector<double> broadcast_reference(const Tensor& a, const Tensor& b,
                                        const std::function<double(double, double)>& f,
                                        Shape* out_shape = nullptr);

// Restores attnkit's thread count when it goes out of scope.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(get_num_threads()) {}
  ~ThreadCountGuard() { set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

}  // namespace attnkit::testing
