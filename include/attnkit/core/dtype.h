#pragma once
// Element types. float32 is the compute type; bfloat16 is a storage type that
// ops widen to float32; int64/int32 hold indices; bool holds masks.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace attnkit {

enum class DType : uint8_t { Float32, BFloat16, Int64, Int32, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kBFloat16 = DType::BFloat16;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kBool = DType::Bool;

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);  // "float32", "bfloat16", ...
bool is_floating(DType dtype);
bool is_integral(DType dtype);  // int64, int32 (not bool)

// bfloat16: the top 16 bits of an IEEE float32. Conversion rounds to nearest
// even, NaN stays NaN.
struct BFloat16 {
  uint16_t bits = 0;
};

inline float bf16_to_float(BFloat16 value) {
  uint32_t wide = static_cast<uint32_t>(value.bits) << 16;
  float out;
  std::memcpy(&out, &wide, sizeof(out));
  return out;
}

inline BFloat16 float_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return BFloat16{static_cast<uint16_t>((bits >> 16) | 0x40)};
  uint32_t rounding_bias = 0x7fffu + ((bits >> 16) & 1u);
  return BFloat16{static_cast<uint16_t>((bits + rounding_bias) >> 16)};
}

// The C++ type stored for each dtype.
template <DType D> struct dtype_traits;
template <> struct dtype_traits<DType::Float32> { using type = float; };
template <> struct dtype_traits<DType::BFloat16> { using type = BFloat16; };
template <> struct dtype_traits<DType::Int64> { using type = int64_t; };
template <> struct dtype_traits<DType::Int32> { using type = int32_t; };
template <> struct dtype_traits<DType::Bool> { using type = bool; };

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::BFloat16; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

}  // namespace attnkit
