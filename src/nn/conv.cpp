#include "attnkit/nn/conv.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "attnkit/core/error.h"
#include "attnkit/nn/init.h"
#include "attnkit/ops/join.h"

namespace attnkit::nn {

namespace {

std::string tuple_str(const std::vector<int64_t>& sizes) {
  std::ostringstream out;  // Python's tuple: (3,) or (3, 3)
  out << "(";
  for (size_t i = 0; i < sizes.size(); ++i) out << (i ? ", " : "") << sizes[i];
  out << (sizes.size() == 1 ? ",)" : ")");
  return out.str();
}

bool all_equal(const std::vector<int64_t>& sizes, int64_t value) {
  return std::all_of(sizes.begin(), sizes.end(), [value](int64_t s) { return s == value; });
}

// torch.nn.functional.pad along one dim, for the non-zero padding modes;
// built from views and cat, so it is differentiable as it stands.
Tensor pad_dim(const Tensor& x, int64_t dim, PaddingPair pad, const std::string& mode, const char* layer) {
  if (pad.begin == 0 && pad.end == 0) return x;
  const int64_t n = x.size(dim);
  std::vector<Tensor> pieces;
  if (mode == "reflect") {
    // The border element is not repeated: [a b c d] padded by 2 is [c b | a b c d | c b].
    AK_CHECK(pad.begin < n && pad.end < n, layer, ": padding_mode='reflect' needs padding smaller than the input, got ",
             "padding (", pad.begin, ", ", pad.end, ") for size ", n, " at dim ", dim, " of input of shape ",
             shape_str(x.shape()));
    for (int64_t i = pad.begin; i >= 1; --i) pieces.push_back(x.narrow(dim, i, 1));
    pieces.push_back(x);
    for (int64_t i = 1; i <= pad.end; ++i) pieces.push_back(x.narrow(dim, n - 1 - i, 1));
  } else if (mode == "replicate") {
    AK_CHECK(n > 0, layer, ": padding_mode='replicate' needs a non-empty input, got shape ", shape_str(x.shape()));
    Shape border = x.shape();
    if (pad.begin > 0) {
      border[dim] = pad.begin;
      pieces.push_back(x.narrow(dim, 0, 1).expand(border));
    }
    pieces.push_back(x);
    if (pad.end > 0) {
      border[dim] = pad.end;
      pieces.push_back(x.narrow(dim, n - 1, 1).expand(border));
    }
  } else {  // circular: the input wraps around, at most once
    AK_CHECK(pad.begin <= n && pad.end <= n, layer,
             ": padding_mode='circular' needs padding no larger than the input, got padding (", pad.begin, ", ",
             pad.end, ") for size ", n, " at dim ", dim, " of input of shape ", shape_str(x.shape()));
    if (pad.begin > 0) pieces.push_back(x.narrow(dim, n - pad.begin, pad.begin));
    pieces.push_back(x);
    if (pad.end > 0) pieces.push_back(x.narrow(dim, 0, pad.end));
  }
  return cat(pieces, dim);
}

}  // namespace

ConvNd::ConvNd(const ConvOptions& o, size_t dims, const char* layer, Generator* generator)
    : in_channels(o.in_channels),
      out_channels(o.out_channels),
      groups(o.groups),
      padding_mode(o.padding_mode),
      dims_(dims),
      layer_(layer),
      padding_option_(o.padding) {
  AK_CHECK(in_channels > 0 && out_channels > 0, layer, ": in_channels and out_channels must be positive, got ",
           in_channels, " and ", out_channels);
  AK_CHECK(groups > 0, layer, ": groups must be positive, got ", groups);
  AK_CHECK(in_channels % groups == 0, layer, ": in_channels=", in_channels, " must be divisible by groups=", groups);
  AK_CHECK(out_channels % groups == 0, layer, ": out_channels=", out_channels, " must be divisible by groups=",
           groups);
  AK_CHECK(padding_mode == "zeros" || padding_mode == "reflect" || padding_mode == "replicate" ||
               padding_mode == "circular",
           layer, ": padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got '", padding_mode, "'");
  kernel_size = o.kernel_size.expand(dims, layer, "kernel_size");
  AK_CHECK(std::all_of(kernel_size.begin(), kernel_size.end(), [](int64_t k) { return k > 0; }), layer,
           ": kernel_size must be positive, got ", tuple_str(kernel_size));
  stride = o.stride.expand(dims, layer, "stride");
  dilation = o.dilation.expand(dims, layer, "dilation");
  // Validates the mode string, "same" with stride 1, signs.
  const std::vector<PaddingPair> amounts = conv_padding_amounts(o.padding, kernel_size, stride, dilation, layer);
  if (o.padding.is_mode()) {
    padding_string = o.padding.mode();
  } else {
    padding = o.padding.sizes().expand(dims, layer, "padding");
  }
  if (padding_mode != "zeros") mode_padding_ = amounts;

  Shape weight_shape = {out_channels, in_channels / groups};
  weight_shape.insert(weight_shape.end(), kernel_size.begin(), kernel_size.end());
  weight = register_parameter("weight", empty(weight_shape));
  init::kaiming_uniform_(weight, std::sqrt(5.0), generator);
  if (o.bias) {
    bias = register_parameter("bias", empty({out_channels}));
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(weight).in));
    init::uniform_(bias, -bound, bound, generator);
  } else {
    register_parameter("bias", Tensor());
  }
}

Tensor ConvNd::forward(const Tensor& input) const {
  const int64_t d = static_cast<int64_t>(dims_);
  AK_CHECK(input.defined() && (input.dim() == d + 1 || input.dim() == d + 2), layer_, ": expected a ", d + 1,
           "-D (unbatched) or ", d + 2, "-D (batched) input, got shape ",
           input.defined() ? shape_str(input.shape()) : std::string("nothing"));
  ConvFuncOptions options{.stride = stride, .padding = padding_option_, .dilation = dilation, .groups = groups};
  if (padding_mode == "zeros") {
    return dims_ == 1 ? conv1d(input, weight, bias, options) : conv2d(input, weight, bias, options);
  }
  Tensor padded = input;
  for (int64_t i = 0; i < d; ++i) {
    padded = pad_dim(padded, input.dim() - d + i, mode_padding_[i], padding_mode, layer_);
  }
  options.padding = 0;
  return dims_ == 1 ? conv1d(padded, weight, bias, options) : conv2d(padded, weight, bias, options);
}

std::string ConvNd::extra_repr() const {
  // torch's _ConvNd.extra_repr: options shown only when not at their defaults.
  std::ostringstream out;
  out << in_channels << ", " << out_channels << ", kernel_size=" << tuple_str(kernel_size)
      << ", stride=" << tuple_str(stride);
  if (!padding_string.empty()) {
    out << ", padding=" << padding_string;
  } else if (!all_equal(padding, 0)) {
    out << ", padding=" << tuple_str(padding);
  }
  if (!all_equal(dilation, 1)) out << ", dilation=" << tuple_str(dilation);
  if (groups != 1) out << ", groups=" << groups;
  if (!bias.defined()) out << ", bias=False";
  if (padding_mode != "zeros") out << ", padding_mode=" << padding_mode;
  return out.str();
}

}  // namespace attnkit::nn
