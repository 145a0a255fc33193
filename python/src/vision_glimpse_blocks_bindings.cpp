// attnkit._C.nn.vision: the glimpse blocks, DynamicCapacity (Almahairi et al.
// 2016) and RecurrentAttention (Mnih et al. 2014, RAM), with their default
// sub-networks so that every child is reachable as an attribute.
//
// DynamicCapacity takes nets of your own as attnkit.nn.Module objects (C++
// layers or Python subclasses): they become children (parameters, state_dict,
// train/eval reach them) and are called as module(x), with the GIL taken for
// the call. RAM's forward returns a named tuple (log_probs, locations,
// log_pi, baselines) and reinforce_loss one of (total, classification,
// reinforce, baseline).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>

#include "convert.h"
#include "module_bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using nn::vision::DynamicCapacity;
using nn::vision::DynamicCapacityOptions;
using nn::vision::GlimpseNetwork;
using nn::vision::RecurrentAttention;
using nn::vision::RecurrentAttentionOptions;
using nn::vision::RecurrentAttentionOutput;
using nn::vision::RecurrentCore;


// The named tuple types, made once at import and owned by the module.
nb::handle g_output_type, g_loss_type;

// A Python module as a FeatureNet: kept alive by the block, called with the
// GIL held (the block's forward runs without it). The reference is dropped
// with the GIL too, whichever thread frees the block.
nn::vision::FeatureNet feature_net(nb::handle net, const char* which) {
  if (net.is_none()) return {};
  if (!nb::isinstance<nn::Module>(net)) {
    throw nb::type_error((std::string("DynamicCapacity: ") + which + " must be an attnkit.nn.Module, got " +
                          nb::type_name(net.type()).c_str())
                             .c_str());
  }
  std::shared_ptr<nn::Module> module = nb::cast<std::shared_ptr<nn::Module>>(net);
  std::shared_ptr<nb::object> callable(new nb::object(nb::borrow(net)), [](nb::object* object) {
    nb::gil_scoped_acquire gil;
    delete object;
  });
  std::string name = which;
  return {module, [callable, name](const Tensor& x) {
            nb::gil_scoped_acquire gil;
            nb::object out = (*callable)(x);
            if (!nb::isinstance<Tensor>(out)) {
              throw ValueError("DynamicCapacity: " + name + " must return a Tensor, got " +
                               nb::type_name(out.type()).c_str());
            }
            return nb::cast<Tensor>(out);
          }};
}

Tensor dcn_forward(DynamicCapacity& self, const Tensor& input) {
  nb::gil_scoped_release release;
  return self.forward(input);
}

nb::object ram_forward(RecurrentAttention& self, const Tensor& input, std::optional<Tensor> noise,
                       Generator* generator) {
  RecurrentAttentionOutput out;
  {
    nb::gil_scoped_release release;
    out = noise ? self.forward(input, *noise) : self.forward(input, generator);
  }
  return g_output_type(out.log_probs, out.locations, out.log_pi, out.baselines);
}

nb::object ram_loss(const RecurrentAttention&, nb::handle output, const Tensor& labels) {
  RecurrentAttentionOutput out;
  try {
    out.log_probs = nb::cast<Tensor>(output.attr("log_probs"));
    out.log_pi = nb::cast<Tensor>(output.attr("log_pi"));
    out.baselines = nb::cast<Tensor>(output.attr("baselines"));
  } catch (const nb::python_error&) {
    throw nb::type_error("reinforce_loss: output must be what RecurrentAttention's forward returned "
                         "(log_probs, locations, log_pi, baselines)");
  } catch (const nb::cast_error&) {
    throw nb::type_error("reinforce_loss: output's log_probs, log_pi and baselines must be Tensors");
  }
  nn::vision::ReinforceLoss loss;
  {
    nb::gil_scoped_release release;
    loss = nn::vision::reinforce_loss(out, labels);
  }
  return g_loss_type(loss.total, loss.classification, loss.reinforce, loss.baseline);
}

