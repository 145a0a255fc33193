// attnkit._C.nn.vision: the spatial attention blocks — NonLocal (alias
// NonLocalAttn, timm's name), ResidualAttention (with its ResidualUnit,
// ResidualUnits and SoftMaskBranch children) and SpatialTransformer (with the
// default StnLocalization), with timm's / torch's constructor keywords, a
// property for every option, parameter and child, the attention maps as
// read-only properties (None before the first forward), and forward / __call__
// running with the GIL released.
//
// SpatialTransformer(localization=...) takes any attnkit.nn.Module, a Python
// subclass with its own forward() included: the C++ block calls that forward
// through Python, taking the GIL back for the call.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "module_bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using nn::Module;
namespace vision = nn::vision;

// (H, W) given as an int (square) or a pair; None is empty (not given).
std::vector<int64_t> to_size_pair(nb::handle obj, const char* what) {
  if (obj.is_none()) return {};
  Shape size = to_shape(obj, "SpatialTransformer");
  if (size.size() == 1) size.push_back(size[0]);
  if (size.size() != 2) {
    throw ValueError(detail::concat("SpatialTransformer: ", what, " must be an int or a pair (H, W), got ",
                                    size.size(), " sizes"));
  }
  return size;
}

nb::object size_pair_object(const std::vector<int64_t>& size) {
  return size.empty() ? nb::none() : nb::object(nb::make_tuple(size[0], size[1]));
}

void bind_non_local(nb::module_& m) {
  nb::class_<vision::NonLocal, Module> cls(
      m, "NonLocal",
      "The non-local block (embedded Gaussian), as timm's NonLocalAttn: y = x + norm(z(softmax(θᵀφ · C^-½) gᵀ)) "
      "with θ, φ, g, z 1×1 convs (t, p, g, z) and norm a BatchNorm2d; a timm state_dict loads unchanged. The "
      "attention runs on the fused kernel. Starts as the identity (norm's weight is 0). attention_map: the "
      "softmax weights (B, HW, HW) of the last input, computed when read.");
  cls.def("__init__",
          [](vision::NonLocal* self, int64_t in_channels, bool use_scale, double rd_ratio,
             std::optional<int64_t> rd_channels, int64_t rd_divisor, Generator* generator) {
            new (self) vision::NonLocal({.in_channels = in_channels,
                                         .use_scale = use_scale,
                                         .rd_ratio = rd_ratio,
                                         .rd_channels = rd_channels,
                                         .rd_divisor = rd_divisor},
                                        generator);
          },
          "in_channels"_a, "use_scale"_a = true, "rd_ratio"_a = 1.0 / 8, "rd_channels"_a = nb::none(),
          "rd_divisor"_a = 8, nb::kw_only(), "generator"_a = nb::none())
      .def("forward", &forward_without_gil<vision::NonLocal>, "x"_a, "(B, C, H, W) -> (B, C, H, W)")
      .def("__call__", &forward_without_gil<vision::NonLocal>, "x"_a)
      .def("reset_parameters", &vision::NonLocal::reset_parameters, "generator"_a = nb::none(),
           "timm's initialisation: kaiming-normal conv weights (fan_out), zero biases, zero norm.")
      .def_ro("in_channels", &vision::NonLocal::in_channels)
      .def_ro("rd_channels", &vision::NonLocal::rd_channels)
      .def_ro("scale", &vision::NonLocal::scale)
      .def_prop_ro("t", [](const vision::NonLocal& b) { return b.t; })
      .def_prop_ro("p", [](const vision::NonLocal& b) { return b.p; })
      .def_prop_ro("g", [](const vision::NonLocal& b) { return b.g; })
      .def_prop_ro("z", [](const vision::NonLocal& b) { return b.z; })
      .def_prop_ro("norm", [](const vision::NonLocal& b) { return b.norm; })
      .def_prop_ro(
          "attention_map",
          [](const vision::NonLocal& b) {
            Tensor map;
            {
              nb::gil_scoped_release release;
              map = b.attention_map();
            }
            return optional_tensor(map);
          },
          "(B, HW, HW) softmax weights of the last input (rows sum to 1), computed on each read from the kept "
          "query and key; None before the first forward.");
  m.attr("NonLocalAttn") = cls;
}

