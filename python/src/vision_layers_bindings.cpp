// attnkit._C: batch norm, pooling, adaptive pooling, upsampling and their nn modules.
//
// Functional ops on `_C` under torch.nn.functional's names, argument names and
// defaults (running with the GIL released); modules on `_C.nn` with torch's
// constructor arguments and attributes. Pooling sizes are taken as torch
// takes them: an int, or a sequence of one or two ints (None or an empty
// sequence for a default stride).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;

bool is_sequence(nb::handle obj) {
  PyObject* p = obj.ptr();
  return PyTuple_Check(p) || PyList_Check(p) ||
         (PySequence_Check(p) && !PyUnicode_Check(p) && !PyBytes_Check(p) && !nb::isinstance<Tensor>(obj));
}

std::vector<nb::object> sequence_items(nb::handle obj) {
  std::vector<nb::object> items;
  for (nb::handle item : nb::borrow<nb::sequence>(obj)) items.push_back(nb::borrow(item));
  return items;
}

std::string py_repr(nb::handle obj) { return nb::cast<std::string>(nb::repr(obj)); }

// An int, or a sequence of one (both dims) or two ints (h, w).
IntPair to_pair(nb::handle obj, const char* op, const char* what) {
  if (!is_sequence(obj)) return IntPair(to_int(obj, op, what));
  std::vector<nb::object> items = sequence_items(obj);
  if (items.size() == 1) return IntPair(to_int(items[0], op, what));
  if (items.size() == 2) return IntPair(to_int(items[0], op, what), to_int(items[1], op, what));
  throw ValueError(detail::concat(op, ": ", what, " must be an int or a tuple of two ints, got ", py_repr(obj)));
}

// As to_pair; None or an empty sequence (torch's stride=[]) is "not given".
std::optional<IntPair> to_optional_pair(nb::handle obj, const char* op, const char* what) {
  if (obj.is_none() || (is_sequence(obj) && nb::len(obj) == 0)) return std::nullopt;
  return to_pair(obj, op, what);
}

// The 1-d form: an int or a sequence of one int.
int64_t to_single(nb::handle obj, const char* op, const char* what) {
  if (!is_sequence(obj)) return to_int(obj, op, what);
  std::vector<nb::object> items = sequence_items(obj);
  if (items.size() == 1) return to_int(items[0], op, what);
  throw ValueError(detail::concat(op, ": ", what, " must be an int or a tuple of one int, got ", py_repr(obj)));
}

std::optional<int64_t> to_optional_single(nb::handle obj, const char* op, const char* what) {
  if (obj.is_none() || (is_sequence(obj) && nb::len(obj) == 0)) return std::nullopt;
  return to_single(obj, op, what);
}

std::optional<int64_t> to_optional_int(nb::handle obj, const char* op, const char* what) {
  if (obj.is_none()) return std::nullopt;
  return to_int(obj, op, what);
}

// output_size of adaptive pooling: an int, None, or (h, w) whose entries may be None.
AdaptiveSize to_adaptive_size(nb::handle obj, const char* op) {
  if (obj.is_none()) return AdaptiveSize(std::nullopt, std::nullopt);
  if (!is_sequence(obj)) return AdaptiveSize(to_int(obj, op, "output_size"));
  std::vector<nb::object> items = sequence_items(obj);
  auto entry = [&](const nb::object& item) { return to_optional_int(item, op, "output_size"); };
  if (items.size() == 1 && !items[0].is_none()) return AdaptiveSize(to_int(items[0], op, "output_size"));
  if (items.size() == 2) return AdaptiveSize(entry(items[0]), entry(items[1]));
  throw ValueError(detail::concat(op, ": output_size must be an int or a tuple of two ints or None, got ",
                                  py_repr(obj)));
}

nb::object pair_object(const IntPair& p) {
  return p.single ? nb::cast(p.h) : nb::object(nb::make_tuple(p.h, p.w));
}

