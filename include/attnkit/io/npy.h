#pragma once
// NumPy's .npy format (version 1.0): the magic "\x93NUMPY", a little-endian
// header length, a Python-literal header
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 384), }
// padded with spaces to a multiple of 64 bytes, then the data in C order.
// Written atomically (atomic_file.h); float32, int64, int32 and bool
// (bfloat16 is written as float32, which holds it exactly).
#include <string>

#include "attnkit/core/tensor.h"

namespace attnkit::io {

void save_npy(const std::string& path, const Tensor& tensor);

}  // namespace attnkit::io