void bind_residual_attention(nb::module_& m) {
  nb::class_<vision::ResidualUnit, Module>(
      m, "ResidualUnit",
      "Pre-activation bottleneck residual unit: x + conv3(relu(norm3(conv2(relu(norm2(conv1(relu(norm1(x))))))))), "
      "width channels / 4.")
      .def(nb::init<int64_t, Generator*>(), "channels"_a, nb::kw_only(), "generator"_a = nb::none())
      .def("forward", &forward_without_gil<vision::ResidualUnit>, "x"_a)
      .def("__call__", &forward_without_gil<vision::ResidualUnit>, "x"_a)
      .def_ro("channels", &vision::ResidualUnit::channels)
      .def_prop_ro("norm1", [](const vision::ResidualUnit& u) { return u.norm1; })
      .def_prop_ro("conv1", [](const vision::ResidualUnit& u) { return u.conv1; })
      .def_prop_ro("norm2", [](const vision::ResidualUnit& u) { return u.norm2; })
      .def_prop_ro("conv2", [](const vision::ResidualUnit& u) { return u.conv2; })
      .def_prop_ro("norm3", [](const vision::ResidualUnit& u) { return u.norm3; })
      .def_prop_ro("conv3", [](const vision::ResidualUnit& u) { return u.conv3; });

  bind_module_list<vision::ResidualUnit>(m, "_ResidualUnitList", "A list of ResidualUnit.");
  nb::class_<vision::ResidualUnits, nn::ModuleList<vision::ResidualUnit>>(
      m, "ResidualUnits", "Residual units applied in order (an nn.Sequential of ResidualUnit).")
      .def(nb::init<int64_t, int64_t, Generator*>(), "channels"_a, "count"_a, nb::kw_only(),
           "generator"_a = nb::none())
      .def("forward", &forward_without_gil<vision::ResidualUnits>, "x"_a)
      .def("__call__", &forward_without_gil<vision::ResidualUnits>, "x"_a);
  bind_module_list<vision::ResidualUnits>(m, "_ResidualUnitsList", "A list of ResidualUnits.");

  nb::class_<vision::SoftMaskBranch, Module>(
      m, "SoftMaskBranch",
      "The soft-mask branch of a ResidualAttention module: max-pool / residual-unit hourglass with skip "
      "connections, bilinear up-sampling, two 1×1 convs and a sigmoid.")
      .def(nb::init<int64_t, int64_t, int64_t, Generator*>(), "channels"_a, "r"_a, "depth"_a, nb::kw_only(),
           "generator"_a = nb::none())
      .def("forward", &forward_without_gil<vision::SoftMaskBranch>, "x"_a, "(B, C, H, W) -> M (B, C, H, W)")
      .def("__call__", &forward_without_gil<vision::SoftMaskBranch>, "x"_a)
      .def_ro("channels", &vision::SoftMaskBranch::channels)
      .def_ro("depth", &vision::SoftMaskBranch::depth)
      .def_prop_ro("down", [](const vision::SoftMaskBranch& b) { return b.down; })
      .def_prop_ro("skip", [](const vision::SoftMaskBranch& b) { return b.skip; })
      .def_prop_ro("bottom", [](const vision::SoftMaskBranch& b) { return b.bottom; })
      .def_prop_ro("up", [](const vision::SoftMaskBranch& b) { return b.up; })
      .def_prop_ro("norm1", [](const vision::SoftMaskBranch& b) { return b.norm1; })
      .def_prop_ro("conv1", [](const vision::SoftMaskBranch& b) { return b.conv1; })
      .def_prop_ro("norm2", [](const vision::SoftMaskBranch& b) { return b.norm2; })
      .def_prop_ro("conv2", [](const vision::SoftMaskBranch& b) { return b.conv2; });

  nb::class_<vision::ResidualAttention, Module>(
      m, "ResidualAttention",
      "The attention module of the Residual Attention Network (Wang et al. 2017): y = post((1 + M) · T) with "
      "T = trunk(pre(x)) and M = mask(pre(x)) in [0, 1]. p: units before and after, t: trunk units, r: units "
      "between poolings of the mask, depth: the mask's down-samplings. attention_map: M (B, C, H, W).")
      .def("__init__",
           [](vision::ResidualAttention* self, int64_t channels, int64_t p, int64_t t, int64_t r, int64_t depth,
              Generator* generator) {
             new (self) vision::ResidualAttention({.channels = channels, .p = p, .t = t, .r = r, .depth = depth},
                                                  generator);
           },
           "channels"_a, "p"_a = 1, "t"_a = 2, "r"_a = 1, "depth"_a = 1, nb::kw_only(), "generator"_a = nb::none())
      .def("forward", &forward_without_gil<vision::ResidualAttention>, "x"_a, "(B, C, H, W) -> (B, C, H, W)")
      .def("__call__", &forward_without_gil<vision::ResidualAttention>, "x"_a)
      .def_prop_ro("channels", [](const vision::ResidualAttention& b) { return b.options.channels; })
      .def_prop_ro("p", [](const vision::ResidualAttention& b) { return b.options.p; })
      .def_prop_ro("t", [](const vision::ResidualAttention& b) { return b.options.t; })
      .def_prop_ro("r", [](const vision::ResidualAttention& b) { return b.options.r; })
      .def_prop_ro("depth", [](const vision::ResidualAttention& b) { return b.options.depth; })
      .def_prop_ro("pre", [](const vision::ResidualAttention& b) { return b.pre; })
      .def_prop_ro("trunk", [](const vision::ResidualAttention& b) { return b.trunk; })
      .def_prop_ro("mask", [](const vision::ResidualAttention& b) { return b.mask; })
      .def_prop_ro("post", [](const vision::ResidualAttention& b) { return b.post; })
      .def_prop_ro("attention_map", [](const vision::ResidualAttention& b) { return optional_tensor(b.attention_map()); },
                   "The soft mask M (B, C, H, W) in [0, 1] of the last input; None before the first forward.");
}

