#pragma once
// Numbers spelled as Python's repr spells them, so a module's extra_repr reads
// exactly as its torch namesake's: 2.0, 0.1, 1e-05, 0.0001.

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace attnkit::nn {

inline std::string python_float_repr(double v) {
  if (v != v) return "nan";
  if (v == 1.0 / 0.0) return "inf";
  if (v == -1.0 / 0.0) return "-inf";
  // The shortest digits that round-trip, as Python chooses them.
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string sci(buf, end);  // [-]d[.ddd]e±XX
  const size_t e = sci.find('e');
  const int exponent = std::atoi(sci.c_str() + e + 1);
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  // Python writes fixed notation for exponents in [-4, 16), scientific outside.
  // (Built by appending: GCC 12 misreports `"literal" + std::string` as an overlapping memcpy.)
  std::string out(negative ? "-" : "");
  if (exponent >= -4 && exponent < 16) {
    const size_t whole = static_cast<size_t>(exponent + 1);
    if (exponent < 0) {
      out.append("0.").append(static_cast<size_t>(-exponent - 1), '0').append(digits);
    } else if (whole >= digits.size()) {
      out.append(digits).append(whole - digits.size(), '0').append(".0");
    } else {
      out.append(digits, 0, whole).append(".").append(digits, whole);
    }
  } else {
    out.append(digits, 0, 1);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    char tail[16];
    std::snprintf(tail, sizeof tail, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out.append(tail);
  }
  return out;
}

}  // namespace attnkit::nn
