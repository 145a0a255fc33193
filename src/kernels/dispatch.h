#pragma once
// Compile-time dispatch on a run-time dtype, and value conversion between the
// element types (bfloat16 converts through float).

#include <limits>
#include <type_traits>

#include "attnkit/core/dtype.h"
#include "attnkit/core/error.h"

namespace attnkit::kernels {

// Calls f.template operator()<T>() with T the C++ type of `dtype`.
template <typename F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: return f.template operator()<float>();
    case DType::BFloat16: return f.template operator()<BFloat16>();
    case DType::Int64: return f.template operator()<int64_t>();
    case DType::Int32: return f.template operator()<int32_t>();
    case DType::Bool: return f.template operator()<bool>();
  }
  throw Error("internal error: unknown dtype");
}

template <typename To, typename From>
inline To cast_value(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (std::is_same_v<From, BFloat16>) {
    return cast_value<To>(bf16_to_float(value));
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return float_to_bf16(static_cast<float>(value));
  } else if constexpr (std::is_same_v<To, bool>) {
    return value != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    // Out of range and NaN are undefined behaviour for a plain cast; give the
    // "integer indefinite" value x86 itself produces (the minimum), as PyTorch does.
    constexpr double kLow = static_cast<double>(std::numeric_limits<To>::min());
    constexpr double kHigh = -kLow;  // 2^(bits-1): first value past the maximum
    if (!(value >= kLow && value < kHigh)) return std::numeric_limits<To>::min();
    return static_cast<To>(value);
  } else {
    return static_cast<To>(value);
  }
}

}  // namespace attnkit::kernels