nb::object adaptive_size_object(const AdaptiveSize& s) {
  auto one = [](const std::optional<int64_t>& v) { return v ? nb::cast(*v) : nb::none(); };
  return s.single ? one(s.h) : nb::object(nb::make_tuple(one(s.h), one(s.w)));
}

nb::object values_or_pair(const ValuesIndices& r, bool return_indices) {
  return return_indices ? nb::object(nb::make_tuple(r.values, r.indices)) : nb::cast(r.values);
}

// ---- functional ----

Tensor batch_norm_op(const Tensor& input, const Tensor* running_mean, const Tensor* running_var, const Tensor* weight,
                     const Tensor* bias, bool training, double momentum, double eps) {
  nb::gil_scoped_release release;
  return batch_norm(input, running_mean ? *running_mean : Tensor(), running_var ? *running_var : Tensor(),
                    weight ? *weight : Tensor(), bias ? *bias : Tensor(), training, momentum, eps);
}

nb::object max_pool2d_op(const Tensor& input, nb::handle kernel_size, nb::handle stride, nb::handle padding,
                         nb::handle dilation, bool ceil_mode, bool return_indices) {
  const char* op = "max_pool2d";
  const IntPair k = to_pair(kernel_size, op, "kernel_size"), p = to_pair(padding, op, "padding");
  const IntPair d = to_pair(dilation, op, "dilation");
  const std::optional<IntPair> s = to_optional_pair(stride, op, "stride");
  ValuesIndices r;
  {
    nb::gil_scoped_release release;
    r = max_pool2d_with_indices(input, k, s, p, d, ceil_mode);
  }
  return values_or_pair(r, return_indices);
}

Tensor avg_pool2d_op(const Tensor& input, nb::handle kernel_size, nb::handle stride, nb::handle padding,
                     bool ceil_mode, bool count_include_pad, nb::handle divisor_override) {
  const char* op = "avg_pool2d";
  const IntPair k = to_pair(kernel_size, op, "kernel_size"), p = to_pair(padding, op, "padding");
  const std::optional<IntPair> s = to_optional_pair(stride, op, "stride");
  const std::optional<int64_t> divisor = to_optional_int(divisor_override, op, "divisor_override");
  nb::gil_scoped_release release;
  return avg_pool2d(input, k, s, p, ceil_mode, count_include_pad, divisor);
}

nb::object max_pool1d_op(const Tensor& input, nb::handle kernel_size, nb::handle stride, nb::handle padding,
                         nb::handle dilation, bool ceil_mode, bool return_indices) {
  const char* op = "max_pool1d";
  const int64_t k = to_single(kernel_size, op, "kernel_size"), p = to_single(padding, op, "padding");
  const int64_t d = to_single(dilation, op, "dilation");
  const std::optional<int64_t> s = to_optional_single(stride, op, "stride");
  ValuesIndices r;
  {
    nb::gil_scoped_release release;
    r = max_pool1d_with_indices(input, k, s, p, d, ceil_mode);
  }
  return values_or_pair(r, return_indices);
}

Tensor avg_pool1d_op(const Tensor& input, nb::handle kernel_size, nb::handle stride, nb::handle padding,
                     bool ceil_mode, bool count_include_pad) {
  const char* op = "avg_pool1d";
  const int64_t k = to_single(kernel_size, op, "kernel_size"), p = to_single(padding, op, "padding");
  const std::optional<int64_t> s = to_optional_single(stride, op, "stride");
  nb::gil_scoped_release release;
  return avg_pool1d(input, k, s, p, ceil_mode, count_include_pad);
}

Tensor adaptive_avg_pool2d_op(const Tensor& input, nb::handle output_size) {
  const AdaptiveSize size = to_adaptive_size(output_size, "adaptive_avg_pool2d");
  nb::gil_scoped_release release;
  return adaptive_avg_pool2d(input, size);
}

nb::object adaptive_max_pool2d_op(const Tensor& input, nb::handle output_size, bool return_indices) {
  const AdaptiveSize size = to_adaptive_size(output_size, "adaptive_max_pool2d");
  ValuesIndices r;
  {
    nb::gil_scoped_release release;
    r = adaptive_max_pool2d_with_indices(input, size);
  }
  return values_or_pair(r, return_indices);
}

