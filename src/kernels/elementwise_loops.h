#pragma once
// Elementwise loops over strided operands of one shape (already broadcast by
// expand). The contiguous and scalar-broadcast cases get their own branches
// so the compiler vectorises them; the general case walks the strides.

#include "kernels/strided_loop.h"

namespace attnkit::kernels {

// out[i] = f(x[i]); out contiguous.
template <typename In, typename Out, typename F>
void unary_map(const Tensor& out, const Tensor& x, F f) {
  Out* o = static_cast<Out*>(out.data_ptr());
  const In* in = static_cast<const In*>(x.data_ptr());
  for_each_row<2>(out.shape(), {out.strides(), x.strides()},
                  [&](std::array<int64_t, 2> base, int64_t n, std::array<int64_t, 2> step) {
                    Out* po = o + base[0];
                    const In* px = in + base[1];
                    if (step[1] == 1) {
                      for (int64_t i = 0; i < n; ++i) po[i] = f(px[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) po[i] = f(px[i * step[1]]);
                    }
                  });
}

// out[i] = f(a[i], b[i]); out contiguous; a, b expanded to out's shape.
template <typename In, typename Out, typename F>
void binary_map(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  Out* o = static_cast<Out*>(out.data_ptr());
  const In* pa = static_cast<const In*>(a.data_ptr());
  const In* pb = static_cast<const In*>(b.data_ptr());
  for_each_row<3>(out.shape(), {out.strides(), a.strides(), b.strides()},
                  [&](std::array<int64_t, 3> base, int64_t n, std::array<int64_t, 3> step) {
                    Out* po = o + base[0];
                    const In* x = pa + base[1];
                    const In* y = pb + base[2];
                    if (step[1] == 1 && step[2] == 1) {
                      for (int64_t i = 0; i < n; ++i) po[i] = f(x[i], y[i]);
                    } else if (step[1] == 1 && step[2] == 0) {
                      const In s = y[0];
                      for (int64_t i = 0; i < n; ++i) po[i] = f(x[i], s);
                    } else if (step[1] == 0 && step[2] == 1) {
                      const In s = x[0];
                      for (int64_t i = 0; i < n; ++i) po[i] = f(s, y[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) po[i] = f(x[i * step[1]], y[i * step[2]]);
                    }
                  });
}

// out[i] = f(a[i], b[i], c[i]) with per-operand element types.
template <typename A, typename B, typename C, typename Out, typename F>
void ternary_map(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  Out* o = static_cast<Out*>(out.data_ptr());
  const A* pa = static_cast<const A*>(a.data_ptr());
  const B* pb = static_cast<const B*>(b.data_ptr());
  const C* pc = static_cast<const C*>(c.data_ptr());
  for_each_row<4>(out.shape(), {out.strides(), a.strides(), b.strides(), c.strides()},
                  [&](std::array<int64_t, 4> base, int64_t n, std::array<int64_t, 4> step) {
                    Out* po = o + base[0];
                    const A* x = pa + base[1];
                    const B* y = pb + base[2];
                    const C* z = pc + base[3];
                    if (step[1] == 1 && step[2] == 1 && step[3] == 1) {
                      for (int64_t i = 0; i < n; ++i) po[i] = f(x[i], y[i], z[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i)
                        po[i] = f(x[i * step[1]], y[i * step[2]], z[i * step[3]]);
                    }
                  });
}

}  // namespace attnkit::kernels
