#include "attnkit/nn/pooling.h"

namespace attnkit::nn {

namespace {

const char* flag(bool b) { return b ? "True" : "False"; }

}  // namespace

MaxPool2d::MaxPool2d(IntPair kernel, std::optional<IntPair> stride_, IntPair padding_, IntPair dilation_,
                     bool return_indices_, bool ceil_mode_)
    : kernel_size(kernel),
      stride(stride_.value_or(kernel)),
      padding(padding_),
      dilation(dilation_),
      return_indices(return_indices_),
      ceil_mode(ceil_mode_) {}

Tensor MaxPool2d::forward(const Tensor& x) const {
  return max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
}

ValuesIndices MaxPool2d::forward_with_indices(const Tensor& x) const {
  return max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + kernel_size.repr() + ", stride=" + stride.repr() + ", padding=" + padding.repr() +
         ", dilation=" + dilation.repr() + ", ceil_mode=" + flag(ceil_mode);
}

AvgPool2d::AvgPool2d(IntPair kernel, std::optional<IntPair> stride_, IntPair padding_, bool ceil_mode_,
                     bool count_include_pad_, std::optional<int64_t> divisor_override_)
    : kernel_size(kernel),
      stride(stride_.value_or(kernel)),
      padding(padding_),
      ceil_mode(ceil_mode_),
      count_include_pad(count_include_pad_),
      divisor_override(divisor_override_) {}

Tensor AvgPool2d::forward(const Tensor& x) const {
  return avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + kernel_size.repr() + ", stride=" + stride.repr() + ", padding=" + padding.repr();
}

}  // namespace attnkit::nn