// size / scale_factor as torch's F.interpolate takes them: a number for every
// spatial dim, or a sequence with one entry per spatial dim of `input` (when
// the input is not known yet, as for nn.Upsample, the call checks later).
InterpolateOptions to_interpolate_options(const Tensor* input, nb::handle size, nb::handle scale_factor,
                                          const std::string& mode, std::optional<bool> align_corners,
                                          std::optional<bool> recompute_scale_factor) {
  InterpolateOptions o;
  o.mode = mode;
  o.align_corners = align_corners;
  o.recompute_scale_factor = recompute_scale_factor;
  auto check_length = [&](nb::handle seq, const char* what) {
    if (!input || input->dim() < 3 || static_cast<int64_t>(nb::len(seq)) == input->dim() - 2) return;
    Shape dims(input->shape().begin() + 2, input->shape().end());
    throw ValueError(detail::concat("interpolate: the input of shape ", shape_str(input->shape()), " has ",
                                    dims.size(), " spatial dims but ", what, " is ", py_repr(seq),
                                    "; give a number or one value per spatial dim"));
  };
  if (!size.is_none()) {
    if (is_sequence(size)) {
      check_length(size, "size");
      for (const nb::object& item : sequence_items(size)) o.size.push_back(to_int(item, "interpolate", "size"));
    } else {
      o.size.push_back(to_int(size, "interpolate", "size"));
    }
  }
  if (!scale_factor.is_none()) {
    if (is_sequence(scale_factor)) {
      check_length(scale_factor, "scale_factor");
      for (const nb::object& item : sequence_items(scale_factor)) o.scale_factor.push_back(nb::cast<double>(item));
    } else {
      o.scale_factor.push_back(nb::cast<double>(scale_factor));
    }
  }
  return o;
}

Tensor interpolate_op(const Tensor& input, nb::handle size, nb::handle scale_factor, const std::string& mode,
                      std::optional<bool> align_corners, std::optional<bool> recompute_scale_factor, bool antialias) {
  if (antialias) throw ValueError("interpolate: antialias=True is not supported");
  InterpolateOptions o =
      to_interpolate_options(&input, size, scale_factor, mode, align_corners, recompute_scale_factor);
  nb::gil_scoped_release release;
  return interpolate(input, o);
}

void bind_functional(nb::module_& m) {
  m.def("batch_norm", &batch_norm_op, "input"_a, "running_mean"_a.none(), "running_var"_a.none(),
        "weight"_a.none() = nb::none(), "bias"_a.none() = nb::none(), "training"_a = false, "momentum"_a = 0.1,
        "eps"_a = 1e-5,
        "Batch normalisation over (N, C, ...) per channel, as torch.nn.functional.batch_norm: batch statistics "
        "in training (running_mean / running_var updated in place, the variance unbiased), running statistics "
        "in eval.");
  m.def("max_pool2d", &max_pool2d_op, "input"_a, "kernel_size"_a, "stride"_a = nb::none(), "padding"_a = 0,
        "dilation"_a = 1, "ceil_mode"_a = false, "return_indices"_a = false,
        "2-D max pooling of (N, C, H, W) or (C, H, W); with return_indices, (output, indices into H * W).");
  m.def("avg_pool2d", &avg_pool2d_op, "input"_a, "kernel_size"_a, "stride"_a = nb::none(), "padding"_a = 0,
        "ceil_mode"_a = false, "count_include_pad"_a = true, "divisor_override"_a = nb::none(),
        "2-D average pooling of (N, C, H, W) or (C, H, W).");
  m.def("max_pool1d", &max_pool1d_op, "input"_a, "kernel_size"_a, "stride"_a = nb::none(), "padding"_a = 0,
        "dilation"_a = 1, "ceil_mode"_a = false, "return_indices"_a = false,
        "1-D max pooling of (N, C, L) or (C, L); with return_indices, (output, indices into L).");
  m.def("avg_pool1d", &avg_pool1d_op, "input"_a, "kernel_size"_a, "stride"_a = nb::none(), "padding"_a = 0,
        "ceil_mode"_a = false, "count_include_pad"_a = true, "1-D average pooling of (N, C, L) or (C, L).");
  m.def("adaptive_avg_pool2d", &adaptive_avg_pool2d_op, "input"_a, "output_size"_a.none(),
        "Adaptive average pooling to output_size (an int, or (h, w) with None keeping a dim).");
  m.def("adaptive_max_pool2d", &adaptive_max_pool2d_op, "input"_a, "output_size"_a.none(), "return_indices"_a = false,
        "Adaptive max pooling to output_size; with return_indices, (output, indices into H * W).");
  m.def("interpolate", &interpolate_op, "input"_a, "size"_a = nb::none(), "scale_factor"_a = nb::none(),
        "mode"_a = "nearest", "align_corners"_a = nb::none(), "recompute_scale_factor"_a = nb::none(),
        "antialias"_a = false,
        "Resizes (N, C, L) or (N, C, H, W) to size or by scale_factor: modes nearest, nearest-exact, linear "
        "(3-D), bilinear (4-D), area; torch's index rules.");
}

