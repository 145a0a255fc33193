#include "attnkit/io/npy.h"

#include <cstdint>

#include "attnkit/core/error.h"
#include "attnkit/io/atomic_file.h"

namespace attnkit::io {

namespace {

const char* descr_of(DType dtype) {
  switch (dtype) {
    case kFloat32: return "<f4";
    case kInt64: return "<i8";
    case kInt32: return "<i4";
    case kBool: return "|b1";
    default: throw ValueError(std::string("save_npy: dtype ") + std::string(dtype_name(dtype)) +
                              " has no .npy form (float32, int64, int32, bool; bfloat16 is saved as float32)");
  }
}

}  // namespace

void save_npy(const std::string& path, const Tensor& tensor) {
  AK_CHECK(tensor.defined(), "save_npy: no tensor to save to ", path);
  // NumPy has no bfloat16: it goes out widened, exactly.
  const Tensor data = (tensor.dtype() == kBFloat16 ? tensor.to(kFloat32) : tensor).contiguous();
  const std::string descr = descr_of(data.dtype());
  std::string shape = "(";
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ", ";
  if (tensor.dim() > 1) shape.resize(shape.size() - 2);   // "(2, 3)"; a 1-d shape keeps its comma: "(5,)"
  else if (tensor.dim() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + length (2) + header + '\n', padded to 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  const size_t bytes = static_cast<size_t>(data.numel()) * dtype_size(data.dtype());
  write_file_atomically(path, [&](std::ostream& out) {
    out.write("\x93NUMPY\x01\x00", 8);
    const auto length = static_cast<uint16_t>(header.size());
    const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
    out.write(length_bytes, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(data.data_ptr()), static_cast<std::streamsize>(bytes));
  });
}

}  // namespace attnkit::io
