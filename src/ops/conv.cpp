#include "attnkit/ops/conv.h"

#include <algorithm>
#include <sstream>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "kernels/conv_dnnl.h"

namespace attnkit {

namespace {

std::string sizes_str(const std::vector<int64_t>& sizes) {
  std::ostringstream out;  // torch's tuple: (3,) or (3, 3)
  out << "(";
  for (size_t i = 0; i < sizes.size(); ++i) out << (i ? ", " : "") << sizes[i];
  out << (sizes.size() == 1 ? ",)" : ")");
  return out.str();
}

std::string shape_or_nothing(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : "nothing"; }

// Strides oneDNN can describe: none negative, none zero on a dim of size > 1
// (an expanded tensor). Anything else is copied to contiguous first.
Tensor describable(const Tensor& t) {
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) > 1 && t.stride(d) <= 0) return t.contiguous();
  }
  return t;
}

// An (N, C, L) or (N, C, H, W) float32 tensor as the kernel's (N, C, H, W) operand.
kernels::ActivationOperand operand(const Tensor& t) {
  kernels::ActivationOperand a;
  a.data = t.data<float>();
  if (t.dim() == 4) {
    std::copy(t.strides().begin(), t.strides().end(), a.strides.begin());
  } else {  // 1-D as height 1; the height's stride is arbitrary (the kernel normalises it)
    a.strides = {t.stride(0), t.stride(1), t.stride(2) * t.size(2), t.stride(2)};
  }
  return a;
}

// The validated geometry of one call, spatial dims last-aligned into (H, W).
struct ConvCall {
  kernels::ConvParams params;
  Shape out_shape;  // (N, C_out, spatial...)
};

ConvCall check_conv(const Tensor& input, const Tensor& weight, const Tensor& bias,
                    const ConvFuncOptions& options, size_t dims, const char* op) {
  const int64_t d = static_cast<int64_t>(dims);
  AK_CHECK(weight.defined() && weight.dim() == d + 2, op, ": weight must be ", d + 2, "-D (out_channels, ",
           "in_channels / groups", d == 1 ? ", kW" : ", kH, kW", "), got shape ", shape_or_nothing(weight));
  AK_CHECK(input.defined() && input.dim() == d + 2, op, ": expected a ", d + 2, "-D (batched) input, got shape ",
           shape_or_nothing(input));
  for (const Tensor* t : {&input, &weight, &bias}) {
    AK_CHECK(!t->defined() || is_floating(t->dtype()), op, ": expected floating point tensors, got ",
             dtype_name(t->dtype()));
  }
  AK_CHECK(weight.size(0) > 0 && weight.size(1) > 0, op, ": weight of shape ", shape_str(weight.shape()),
           " has no ", weight.size(0) == 0 ? "output" : "input", " channels");
  const int64_t groups = options.groups;
  AK_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  const int64_t out_channels = weight.size(0), channels = input.size(1);
  AK_CHECK(out_channels % groups == 0, op, ": weight of shape ", shape_str(weight.shape()), " has ",
           out_channels, " output channels, which groups=", groups, " does not divide");
  AK_CHECK(channels % groups == 0, op, ": input of shape ", shape_str(input.shape()), " has ", channels,
           " channels, which groups=", groups, " does not divide");
  AK_CHECK(channels == weight.size(1) * groups, op, ": input of shape ", shape_str(input.shape()), " has ",
           channels, " channels, but weight of shape ", shape_str(weight.shape()), " with groups=", groups,
           " expects ", weight.size(1) * groups, " (weight.size(1) * groups)");
  AK_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_channels), op, ": bias must be (",
           out_channels, ") for ", out_channels, " output channels, got shape ", shape_or_nothing(bias));

  const std::vector<int64_t> stride = options.stride.expand(dims, op, "stride");
  const std::vector<int64_t> dilation = options.dilation.expand(dims, op, "dilation");
  std::vector<int64_t> kernel(weight.shape().end() - d, weight.shape().end());
  AK_CHECK(std::all_of(kernel.begin(), kernel.end(), [](int64_t k) { return k > 0; }), op, ": weight of shape ",
           shape_str(weight.shape()), " has an empty kernel ", sizes_str(kernel));
  const std::vector<PaddingPair> padding = conv_padding_amounts(options.padding, kernel, stride, dilation, op);

  ConvCall call;
  kernels::ConvParams& p = call.params;
  p.batch = input.size(0);
  p.in_channels = channels;
  p.out_channels = out_channels;
  p.groups = groups;
  call.out_shape = {p.batch, out_channels};
  std::vector<int64_t> spatial(input.shape().end() - d, input.shape().end()), padded(dims), extent(dims);
  for (size_t i = 0; i < dims; ++i) {
    padded[i] = spatial[i] + padding[i].begin + padding[i].end;
    extent[i] = dilation[i] * (kernel[i] - 1) + 1;
  }
  for (size_t i = 0; i < dims; ++i) {
    AK_CHECK(extent[i] <= padded[i], op, ": the kernel ", sizes_str(kernel), " with dilation ", sizes_str(dilation),
             " spans ", sizes_str(extent), ", larger than the padded input ", sizes_str(padded), " (input of shape ",
             shape_str(input.shape()), ")");
  }
  const size_t first = 2 - dims;  // a 1-D convolution is the 2-D one of height 1
  for (size_t i = 0; i < dims; ++i) {
    p.input[first + i] = spatial[i];
    p.kernel[first + i] = kernel[i];
    p.stride[first + i] = stride[i];
    p.dilation[first + i] = dilation[i];
    p.pad_begin[first + i] = padding[i].begin;
    p.pad_end[first + i] = padding[i].end;
    p.output[first + i] = kernels::conv_output_size(spatial[i], kernel[i], stride[i], padding[i].begin,
                                                    padding[i].end, dilation[i]);
    call.out_shape.push_back(p.output[first + i]);
  }
  return call;
}

