#include "attnkit/nn/upsample.h"

#include "nn/python_repr.h"

namespace attnkit::nn {

namespace {

// One value as Python's int or float repr, several as a tuple: torch prints
// the argument as it was given.
template <typename T, typename Format>
std::string value_or_tuple(const std::vector<T>& values, Format format) {
  if (values.size() == 1) return format(values[0]);
  std::string out("(");
  for (size_t i = 0; i < values.size(); ++i) out.append(i ? ", " : "").append(format(values[i]));
  return out.append(")");
}

}  // namespace

std::string Upsample::extra_repr() const {
  std::string info;
  if (!options.scale_factor.empty()) {
    info.append("scale_factor=").append(value_or_tuple(options.scale_factor, python_float_repr));
  } else if (!options.size.empty()) {
    info.append("size=").append(value_or_tuple(options.size, [](int64_t v) { return std::to_string(v); }));
  } else {
    info.append("size=None");
  }
  return info.append(", mode='").append(options.mode).append("'");
}

}  // namespace attnkit::nn
