// Reductions with PyTorch's signatures: sum/mean(input, dim=None,
// keepdim=False), amax(input, dim=(), keepdim=False), var/std(input, dim=None, unbiased=None, keepdim=False, *,
// correction=None), max/min(input[, dim | other][, keepdim]) returning a
// (values, indices) named tuple with a dim, argmax/argmin.
#include <nanobind/stl/optional.h>

#include "convert.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using OptDType = std::optional<DType>;

// attnkit.return_types.max / .min (re-exported by attnkit/return_types.py),
// owned by the module as _C._max_result / _C._min_result.
nb::handle g_max_type;
nb::handle g_min_type;

// Reduce over `dim` (None, an int or a tuple). None or () means every dim,
// which with keepdim=True keeps them all as size 1.
template <typename AllFn, typename DimsFn>
Tensor reduce(const Tensor& x, nb::handle dim, bool keepdim, const char* op, AllFn all, DimsFn dims_fn) {
  std::optional<Shape> dims = to_dims(dim, op);
  if (!dims || dims->empty()) {
    if (!keepdim) return all(x);
    return dims_fn(x, all_dims(x), true);
  }
  return dims_fn(x, *dims, keepdim);
}

Tensor sum_op(const Tensor& x, nb::handle dim, bool keepdim, OptDType dtype) {
  Tensor input = dtype ? x.to(*dtype) : x;
  return reduce(input, dim, keepdim, "sum", [](const Tensor& t) { return sum(t); },
                [](const Tensor& t, const Shape& d, bool k) { return sum(t, d, k); });
}

Tensor mean_op(const Tensor& x, nb::handle dim, bool keepdim, OptDType dtype) {
  Tensor input = dtype ? x.to(*dtype) : x;
  return reduce(input, dim, keepdim, "mean", [](const Tensor& t) { return mean(t); },
                [](const Tensor& t, const Shape& d, bool k) { return mean(t, d, k); });
}

// The three spellings of Bessel's correction: var(x, True) (legacy
// unbiased), unbiased=..., correction=... .
Tensor var_op(const Tensor& x, nb::handle dim, std::optional<bool> unbiased, bool keepdim,
              std::optional<double> correction) {
  if (PyBool_Check(dim.ptr())) {  // var(input, unbiased)
    unbiased = dim.ptr() == Py_True;
    dim = nb::none();
  }
  if (unbiased && correction) {
    throw ValueError("var: pass either unbiased or correction, not both");
  }
  int64_t c = 1;
  if (unbiased) c = *unbiased ? 1 : 0;
  if (correction) {
    c = static_cast<int64_t>(*correction);
    if (static_cast<double>(c) != *correction) {
      throw ValueError(detail::concat("var: correction must be a whole number, got ", *correction));
    }
  }
  return reduce(x, dim, keepdim, "var", [c](const Tensor& t) { return var(t, c); },
                [c](const Tensor& t, const Shape& d, bool k) { return var(t, d, c, k); });
}

Tensor std_op(const Tensor& x, nb::handle dim, std::optional<bool> unbiased, bool keepdim,
              std::optional<double> correction) {
  return sqrt(var_op(x, dim, unbiased, keepdim, correction));
}

// amax(input, dim=(), keepdim=False): dim None or () means every dim.
Tensor amax_op(const Tensor& x, nb::handle dim, bool keepdim) {
  std::optional<Shape> dims = to_dims(dim, "amax");
  const Dims reduced = dims ? *dims : Dims{};
  nb::gil_scoped_release release;
  return amax(x, reduced, keepdim);
}

// max(input) -> 0-d; max(input, dim, keepdim) -> (values, indices);
// max(input, other) -> maximum(input, other).
template <bool IsMax>
nb::object extremum(const Tensor& x, nb::handle dim_or_other, bool keepdim) {
  if (dim_or_other.is_none()) return nb::cast(IsMax ? max(x) : min(x));
  if (nb::isinstance<Tensor>(dim_or_other)) {
    const Tensor& other = nb::cast<const Tensor&>(dim_or_other);
    return nb::cast(IsMax ? maximum(x, other) : minimum(x, other));
  }
  const int64_t dim = to_int(dim_or_other, IsMax ? "max" : "min", "dim");
  ValuesIndices result = IsMax ? max(x, dim, keepdim) : min(x, dim, keepdim);
  return (IsMax ? g_max_type : g_min_type)(nb::cast(std::move(result.values)),
                                          nb::cast(std::move(result.indices)));
}

