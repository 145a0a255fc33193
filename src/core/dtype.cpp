#include "attnkit/core/dtype.h"

namespace attnkit {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::BFloat16: return 2;
    case DType::Int64: return 8;
    case DType::Int32: return 4;
    case DType::Bool: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::BFloat16: return "bfloat16";
    case DType::Int64: return "int64";
    case DType::Int32: return "int32";
    case DType::Bool: return "bool";
  }
  return "?";
}

bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::BFloat16; }
bool is_integral(DType dtype) { return dtype == DType::Int64 || dtype == DType::Int32; }

}  // namespace attnkit
