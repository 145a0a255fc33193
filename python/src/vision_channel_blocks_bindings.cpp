// attnkit._C.nn.vision: the channel-attention blocks SqueezeExcite, ECA,
// CBAM and SelectiveKernel (with timm's class names as aliases: SEModule,
// EcaModule, CbamModule), and the parts their children are made of
// (ConvNormAct, CbamChannelAttention, CbamSpatialAttention,
// SelectiveKernelAttention).
//
// Constructor keywords are timm's; every child is a property, so the dotted
// paths of a timm state_dict work as attributes (cbam.spatial.conv.bn.running_mean,
// sk.paths[0].conv.weight). forward / __call__ release the GIL. Each block's
// attention for its last input is the read-only property attention_map (None
// before the first forward).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "module_bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
namespace vision = nn::vision;

template <typename Block>
void def_forward(nb::class_<Block, nn::Module>& cls) {
  cls.def("forward", &forward_without_gil<Block>, "input"_a).def("__call__", &forward_without_gil<Block>, "input"_a);
}

// SelectiveKernel's kernel_size: None ([3, 5]), an int (two paths of that
// size, as timm) or a sequence with one size per path.
std::vector<int64_t> to_kernel_sizes(nb::handle obj) {
  if (obj.is_none()) return {3, 5};
  if (nb::isinstance<nb::int_>(obj)) {
    const int64_t k = to_int(obj, "SelectiveKernel", "kernel_size");
    return {k, k};
  }
  return to_shape(obj, "SelectiveKernel");
}

void bind_parts(nb::module_& m) {
  nb::class_<vision::ConvNormAct, nn::Module> conv_norm_act(
      m, "ConvNormAct",
      "Conv2d (no bias by default), BatchNorm2d and optionally ReLU: timm's ConvNormAct, children conv and bn. "
      "padding=None is timm's ((stride - 1) + dilation (kernel_size - 1)) // 2.");
  conv_norm_act
      .def("__init__",
           [](vision::ConvNormAct* self, int64_t in_channels, int64_t out_channels, int64_t kernel_size,
              int64_t stride, std::optional<int64_t> padding, int64_t dilation, int64_t groups, bool bias,
              bool apply_act, Generator* generator) {
             new (self) vision::ConvNormAct({.in_channels = in_channels,
                                             .out_channels = out_channels,
                                             .kernel_size = kernel_size,
                                             .stride = stride,
                                             .padding = padding,
                                             .dilation = dilation,
                                             .groups = groups,
                                             .bias = bias,
                                             .apply_act = apply_act},
                                            generator);
           },
           "in_channels"_a, "out_channels"_a, "kernel_size"_a = 1, "stride"_a = 1, "padding"_a = nb::none(),
           "dilation"_a = 1, "groups"_a = 1, "bias"_a = false, "apply_act"_a = true, nb::kw_only(),
           "generator"_a = nb::none())
      .def_prop_ro("conv", [](const vision::ConvNormAct& c) { return c.conv; })
      .def_prop_ro("bn", [](const vision::ConvNormAct& c) { return c.bn; })
      .def_ro("apply_act", &vision::ConvNormAct::apply_act);
  def_forward(conv_norm_act);

  bind_module_list<vision::ConvNormAct>(m, "_ConvNormActList", "SelectiveKernel's paths: an indexable list.");

  nb::class_<vision::CbamChannelAttention, nn::Module> channel(
      m, "CbamChannelAttention", "CBAM's channel half, x * sigmoid(MLP(avg) + MLP(max)); timm's ChannelAttn.");
  channel.def_prop_ro("fc1", [](const vision::CbamChannelAttention& c) { return c.fc1; })
      .def_prop_ro("fc2", [](const vision::CbamChannelAttention& c) { return c.fc2; })
      .def_prop_ro("attention_map",
                   [](const vision::CbamChannelAttention& c) { return optional_tensor(c.attention_map()); },
                   "The channel weights of the last forward, (B, C) in (0, 1), detached; None before it.");
  def_forward(channel);

  nb::class_<vision::CbamSpatialAttention, nn::Module> spatial(
      m, "CbamSpatialAttention",
      "CBAM's spatial half, x * sigmoid(bn(conv([mean_C, max_C]))); timm's SpatialAttn.");
  spatial.def_prop_ro("conv", [](const vision::CbamSpatialAttention& s) { return s.conv; })
      .def_prop_ro("attention_map",
                   [](const vision::CbamSpatialAttention& s) { return optional_tensor(s.attention_map()); },
                   "The spatial map of the last forward, (B, 1, H, W) in (0, 1), detached; None before it.");
  def_forward(spatial);

  nb::class_<vision::SelectiveKernelAttention, nn::Module> sk_attn(
      m, "SelectiveKernelAttention",
      "Selective Kernel's fuse and select: the sum of the paths (B, C, H, W) -> softmax over paths "
      "(B, P, C, 1, 1). timm's SelectiveKernelAttn, which takes the stacked paths instead.");
  sk_attn.def_prop_ro("fc_reduce", [](const vision::SelectiveKernelAttention& a) { return a.fc_reduce; })
      .def_prop_ro("bn", [](const vision::SelectiveKernelAttention& a) { return a.bn; })
      .def_prop_ro("fc_select", [](const vision::SelectiveKernelAttention& a) { return a.fc_select; })
      .def_ro("num_paths", &vision::SelectiveKernelAttention::num_paths);
  def_forward(sk_attn);
}

