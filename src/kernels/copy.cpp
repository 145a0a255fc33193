#include "kernels/copy.h"

#include "kernels/dispatch.h"
#include "kernels/strided_loop.h"

namespace attnkit::kernels {

void copy_into(const Tensor& dst, const Tensor& src) {
  visit_dtype(dst.dtype(), [&]<typename To>() {
    visit_dtype(src.dtype(), [&]<typename From>() {
      To* out = static_cast<To*>(dst.data_ptr());
      const From* in = static_cast<const From*>(src.data_ptr());
      for_each_row<2>(dst.shape(), {dst.strides(), src.strides()},
                      [&](std::array<int64_t, 2> base, int64_t n, std::array<int64_t, 2> step) {
                        To* o = out + base[0];
                        const From* x = in + base[1];
                        if (step[0] == 1 && step[1] == 1) {
                          for (int64_t i = 0; i < n; ++i) o[i] = cast_value<To>(x[i]);
                        } else {
                          for (int64_t i = 0; i < n; ++i) o[i * step[0]] = cast_value<To>(x[i * step[1]]);
                        }
                      });
    });
  });
}

void fill(const Tensor& dst, double value) {
  visit_dtype(dst.dtype(), [&]<typename T>() {
    T* out = static_cast<T*>(dst.data_ptr());
    const T v = cast_value<T>(value);
    for_each_row<1>(dst.shape(), {dst.strides()},
                    [&](std::array<int64_t, 1> base, int64_t n, std::array<int64_t, 1> step) {
                      for (int64_t i = 0; i < n; ++i) out[base[0] + i * step[0]] = v;
                    });
  });
}

}  // namespace attnkit::kernels