// Nothing to compute (an empty batch): the output is empty, the gradients zero.
bool is_degenerate(const kernels::ConvParams& p) { return p.batch == 0; }

// input is (N, C, spatial...) with `dims` spatial dims.
Tensor convolution(const Tensor& input, const Tensor& weight, const Tensor& bias, const ConvFuncOptions& options,
                   size_t dims, const char* op) {
  const ConvCall call = check_conv(input, weight, bias, options, dims, op);
  const kernels::ConvParams p = call.params;
  Tensor x, w, b, y;
  {
    NoGradGuard no_grad;
    x = describable(input.detach().to(kFloat32));
    w = weight.detach().to(kFloat32).contiguous();
    b = bias.defined() ? bias.detach().to(kFloat32).contiguous() : Tensor();
    if (is_degenerate(p)) {
      y = zeros(call.out_shape);
    } else {
      y = empty(call.out_shape);  // (N, C_out, spatial...)
      kernels::dnnl_conv_forward(operand(y), operand(x), w.data<float>(), b.defined() ? b.data<float>() : nullptr,
                                 p);
    }
  }
  if (autograd::needs_grad({&input, &weight, &bias})) {
    autograd::record(op, y, {input, weight, bias}, [x, w, p](const Tensor& grad, const std::vector<bool>& need) {
      Tensor gx = need[0] ? empty(x.shape()) : Tensor();  // (N, C_in, spatial...)
      Tensor gw = need[1] ? empty(w.shape()) : Tensor();  // (C_out, C_in / groups, k...)
      Tensor gb = need[2] ? empty({p.out_channels}) : Tensor();
      if (is_degenerate(p)) {
        NoGradGuard no_grad;
        if (gx.defined()) gx.zero_();
        if (gw.defined()) gw.zero_();
        if (gb.defined()) gb.zero_();
        return std::vector<Tensor>{gx, gw, gb};
      }
      const Tensor g = describable(grad.to(kFloat32));  // (N, C_out, spatial...)
      kernels::ConvGradients grads;
      if (gx.defined()) grads.diff_src = operand(gx);
      grads.diff_weight = gw.defined() ? gw.data<float>() : nullptr;
      grads.diff_bias = gb.defined() ? gb.data<float>() : nullptr;
      kernels::dnnl_conv_backward(grads, operand(g), operand(x), w.data<float>(), p);
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return y;
}

// Accepts the batched rank directly and the unbatched one (no N) through a
// differentiable unsqueeze / squeeze.
Tensor conv_any_batch(const Tensor& input, const Tensor& weight, const Tensor& bias, const ConvFuncOptions& options,
                      size_t dims, const char* op) {
  const int64_t d = static_cast<int64_t>(dims);
  AK_CHECK(input.defined() && (input.dim() == d + 1 || input.dim() == d + 2), op, ": expected a ", d + 1,
           "-D (unbatched) or ", d + 2, "-D (batched) input, got shape ", shape_or_nothing(input));
  if (input.dim() == d + 2) return convolution(input, weight, bias, options, dims, op);
  return convolution(input.unsqueeze(0), weight, bias, options, dims, op).squeeze(0);
}

}  // namespace

std::vector<int64_t> SpatialSize::expand(size_t dims, const char* op, const char* what) const {
  AK_CHECK(sizes_.size() == 1 || sizes_.size() == dims, op, ": ", what, " must be one int or ", dims,
           " ints, got ", sizes_.size(), " ", sizes_str(sizes_));
  return sizes_.size() == 1 ? std::vector<int64_t>(dims, sizes_[0]) : sizes_;
}

std::vector<PaddingPair> conv_padding_amounts(const ConvPadding& padding, const std::vector<int64_t>& kernel_size,
                                              const std::vector<int64_t>& stride,
                                              const std::vector<int64_t>& dilation, const char* op) {
  const size_t dims = kernel_size.size();
  for (size_t i = 0; i < dims; ++i) {
    AK_CHECK(stride[i] > 0, op, ": stride must be positive, got ", sizes_str(stride));
    AK_CHECK(dilation[i] > 0, op, ": dilation must be positive, got ", sizes_str(dilation));
  }
  std::vector<PaddingPair> out(dims, PaddingPair{0, 0});
  if (!padding.is_mode()) {
    const std::vector<int64_t> sizes = padding.sizes().expand(dims, op, "padding");
    for (size_t i = 0; i < dims; ++i) {
      AK_CHECK(sizes[i] >= 0, op, ": padding must be non-negative, got ", sizes_str(sizes));
      out[i] = {sizes[i], sizes[i]};
    }
    return out;
  }
  const std::string& mode = padding.mode();
  AK_CHECK(mode == "valid" || mode == "same", op, ": padding must be an int, a tuple of ints, 'valid' or 'same', got '",
           mode, "'");
  if (mode == "valid") return out;
  AK_CHECK(std::all_of(stride.begin(), stride.end(), [](int64_t s) { return s == 1; }), op,
           ": padding='same' is not supported for strided convolutions (stride ", sizes_str(stride), ")");
  for (size_t i = 0; i < dims; ++i) {
    const int64_t total = dilation[i] * (kernel_size[i] - 1);
    out[i] = {total / 2, total - total / 2};  // the odd one at the end, as torch
  }
  return out;
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const ConvFuncOptions& options) {
  return conv_any_batch(input, weight, bias, options, 1, "conv1d");
}

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const ConvFuncOptions& options) {
  return conv_any_batch(input, weight, bias, options, 2, "conv2d");
}

}  // namespace attnkit
