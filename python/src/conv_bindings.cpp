// attnkit._C: conv1d, conv2d and nn.Conv1d / nn.Conv2d, with the argument
// names, defaults and int-or-tuple / string conventions of torch.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "convert.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;

// int or sequence of ints, as torch's _pair / _single.
SpatialSize to_spatial(nb::handle obj, const char* op) { return SpatialSize(to_shape(obj, op)); }

// An int, a sequence of ints, or a string ("valid" / "same"; others are
// reported by the op, as a ValueError naming it).
ConvPadding to_padding(nb::handle obj, const char* op) {
  if (nb::isinstance<nb::str>(obj)) return ConvPadding(std::string_view(nb::cast<std::string>(obj)));
  return ConvPadding(to_shape(obj, op));
}

template <size_t Dims>
Tensor conv_op(const Tensor& input, const Tensor& weight, std::optional<Tensor> bias, nb::handle stride,
               nb::handle padding, nb::handle dilation, int64_t groups) {
  const char* op = Dims == 1 ? "conv1d" : "conv2d";
  ConvFuncOptions options{.stride = to_spatial(stride, op),
                          .padding = to_padding(padding, op),
                          .dilation = to_spatial(dilation, op),
                          .groups = groups};
  const Tensor b = bias ? *bias : Tensor();
  nb::gil_scoped_release release;
  return Dims == 1 ? conv1d(input, weight, b, options) : conv2d(input, weight, b, options);
}

nb::tuple sizes_tuple(const std::vector<int64_t>& sizes) { return to_tuple(sizes); }

template <typename Layer>
void bind_layer(nb::module_& nn, const char* name, const char* doc) {
  nb::class_<Layer, nn::ConvNd>(nn, name, doc)
      .def("__init__",
           [name](Layer* self, int64_t in_channels, int64_t out_channels, nb::handle kernel_size, nb::handle stride,
                  nb::handle padding, nb::handle dilation, int64_t groups, bool bias, const std::string& padding_mode,
                  Generator* generator) {
             nn::ConvOptions o;
             o.in_channels = in_channels;
             o.out_channels = out_channels;
             o.kernel_size = to_spatial(kernel_size, name);
             o.stride = to_spatial(stride, name);
             o.padding = to_padding(padding, name);
             o.dilation = to_spatial(dilation, name);
             o.groups = groups;
             o.bias = bias;
             o.padding_mode = padding_mode;
             new (self) Layer(o, generator);
           },
           "in_channels"_a, "out_channels"_a, "kernel_size"_a, "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
           "groups"_a = 1, "bias"_a = true, "padding_mode"_a = "zeros", nb::kw_only(), "generator"_a = nb::none());
}

}  // namespace

void bind_conv(nb::module_& m) {
  m.def("conv1d", &conv_op<1>, "input"_a, "weight"_a, "bias"_a = nb::none(), "stride"_a = 1, "padding"_a = 0,
        "dilation"_a = 1, "groups"_a = 1,
        "1-D convolution, as torch.nn.functional.conv1d: input (N, C_in, L) or (C_in, L), weight "
        "(C_out, C_in / groups, K), bias (C_out). padding: an int, a tuple, 'valid' or 'same'.");
  m.def("conv2d", &conv_op<2>, "input"_a, "weight"_a, "bias"_a = nb::none(), "stride"_a = 1, "padding"_a = 0,
        "dilation"_a = 1, "groups"_a = 1,
        "2-D convolution, as torch.nn.functional.conv2d: input (N, C_in, H, W) or (C_in, H, W), weight "
        "(C_out, C_in / groups, kH, kW), bias (C_out). stride, padding and dilation: an int or a pair; "
        "padding also 'valid' or 'same' (stride 1).");

  nb::module_ nn = nb::borrow<nb::module_>(m.attr("nn"));
  nb::class_<nn::ConvNd, nn::Module>(nn, "_ConvNd", "The base of Conv1d and Conv2d.")
      .def("forward",
           [](const nn::ConvNd& self, const Tensor& input) {
             nb::gil_scoped_release release;
             return self.forward(input);
           },
           "input"_a)
      .def("__call__",
           [](const nn::ConvNd& self, const Tensor& input) {
             nb::gil_scoped_release release;
             return self.forward(input);
           },
           "input"_a)
      .def_ro("in_channels", &nn::ConvNd::in_channels)
      .def_ro("out_channels", &nn::ConvNd::out_channels)
      .def_prop_ro("kernel_size", [](const nn::ConvNd& c) { return sizes_tuple(c.kernel_size); })
      .def_prop_ro("stride", [](const nn::ConvNd& c) { return sizes_tuple(c.stride); })
      .def_prop_ro("padding",
                   [](const nn::ConvNd& c) -> nb::object {
                     if (!c.padding_string.empty()) return nb::str(c.padding_string.c_str());
                     return sizes_tuple(c.padding);
                   })
      .def_prop_ro("dilation", [](const nn::ConvNd& c) { return sizes_tuple(c.dilation); })
      .def_ro("groups", &nn::ConvNd::groups)
      .def_ro("padding_mode", &nn::ConvNd::padding_mode)
      .def_prop_ro("weight", [](const nn::ConvNd& c) { return c.weight; })
      .def_prop_ro("bias", [](const nn::ConvNd& c) -> std::optional<Tensor> {
        return c.bias.defined() ? std::optional<Tensor>(c.bias) : std::nullopt;
      });
  bind_layer<nn::Conv1d>(nn, "Conv1d",
                         "1-D convolution layer, as torch.nn.Conv1d: the same options, parameters (weight "
                         "(out, in / groups, k), bias (out)) and initialisation.");
  bind_layer<nn::Conv2d>(nn, "Conv2d",
                         "2-D convolution layer, as torch.nn.Conv2d: the same options, parameters (weight "
                         "(out, in / groups, kH, kW), bias (out)) and initialisation.");
}

}  // namespace attnkit::python