void bind_dynamic_capacity(nb::module_& vision) {
  nb::class_<nn::vision::DynamicCapacityCoarseNet, nn::Module>(
      vision, "DynamicCapacityCoarseNet",
      "DynamicCapacity's default coarse net: ReLU(conv2(ReLU(conv1(x)))), conv1 with the patch geometry.")
      .def("forward", &nn::vision::DynamicCapacityCoarseNet::forward, "input"_a,
           nb::call_guard<nb::gil_scoped_release>())
      .def("__call__", &nn::vision::DynamicCapacityCoarseNet::forward, "input"_a,
           nb::call_guard<nb::gil_scoped_release>())
      .def_ro("conv1", &nn::vision::DynamicCapacityCoarseNet::conv1)
      .def_ro("conv2", &nn::vision::DynamicCapacityCoarseNet::conv2);
  nb::class_<nn::vision::DynamicCapacityFineNet, nn::Module>(
      vision, "DynamicCapacityFineNet",
      "DynamicCapacity's default fine net: three convolutions with ReLU, one patch to one vector.")
      .def("forward", &nn::vision::DynamicCapacityFineNet::forward, "input"_a,
           nb::call_guard<nb::gil_scoped_release>())
      .def("__call__", &nn::vision::DynamicCapacityFineNet::forward, "input"_a,
           nb::call_guard<nb::gil_scoped_release>())
      .def_ro("conv1", &nn::vision::DynamicCapacityFineNet::conv1)
      .def_ro("conv2", &nn::vision::DynamicCapacityFineNet::conv2)
      .def_ro("conv3", &nn::vision::DynamicCapacityFineNet::conv3);

  nb::class_<DynamicCapacity, nn::Module>(
      vision, "DynamicCapacity",
      "Dynamic Capacity Network (Almahairi et al. 2016): a coarse net over the whole image, the top-k "
      "positions by the gradient of the prediction's entropy, a fine net on their patches only, and the "
      "top layers (1x1 conv, ReLU, average pool, Linear) on the merged map.\n\n"
      "forward(x (B, C, H, W)) -> logits (B, num_classes). Maps of the last input: attention_map "
      "(saliency, (B, h, w)), selected_positions ((B, top_k, 2) int64 row, column), selected_regions "
      "((B, top_k, 4) int64 y0, x0, y1, x1 in input pixels). coarse_net / fine_net: attnkit.nn.Module "
      "objects of your own (coarse: (B, C, H, W) -> (B, dim, h, w); fine: (N, C, P, P) -> (N, dim, 1, 1) "
      "or (N, dim)), or None for the defaults; patch_stride None means patch_size.")
      .def("__init__",
           [](DynamicCapacity* self, int64_t in_channels, int64_t num_classes, int64_t dim, int64_t top_k,
              int64_t patch_size, std::optional<int64_t> patch_stride, int64_t patch_padding,
              std::optional<int64_t> fine_width, nb::handle coarse_net, nb::handle fine_net, Generator* generator) {
             DynamicCapacityOptions o{.in_channels = in_channels,
                                      .num_classes = num_classes,
                                      .dim = dim,
                                      .top_k = top_k,
                                      .patch_size = patch_size,
                                      .patch_stride = patch_stride.value_or(0),
                                      .patch_padding = patch_padding,
                                      .fine_width = fine_width.value_or(0)};
             AK_CHECK(!patch_stride || *patch_stride > 0, "DynamicCapacity: patch_stride must be positive, got ",
                      *patch_stride);
             AK_CHECK(!fine_width || *fine_width > 0, "DynamicCapacity: fine_width must be positive, got ",
                      *fine_width);
             new (self) DynamicCapacity(o, feature_net(coarse_net, "coarse_net"), feature_net(fine_net, "fine_net"),
                                        generator);
           },
           "in_channels"_a, "num_classes"_a, "dim"_a = 32, "top_k"_a = 4, "patch_size"_a = 4,
           "patch_stride"_a = nb::none(), "patch_padding"_a = 0, "fine_width"_a = nb::none(),
           "coarse_net"_a = nb::none(), "fine_net"_a = nb::none(), nb::kw_only(), "generator"_a = nb::none())
      .def("forward", &dcn_forward, "input"_a)
      .def("__call__", &dcn_forward, "input"_a)
      .def("top_layers", &DynamicCapacity::top_layers, "features"_a, nb::call_guard<nb::gil_scoped_release>(),
           "The top layers on a feature map (B, dim, h, w) -> logits (B, num_classes).")
      .def_prop_ro("in_channels", [](const DynamicCapacity& d) { return d.options().in_channels; })
      .def_prop_ro("num_classes", [](const DynamicCapacity& d) { return d.options().num_classes; })
      .def_prop_ro("dim", [](const DynamicCapacity& d) { return d.options().dim; })
      .def_prop_ro("top_k", [](const DynamicCapacity& d) { return d.options().top_k; })
      .def_prop_ro("patch_size", [](const DynamicCapacity& d) { return d.options().patch_size; })
      .def_prop_ro("patch_stride", [](const DynamicCapacity& d) { return d.options().patch_stride; })
      .def_prop_ro("patch_padding", [](const DynamicCapacity& d) { return d.options().patch_padding; })
      .def_prop_ro("fine_width", [](const DynamicCapacity& d) { return d.options().fine_width; })
      .def_ro("coarse_net", &DynamicCapacity::coarse_net)
      .def_ro("fine_net", &DynamicCapacity::fine_net)
      .def_ro("top", &DynamicCapacity::top)
      .def_ro("classifier", &DynamicCapacity::classifier)
      .def_prop_ro("attention_map", [](const DynamicCapacity& d) { return optional_tensor(d.attention_map()); },
                   "The saliency of the last input (B, h, w): ‖∂H/∂coarse‖ over dim; None before a forward.")
      .def_prop_ro("selected_positions",
                   [](const DynamicCapacity& d) { return optional_tensor(d.selected_positions()); },
                   "(B, top_k, 2) int64 (row, column) of the coarse map, most salient first.")
      .def_prop_ro("selected_regions",
                   [](const DynamicCapacity& d) { return optional_tensor(d.selected_regions()); },
                   "(B, top_k, 4) int64 (y0, x0, y1, x1) input pixels of the patches the fine net saw.");
}