void bind_blocks(nb::module_& m) {
  nb::class_<vision::SqueezeExcite, nn::Module> se(
      m, "SqueezeExcite",
      "Squeeze-and-Excitation (Hu et al. 2018), as timm's SEModule: x * sigmoid(fc2(relu(fc1(mean_HW(x))))). "
      "attention_map: the channel weights (B, C).");
  se.def("__init__",
         [](vision::SqueezeExcite* self, int64_t channels, double rd_ratio, std::optional<int64_t> rd_channels,
            int64_t rd_divisor, bool add_maxpool, bool bias, bool use_norm, Generator* generator) {
           new (self) vision::SqueezeExcite({.channels = channels,
                                             .rd_ratio = rd_ratio,
                                             .rd_channels = rd_channels,
                                             .rd_divisor = rd_divisor,
                                             .add_maxpool = add_maxpool,
                                             .bias = bias,
                                             .use_norm = use_norm},
                                            generator);
         },
         "channels"_a, "rd_ratio"_a = 1.0 / 16, "rd_channels"_a = nb::none(), "rd_divisor"_a = 8,
         "add_maxpool"_a = false, "bias"_a = true, "use_norm"_a = false, nb::kw_only(), "generator"_a = nb::none())
      .def_ro("channels", &vision::SqueezeExcite::channels)
      .def_ro("rd_channels", &vision::SqueezeExcite::rd_channels)
      .def_ro("add_maxpool", &vision::SqueezeExcite::add_maxpool)
      .def_prop_ro("fc1", [](const vision::SqueezeExcite& s) { return s.fc1; })
      .def_prop_ro("bn", [](const vision::SqueezeExcite& s) { return s.bn; }, "BatchNorm2d with use_norm, else None.")
      .def_prop_ro("fc2", [](const vision::SqueezeExcite& s) { return s.fc2; })
      .def_prop_ro("attention_map", [](const vision::SqueezeExcite& s) { return optional_tensor(s.attention_map()); },
                   "The channel weights of the last forward, (B, C) in (0, 1), detached; None before it.");
  def_forward(se);

  nb::class_<vision::ECA, nn::Module> eca(
      m, "ECA",
      "Efficient Channel Attention (Wang et al. 2020), as timm's EcaModule: x * sigmoid(conv1d(mean_HW(x))) "
      "across channels; with channels, kernel_size is adapted from it (timm's rule). attention_map: (B, C).");
  eca.def("__init__",
          [](vision::ECA* self, std::optional<int64_t> channels, int64_t kernel_size, double gamma, double beta,
             Generator* generator) {
            new (self) vision::ECA(
                {.channels = channels, .kernel_size = kernel_size, .gamma = gamma, .beta = beta}, generator);
          },
          "channels"_a = nb::none(), "kernel_size"_a = 3, "gamma"_a = 2.0, "beta"_a = 1.0, nb::kw_only(),
          "generator"_a = nb::none())
      .def_ro("channels", &vision::ECA::channels)
      .def_ro("kernel_size", &vision::ECA::kernel_size)
      .def_prop_ro("conv", [](const vision::ECA& e) { return e.conv; })
      .def_prop_ro("attention_map", [](const vision::ECA& e) { return optional_tensor(e.attention_map()); },
                   "The channel weights of the last forward, (B, C) in (0, 1), detached; None before it.");
  def_forward(eca);

  nb::class_<vision::CBAM, nn::Module> cbam(
      m, "CBAM",
      "Convolutional Block Attention Module (Woo et al. 2018), as timm's CbamModule: channel attention "
      "(children channel.fc1, channel.fc2), then spatial attention (spatial.conv.conv, spatial.conv.bn). "
      "attention_map: the spatial map (B, 1, H, W); channel_attention_map: (B, C).");
  cbam.def("__init__",
           [](vision::CBAM* self, int64_t channels, double rd_ratio, std::optional<int64_t> rd_channels,
              int64_t rd_divisor, int64_t spatial_kernel_size, bool mlp_bias, Generator* generator) {
             new (self) vision::CBAM({.channels = channels,
                                      .rd_ratio = rd_ratio,
                                      .rd_channels = rd_channels,
                                      .rd_divisor = rd_divisor,
                                      .spatial_kernel_size = spatial_kernel_size,
                                      .mlp_bias = mlp_bias},
                                     generator);
           },
           "channels"_a, "rd_ratio"_a = 1.0 / 16, "rd_channels"_a = nb::none(), "rd_divisor"_a = 1,
           "spatial_kernel_size"_a = 7, "mlp_bias"_a = false, nb::kw_only(), "generator"_a = nb::none())
      .def_ro("channels", &vision::CBAM::channels)
      .def_ro("rd_channels", &vision::CBAM::rd_channels)
      .def_ro("spatial_kernel_size", &vision::CBAM::spatial_kernel_size)
      .def_prop_ro("channel", [](const vision::CBAM& c) { return c.channel; })
      .def_prop_ro("spatial", [](const vision::CBAM& c) { return c.spatial; })
      .def_prop_ro("attention_map", [](const vision::CBAM& c) { return optional_tensor(c.attention_map()); },
                   "The spatial map of the last forward, (B, 1, H, W) in (0, 1), detached; None before it.")
      .def_prop_ro("channel_attention_map",
                   [](const vision::CBAM& c) { return optional_tensor(c.channel_attention_map()); },
                   "The channel weights of the last forward, (B, C) in (0, 1), detached; None before it.");
  def_forward(cbam);

  nb::class_<vision::SelectiveKernel, nn::Module> sk(
      m, "SelectiveKernel",
      "Selective Kernel convolution (Li et al. 2019), as timm's SelectiveKernel: paths (ConvNormAct each; "
      "5x5 as a dilated 3x3 with keep_3x3) mixed per channel by a softmax over paths (attn). kernel_size: "
      "None ([3, 5]), an int (two paths) or a list. attention_map: the selection weights (B, P, C_out).");
  sk.def("__init__",
         [](vision::SelectiveKernel* self, int64_t in_channels, std::optional<int64_t> out_channels,
            nb::handle kernel_size, int64_t stride, int64_t dilation, int64_t groups, double rd_ratio,
            std::optional<int64_t> rd_channels, int64_t rd_divisor, bool keep_3x3, bool split_input,
            Generator* generator) {
           std::vector<int64_t> sizes = to_kernel_sizes(kernel_size);
           new (self) vision::SelectiveKernel({.in_channels = in_channels,
                                               .out_channels = out_channels,
                                               .kernel_size = std::move(sizes),
                                               .stride = stride,
                                               .dilation = dilation,
                                               .groups = groups,
                                               .rd_ratio = rd_ratio,
                                               .rd_channels = rd_channels,
                                               .rd_divisor = rd_divisor,
                                               .keep_3x3 = keep_3x3,
                                               .split_input = split_input},
                                              generator);
         },
         "in_channels"_a, "out_channels"_a = nb::none(), "kernel_size"_a = nb::none(), "stride"_a = 1,
         "dilation"_a = 1, "groups"_a = 1, "rd_ratio"_a = 1.0 / 16, "rd_channels"_a = nb::none(),
         "rd_divisor"_a = 8, "keep_3x3"_a = true, "split_input"_a = true, nb::kw_only(), "generator"_a = nb::none())
      .def_ro("in_channels", &vision::SelectiveKernel::in_channels)
      .def_ro("out_channels", &vision::SelectiveKernel::out_channels)
      .def_ro("num_paths", &vision::SelectiveKernel::num_paths)
      .def_ro("stride", &vision::SelectiveKernel::stride)
      .def_ro("groups", &vision::SelectiveKernel::groups)
      .def_ro("attn_channels", &vision::SelectiveKernel::attn_channels)
      .def_ro("split_input", &vision::SelectiveKernel::split_input)
      .def_ro("kernel_size", &vision::SelectiveKernel::kernel_size, "Per path, after keep_3x3.")
      .def_ro("dilation", &vision::SelectiveKernel::dilation, "Per path, after keep_3x3.")
      .def_prop_ro("paths", [](const vision::SelectiveKernel& s) { return s.paths; })
      .def_prop_ro("attn", [](const vision::SelectiveKernel& s) { return s.attn; })
      .def_prop_ro("attention_map", [](const vision::SelectiveKernel& s) { return optional_tensor(s.attention_map()); },
                   "The selection weights of the last forward, (B, P, C_out), softmax over P, detached; None "
                   "before it.");
  def_forward(sk);

  // timm's class names.
  m.attr("SEModule") = m.attr("SqueezeExcite");
  m.attr("EcaModule") = m.attr("ECA");
  m.attr("CbamModule") = m.attr("CBAM");
}

}  // namespace

void bind_vision_channel_blocks(nb::module_& vision) {
  bind_parts(vision);
  bind_blocks(vision);
}

}  // namespace attnkit::python