// ---- modules ----

template <typename Module>
Tensor forward_without_gil(Module& module, const Tensor& input) {
  nb::gil_scoped_release release;
  return module.forward(input);
}

template <typename BatchNorm>
void bind_batch_norm_class(nb::module_& nn, const char* name, const char* doc) {
  nb::class_<BatchNorm, nn::BatchNormBase>(nn, name, doc)
      .def("__init__",
           [](BatchNorm* self, int64_t num_features, double eps, std::optional<double> momentum, bool affine,
              bool track_running_stats, bool bias) {
             new (self) BatchNorm(nn::BatchNormOptions{.num_features = num_features,
                                                       .eps = eps,
                                                       .momentum = momentum,
                                                       .affine = affine,
                                                       .track_running_stats = track_running_stats,
                                                       .bias = bias});
           },
           "num_features"_a, "eps"_a = 1e-5, "momentum"_a.none() = 0.1, "affine"_a = true,
           "track_running_stats"_a = true, nb::kw_only(), "bias"_a = true);
}

void bind_modules(nb::module_& nn) {
  auto optional_tensor = [](const Tensor& t) { return t.defined() ? nb::cast(t) : nb::none(); };
  nb::class_<nn::BatchNormBase, nn::Module>(nn, "_BatchNorm", "What BatchNorm1d and BatchNorm2d share.")
      .def("forward", &forward_without_gil<nn::BatchNormBase>, "input"_a)
      .def("__call__", &forward_without_gil<nn::BatchNormBase>, "input"_a)
      .def("reset_running_stats", &nn::BatchNormBase::reset_running_stats)
      .def("reset_parameters", &nn::BatchNormBase::reset_parameters)
      .def_ro("num_features", &nn::BatchNormBase::num_features)
      .def_rw("eps", &nn::BatchNormBase::eps)
      .def_rw("momentum", &nn::BatchNormBase::momentum)
      .def_ro("affine", &nn::BatchNormBase::affine)
      .def_ro("track_running_stats", &nn::BatchNormBase::track_running_stats)
      .def_prop_ro("weight", [=](const nn::BatchNormBase& b) { return optional_tensor(b.weight); })
      .def_prop_ro("bias", [=](const nn::BatchNormBase& b) { return optional_tensor(b.bias); })
      .def_prop_ro("running_mean", [=](const nn::BatchNormBase& b) { return optional_tensor(b.running_mean); })
      .def_prop_ro("running_var", [=](const nn::BatchNormBase& b) { return optional_tensor(b.running_var); })
      .def_prop_ro("num_batches_tracked",
                   [=](const nn::BatchNormBase& b) { return optional_tensor(b.num_batches_tracked); });
  bind_batch_norm_class<nn::BatchNorm1d>(nn, "BatchNorm1d",
                                         "Batch normalisation of (N, C) or (N, C, L), as torch.nn.BatchNorm1d.");
  bind_batch_norm_class<nn::BatchNorm2d>(nn, "BatchNorm2d",
                                         "Batch normalisation of (N, C, H, W), as torch.nn.BatchNorm2d; the "
                                         "state_dict of torch's loads unchanged.");

  auto max_pool_forward = [](const nn::MaxPool2d& self, const Tensor& input) {
    ValuesIndices r;
    {
      nb::gil_scoped_release release;
      r = self.forward_with_indices(input);
    }
    return values_or_pair(r, self.return_indices);
  };
  nb::class_<nn::MaxPool2d, nn::Module>(nn, "MaxPool2d", "2-D max pooling, as torch.nn.MaxPool2d.")
      .def("__init__",
           [](nn::MaxPool2d* self, nb::handle kernel_size, nb::handle stride, nb::handle padding, nb::handle dilation,
              bool return_indices, bool ceil_mode) {
             const char* op = "MaxPool2d";
             new (self) nn::MaxPool2d(to_pair(kernel_size, op, "kernel_size"), to_optional_pair(stride, op, "stride"),
                                      to_pair(padding, op, "padding"), to_pair(dilation, op, "dilation"),
                                      return_indices, ceil_mode);
           },
           "kernel_size"_a, "stride"_a = nb::none(), "padding"_a = 0, "dilation"_a = 1, "return_indices"_a = false,
           "ceil_mode"_a = false)
      .def("forward", max_pool_forward, "input"_a)
      .def("__call__", max_pool_forward, "input"_a)
      .def_prop_ro("kernel_size", [](const nn::MaxPool2d& p) { return pair_object(p.kernel_size); })
      .def_prop_ro("stride", [](const nn::MaxPool2d& p) { return pair_object(p.stride); })
      .def_prop_ro("padding", [](const nn::MaxPool2d& p) { return pair_object(p.padding); })
      .def_prop_ro("dilation", [](const nn::MaxPool2d& p) { return pair_object(p.dilation); })
      .def_ro("return_indices", &nn::MaxPool2d::return_indices)
      .def_ro("ceil_mode", &nn::MaxPool2d::ceil_mode);

  nb::class_<nn::AvgPool2d, nn::Module>(nn, "AvgPool2d", "2-D average pooling, as torch.nn.AvgPool2d.")
      .def("__init__",
           [](nn::AvgPool2d* self, nb::handle kernel_size, nb::handle stride, nb::handle padding, bool ceil_mode,
              bool count_include_pad, nb::handle divisor_override) {
             const char* op = "AvgPool2d";
             new (self) nn::AvgPool2d(to_pair(kernel_size, op, "kernel_size"), to_optional_pair(stride, op, "stride"),
                                      to_pair(padding, op, "padding"), ceil_mode, count_include_pad,
                                      to_optional_int(divisor_override, op, "divisor_override"));
           },
           "kernel_size"_a, "stride"_a = nb::none(), "padding"_a = 0, "ceil_mode"_a = false,
           "count_include_pad"_a = true, "divisor_override"_a = nb::none())
      .def("forward", &forward_without_gil<const nn::AvgPool2d>, "input"_a)
      .def("__call__", &forward_without_gil<const nn::AvgPool2d>, "input"_a)
      .def_prop_ro("kernel_size", [](const nn::AvgPool2d& p) { return pair_object(p.kernel_size); })
      .def_prop_ro("stride", [](const nn::AvgPool2d& p) { return pair_object(p.stride); })
      .def_prop_ro("padding", [](const nn::AvgPool2d& p) { return pair_object(p.padding); })
      .def_ro("ceil_mode", &nn::AvgPool2d::ceil_mode)
      .def_ro("count_include_pad", &nn::AvgPool2d::count_include_pad)
      .def_ro("divisor_override", &nn::AvgPool2d::divisor_override);

  nb::class_<nn::AdaptiveAvgPool2d, nn::Module>(nn, "AdaptiveAvgPool2d",
                                                "Adaptive average pooling, as torch.nn.AdaptiveAvgPool2d.")
      .def("__init__",
           [](nn::AdaptiveAvgPool2d* self, nb::handle output_size) {
             new (self) nn::AdaptiveAvgPool2d(to_adaptive_size(output_size, "AdaptiveAvgPool2d"));
           },
           "output_size"_a.none())
      .def("forward", &forward_without_gil<const nn::AdaptiveAvgPool2d>, "input"_a)
      .def("__call__", &forward_without_gil<const nn::AdaptiveAvgPool2d>, "input"_a)
      .def_prop_ro("output_size", [](const nn::AdaptiveAvgPool2d& p) { return adaptive_size_object(p.output_size); });

  auto adaptive_max_forward = [](const nn::AdaptiveMaxPool2d& self, const Tensor& input) {
    ValuesIndices r;
    {
      nb::gil_scoped_release release;
      r = self.forward_with_indices(input);
    }
    return values_or_pair(r, self.return_indices);
  };
  nb::class_<nn::AdaptiveMaxPool2d, nn::Module>(nn, "AdaptiveMaxPool2d",
                                                "Adaptive max pooling, as torch.nn.AdaptiveMaxPool2d.")
      .def("__init__",
           [](nn::AdaptiveMaxPool2d* self, nb::handle output_size, bool return_indices) {
             new (self) nn::AdaptiveMaxPool2d(to_adaptive_size(output_size, "AdaptiveMaxPool2d"), return_indices);
           },
           "output_size"_a.none(), "return_indices"_a = false)
      .def("forward", adaptive_max_forward, "input"_a)
      .def("__call__", adaptive_max_forward, "input"_a)
      .def_prop_ro("output_size", [](const nn::AdaptiveMaxPool2d& p) { return adaptive_size_object(p.output_size); })
      .def_ro("return_indices", &nn::AdaptiveMaxPool2d::return_indices);

  nb::class_<nn::Upsample, nn::Module>(nn, "Upsample", "Upsampling by interpolate, as torch.nn.Upsample.")
      .def("__init__",
           [](nn::Upsample* self, nb::handle size, nb::handle scale_factor, const std::string& mode,
              std::optional<bool> align_corners, std::optional<bool> recompute_scale_factor) {
             new (self) nn::Upsample(
                 to_interpolate_options(nullptr, size, scale_factor, mode, align_corners, recompute_scale_factor));
           },
           "size"_a = nb::none(), "scale_factor"_a = nb::none(), "mode"_a = "nearest", "align_corners"_a = nb::none(),
           "recompute_scale_factor"_a = nb::none())
      .def("forward", &forward_without_gil<const nn::Upsample>, "input"_a)
      .def("__call__", &forward_without_gil<const nn::Upsample>, "input"_a)
      .def_prop_ro("size",
                   [](const nn::Upsample& u) -> nb::object {
                     const auto& s = u.options.size;
                     if (s.empty()) return nb::none();
                     if (s.size() == 1) return nb::cast(s[0]);
                     return nb::tuple(nb::cast(s));
                   })
      .def_prop_ro("scale_factor",
                   [](const nn::Upsample& u) -> nb::object {
                     const auto& s = u.options.scale_factor;
                     if (s.empty()) return nb::none();
                     if (s.size() == 1) return nb::cast(s[0]);
                     return nb::tuple(nb::cast(s));
                   })
      .def_prop_ro("mode", [](const nn::Upsample& u) { return u.options.mode; })
      .def_prop_ro("align_corners", [](const nn::Upsample& u) { return u.options.align_corners; })
      .def_prop_ro("recompute_scale_factor", [](const nn::Upsample& u) { return u.options.recompute_scale_factor; });
}

}  // namespace

void bind_vision_layers(nb::module_& m) {
  bind_functional(m);
  nb::module_ nn = nb::borrow<nb::module_>(m.attr("nn"));
  bind_modules(nn);
}

}  // namespace attnkit::python