void bind_recurrent_attention(nb::module_& vision) {
  nb::object namedtuple = nb::module_::import_("collections").attr("namedtuple");
  vision.attr("RecurrentAttentionOutput") =
      namedtuple("RecurrentAttentionOutput", nb::make_tuple("log_probs", "locations", "log_pi", "baselines"),
                 "module"_a = "attnkit.nn.vision");
  vision.attr("ReinforceLoss") =
      namedtuple("ReinforceLoss", nb::make_tuple("total", "classification", "reinforce", "baseline"),
                 "module"_a = "attnkit.nn.vision");
  g_output_type = vision.attr("RecurrentAttentionOutput");
  g_loss_type = vision.attr("ReinforceLoss");

  nb::class_<GlimpseNetwork, nn::Module>(vision, "GlimpseNetwork",
                                         "RAM's glimpse network: ReLU(what(ReLU(patch_fc(patches))) + "
                                         "where(ReLU(location_fc(location)))).")
      .def("forward", &GlimpseNetwork::forward, "patches"_a, "location"_a, nb::call_guard<nb::gil_scoped_release>())
      .def("__call__", &GlimpseNetwork::forward, "patches"_a, "location"_a,
           nb::call_guard<nb::gil_scoped_release>())
      .def_ro("patch_fc", &GlimpseNetwork::patch_fc)
      .def_ro("location_fc", &GlimpseNetwork::location_fc)
      .def_ro("what", &GlimpseNetwork::what)
      .def_ro("where", &GlimpseNetwork::where);
  nb::class_<RecurrentCore, nn::Module>(vision, "RecurrentCore",
                                        "RAM's core network, with torch.nn.RNNCell(nonlinearity='relu') or "
                                        "torch.nn.LSTMCell's parameters.")
      .def_ro("input_size", &RecurrentCore::input_size)
      .def_ro("hidden_size", &RecurrentCore::hidden_size)
      .def_prop_ro("weight_ih", [](const RecurrentCore& c) { return c.weight_ih; })
      .def_prop_ro("weight_hh", [](const RecurrentCore& c) { return c.weight_hh; })
      .def_prop_ro("bias_ih", [](const RecurrentCore& c) { return c.bias_ih; })
      .def_prop_ro("bias_hh", [](const RecurrentCore& c) { return c.bias_hh; });

  nb::class_<RecurrentAttention, nn::Module>(
      vision, "RecurrentAttention",
      "Recurrent Attention Model (Mnih et al. 2014): T glimpses (k patches of sides g, 2g, 4g, ... around "
      "a location, each shrunk to g x g), a ReLU RNN (or LSTM) core, a Gaussian location policy and a "
      "baseline, a classifier on the last state.\n\n"
      "forward(x, noise=None, generator=None) -> RecurrentAttentionOutput(log_probs (B, classes), "
      "locations (B, T, 2) (x, y) in [-1, 1], log_pi (B, T), baselines (B, T)). In training mode the "
      "locations are sampled with noise (B, T, 2) if given, else drawn from generator (the default one "
      "if None); in eval mode they are the policy's mean. reinforce_loss(output, labels) is the hybrid "
      "loss. Maps of the last input: attention_map (the glimpse path (B, T, 2)), glimpse_boxes "
      "((B, T, k, 4) float (y0, x0, y1, x1) in input pixels).")
      .def("__init__",
           [](RecurrentAttention* self, int64_t in_channels, int64_t num_classes, int64_t glimpse_size,
              int64_t num_scales, int64_t num_glimpses, int64_t glimpse_hidden, int64_t location_hidden,
              int64_t glimpse_dim, int64_t hidden_size, double std, const std::string& core, Generator* generator) {
             new (self) RecurrentAttention({.in_channels = in_channels,
                                            .num_classes = num_classes,
                                            .glimpse_size = glimpse_size,
                                            .num_scales = num_scales,
                                            .num_glimpses = num_glimpses,
                                            .glimpse_hidden = glimpse_hidden,
                                            .location_hidden = location_hidden,
                                            .glimpse_dim = glimpse_dim,
                                            .hidden_size = hidden_size,
                                            .std = std,
                                            .core = core},
                                           generator);
           },
           "in_channels"_a = 1, "num_classes"_a = 10, "glimpse_size"_a = 8, "num_scales"_a = 3, "num_glimpses"_a = 6,
           "glimpse_hidden"_a = 128, "location_hidden"_a = 128, "glimpse_dim"_a = 256, "hidden_size"_a = 256,
           "std"_a = 0.17, "core"_a = "rnn", nb::kw_only(), "generator"_a = nb::none())
      .def("forward", &ram_forward, "input"_a, "noise"_a = nb::none(), nb::kw_only(), "generator"_a = nb::none())
      .def("__call__", &ram_forward, "input"_a, "noise"_a = nb::none(), nb::kw_only(), "generator"_a = nb::none())
      .def("reinforce_loss", &ram_loss, "output"_a, "labels"_a,
           "The hybrid loss -> ReinforceLoss(total, classification, reinforce, baseline): NLL of the labels, "
           "REINFORCE of the locations with reward [prediction correct] and advantage R - baseline (detached), "
           "and the baselines' squared error to R; each a mean over the batch.")
      .def_prop_ro("in_channels", [](const RecurrentAttention& r) { return r.options().in_channels; })
      .def_prop_ro("num_classes", [](const RecurrentAttention& r) { return r.options().num_classes; })
      .def_prop_ro("glimpse_size", [](const RecurrentAttention& r) { return r.options().glimpse_size; })
      .def_prop_ro("num_scales", [](const RecurrentAttention& r) { return r.options().num_scales; })
      .def_prop_ro("num_glimpses", [](const RecurrentAttention& r) { return r.options().num_glimpses; })
      .def_prop_ro("glimpse_hidden", [](const RecurrentAttention& r) { return r.options().glimpse_hidden; })
      .def_prop_ro("location_hidden", [](const RecurrentAttention& r) { return r.options().location_hidden; })
      .def_prop_ro("glimpse_dim", [](const RecurrentAttention& r) { return r.options().glimpse_dim; })
      .def_prop_ro("hidden_size", [](const RecurrentAttention& r) { return r.options().hidden_size; })
      .def_prop_ro("std", [](const RecurrentAttention& r) { return r.options().std; })
      .def_prop_ro("core_type", [](const RecurrentAttention& r) { return r.options().core; })
      .def_ro("glimpse_net", &RecurrentAttention::glimpse_net)
      .def_ro("core", &RecurrentAttention::core)
      .def_ro("location_net", &RecurrentAttention::location_net)
      .def_ro("baseline_net", &RecurrentAttention::baseline_net)
      .def_ro("classifier", &RecurrentAttention::classifier)
      .def_prop_ro("attention_map", [](const RecurrentAttention& r) { return optional_tensor(r.attention_map()); },
                   "The glimpse path of the last input (B, T, 2), (x, y) in [-1, 1]; None before a forward.")
      .def_prop_ro("glimpse_boxes", [](const RecurrentAttention& r) { return optional_tensor(r.glimpse_boxes()); },
                   "(B, T, num_scales, 4) float32 (y0, x0, y1, x1) in input pixels; None before a forward.");
}

}  // namespace

void bind_vision_glimpse_blocks(nb::module_& vision) {
  bind_dynamic_capacity(vision);
  bind_recurrent_attention(vision);
}

}  // namespace attnkit::python