// argmax/argmin; with no dim, the index into the flattened tensor.
template <bool IsMax>
Tensor arg_extremum(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (dim) return IsMax ? argmax(x, *dim, keepdim) : argmin(x, *dim, keepdim);
  Tensor index = IsMax ? argmax(x) : argmin(x);
  if (keepdim) return index.reshape(Shape(static_cast<size_t>(x.dim()), 1));
  return index;
}

}  // namespace

void bind_reduce(nb::module_& m, TensorClass& cls) {
  nb::object namedtuple = nb::module_::import_("collections").attr("namedtuple");
  m.attr("_max_result") = namedtuple("max", nb::make_tuple("values", "indices"),
                                     "module"_a = "attnkit.return_types");
  m.attr("_min_result") = namedtuple("min", nb::make_tuple("values", "indices"),
                                     "module"_a = "attnkit.return_types");
  g_max_type = m.attr("_max_result");
  g_min_type = m.attr("_min_result");

  m.def("sum", &sum_op, "input"_a, "dim"_a = nb::none(), "keepdim"_a = false, nb::kw_only(),
        "dtype"_a = nb::none(),
        "Sum over all elements, or over dim (an int or a tuple of ints).");
  cls.def("sum", &sum_op, "dim"_a = nb::none(), "keepdim"_a = false, nb::kw_only(),
          "dtype"_a = nb::none());
  m.def("mean", &mean_op, "input"_a, "dim"_a = nb::none(), "keepdim"_a = false, nb::kw_only(),
        "dtype"_a = nb::none(), "Mean over all elements, or over dim (an int or a tuple of ints).");
  cls.def("mean", &mean_op, "dim"_a = nb::none(), "keepdim"_a = false, nb::kw_only(),
          "dtype"_a = nb::none());
  m.def("var", &var_op, "input"_a, "dim"_a = nb::none(), "unbiased"_a = nb::none(),
        "keepdim"_a = false, nb::kw_only(), "correction"_a = nb::none(),
        "Variance with Bessel's correction (correction=1) unless told otherwise.");
  cls.def("var", &var_op, "dim"_a = nb::none(), "unbiased"_a = nb::none(), "keepdim"_a = false,
          nb::kw_only(), "correction"_a = nb::none());
  m.def("std", &std_op, "input"_a, "dim"_a = nb::none(), "unbiased"_a = nb::none(),
        "keepdim"_a = false, nb::kw_only(), "correction"_a = nb::none(),
        "Standard deviation: sqrt(var(...)).");
  cls.def("std", &std_op, "dim"_a = nb::none(), "unbiased"_a = nb::none(), "keepdim"_a = false,
          nb::kw_only(), "correction"_a = nb::none());

  m.def("max", &extremum<true>, "input"_a, "dim"_a = nb::none(), "keepdim"_a = false,
        "max(input) -> 0-d; max(input, dim, keepdim=False) -> (values, indices); "
        "max(input, other) -> maximum(input, other).");
  cls.def("max", &extremum<true>, "dim"_a = nb::none(), "keepdim"_a = false);
  m.def("min", &extremum<false>, "input"_a, "dim"_a = nb::none(), "keepdim"_a = false,
        "min(input) -> 0-d; min(input, dim, keepdim=False) -> (values, indices); "
        "min(input, other) -> minimum(input, other).");
  cls.def("min", &extremum<false>, "dim"_a = nb::none(), "keepdim"_a = false);
  m.def("amax", &amax_op, "input"_a, "dim"_a = nb::tuple(), "keepdim"_a = false,
        "The maximum over dim (an int or a tuple; () or None: every dim), as torch.amax: NaN propagates, and "
        "the gradient is split evenly among tied maxima.");
  cls.def("amax", &amax_op, "dim"_a = nb::tuple(), "keepdim"_a = false);
  m.def("argmax", &arg_extremum<true>, "input"_a, "dim"_a = nb::none(), "keepdim"_a = false,
        "Index of the first maximum (int64), over the flattened tensor or along dim.");
  cls.def("argmax", &arg_extremum<true>, "dim"_a = nb::none(), "keepdim"_a = false);
  m.def("argmin", &arg_extremum<false>, "input"_a, "dim"_a = nb::none(), "keepdim"_a = false,
        "Index of the first minimum (int64), over the flattened tensor or along dim.");
  cls.def("argmin", &arg_extremum<false>, "dim"_a = nb::none(), "keepdim"_a = false);
}

}  // namespace attnkit::python