// A Python localisation net: the module (kept alive by the shared_ptr, which
// holds a reference to its Python object) and its forward(), called through
// Python so a Python subclass's own forward runs.
vision::Localization python_localization(nb::handle obj) {
  if (!nb::isinstance<Module>(obj)) {
    throw nb::type_error(("SpatialTransformer: localization must be an attnkit.nn.Module, got " +
                          std::string(nb::type_name(obj.type()).c_str()))
                             .c_str());
  }
  std::shared_ptr<Module> module = nb::cast<std::shared_ptr<Module>>(obj);
  auto forward = [module](const Tensor& x) -> Tensor {
    nb::gil_scoped_acquire gil;
    nb::object self = nb::find(*module);
    nb::object out = self.attr("forward")(x);
    if (!nb::isinstance<Tensor>(out)) {
      throw ValueError(detail::concat("SpatialTransformer: the localization net's forward should return a Tensor "
                                      "(B, F), got ",
                                      nb::type_name(out.type()).c_str()));
    }
    return nb::cast<Tensor>(out);
  };
  return {module, forward};
}

void bind_spatial_transformer(nb::module_& m) {
  nb::class_<vision::StnLocalization, Module>(
      m, "StnLocalization",
      "The PyTorch STN tutorial's localisation net for inputs of a fixed size: conv 7×7 C->8, max-pool 2, relu, "
      "conv 5×5 8->10, max-pool 2, relu, flatten, Linear(..., 32), relu. (B, C, H, W) -> (B, 32).")
      .def("__init__",
           [](vision::StnLocalization* self, int64_t in_channels, nb::handle input_size, Generator* generator) {
             const std::vector<int64_t> size = to_size_pair(input_size, "input_size");
             if (size.empty()) throw ValueError("StnLocalization: input_size (H, W) is required");
             new (self) vision::StnLocalization(in_channels, size[0], size[1], generator);
           },
           "in_channels"_a, "input_size"_a, nb::kw_only(), "generator"_a = nb::none())
      .def("forward", &forward_without_gil<vision::StnLocalization>, "x"_a)
      .def("__call__", &forward_without_gil<vision::StnLocalization>, "x"_a)
      .def_prop_ro("input_size", [](const vision::StnLocalization& l) { return nb::make_tuple(l.height, l.width); })
      .def_prop_ro("conv1", [](const vision::StnLocalization& l) { return l.conv1; })
      .def_prop_ro("conv2", [](const vision::StnLocalization& l) { return l.conv2; })
      .def_prop_ro("fc", [](const vision::StnLocalization& l) { return l.fc; });

  using vision::SpatialTransformer;
  nb::class_<SpatialTransformer, Module>(
      m, "SpatialTransformer",
      "Spatial Transformer (Jaderberg et al. 2015): θ = fc_loc(localization(x)).view(B, 2, 3), y = "
      "grid_sample(x, affine_grid(θ, (B, C, Ho, Wo))). fc_loc starts at the identity. localization: any "
      "attnkit.nn.Module returning (B, localization_features), or None for the STN tutorial's net "
      "(StnLocalization, which needs input_size). Maps of the last input: attention_map (the sampling grid "
      "(B, Ho, Wo, 2)), theta (B, 2, 3), warped (B, C, Ho, Wo).")
      .def("__init__",
           [](SpatialTransformer* self, int64_t in_channels, nb::handle input_size, nb::handle output_size,
              nb::handle localization, int64_t localization_features, const std::string& mode,
              const std::string& padding_mode, bool align_corners, Generator* generator) {
             vision::SpatialTransformerOptions o{.in_channels = in_channels,
                                                 .input_size = to_size_pair(input_size, "input_size"),
                                                 .output_size = to_size_pair(output_size, "output_size"),
                                                 .localization_features = localization_features,
                                                 .mode = mode,
                                                 .padding_mode = padding_mode,
                                                 .align_corners = align_corners};
             if (localization.is_none()) {
               new (self) SpatialTransformer(o, generator);
             } else {
               new (self) SpatialTransformer(o, python_localization(localization), generator);
             }
           },
           "in_channels"_a, "input_size"_a = nb::none(), "output_size"_a = nb::none(),
           "localization"_a = nb::none(), "localization_features"_a = 0, "mode"_a = "bilinear",
           "padding_mode"_a = "zeros", "align_corners"_a = false, nb::kw_only(), "generator"_a = nb::none())
      .def("forward", &forward_without_gil<SpatialTransformer>, "x"_a, "(B, C, H, W) -> (B, C, Ho, Wo)")
      .def("__call__", &forward_without_gil<SpatialTransformer>, "x"_a)
      .def_prop_ro("in_channels", [](const SpatialTransformer& s) { return s.options.in_channels; })
      .def_prop_ro("input_size", [](const SpatialTransformer& s) { return size_pair_object(s.options.input_size); })
      .def_prop_ro("output_size", [](const SpatialTransformer& s) { return size_pair_object(s.options.output_size); })
      .def_prop_ro("localization_features", [](const SpatialTransformer& s) { return s.fc_loc->in_features; })
      .def_prop_ro("mode", [](const SpatialTransformer& s) { return s.options.mode; })
      .def_prop_ro("padding_mode", [](const SpatialTransformer& s) { return s.options.padding_mode; })
      .def_prop_ro("align_corners", [](const SpatialTransformer& s) { return s.options.align_corners; })
      .def_prop_ro("localization", [](const SpatialTransformer& s) { return s.localization; })
      .def_prop_ro("fc_loc", [](const SpatialTransformer& s) { return s.fc_loc; })
      .def_prop_ro("attention_map", [](const SpatialTransformer& s) { return optional_tensor(s.attention_map()); },
                   "The sampling grid (B, Ho, Wo, 2) of the last input: where each output pixel read the input, "
                   "(x, y) in [-1, 1]; None before the first forward.")
      .def_prop_ro("theta", [](const SpatialTransformer& s) { return optional_tensor(s.theta()); },
                   "The affine transforms (B, 2, 3) of the last input; None before the first forward.")
      .def_prop_ro("warped", [](const SpatialTransformer& s) { return optional_tensor(s.warped()); },
                   "The last output (B, C, Ho, Wo), detached; None before the first forward.");
}

}  // namespace

void bind_vision_spatial_blocks(nb::module_& vision) {
  bind_non_local(vision);
  bind_residual_attention(vision);
  bind_spatial_transformer(vision);
}

}  // namespace attnkit::python
