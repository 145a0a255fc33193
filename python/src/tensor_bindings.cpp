// attnkit.Tensor: metadata, views, copies, conversions to Python numbers.
//
// A Python Tensor wraps a C++ Tensor handle (one shared_ptr), so views and
// results are new Python objects over shared storage, as in PyTorch. The
// number protocol is in operators_bindings.cpp, indexing in indexing.cpp,
// NumPy/DLPack in interop.cpp, the op methods (t.sum(), t.exp(), ...) beside
// their module functions.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <algorithm>

#include "convert.h"

namespace attnkit::python {

namespace {

// The element of a one-element tensor as the matching Python type: int for
// integer tensors (read exactly, not through double), bool for bool, float
// otherwise.
nb::object item_object(const Tensor& t, const char* op) {
  if (t.numel() != 1) {
    throw ValueError(detail::concat(op, ": expected a tensor with one element, got shape ",
                                    shape_str(t.shape()), " (", t.numel(), " elements)"));
  }
  switch (t.dtype()) {
    case DType::Int64: return nb::int_(*static_cast<const int64_t*>(t.data_ptr()));
    case DType::Int32: return nb::int_(*static_cast<const int32_t*>(t.data_ptr()));
    case DType::Bool: return nb::bool_(*static_cast<const bool*>(t.data_ptr()));
    default: return nb::float_(t.item());
  }
}

Tensor squeeze_dims(const Tensor& t, nb::handle dim) {
  std::optional<Shape> dims = to_dims(dim, "squeeze");
  if (!dims) return t.squeeze();
  // Squeeze from the last dim down, so earlier dims keep their numbers.
  Shape wrapped = *dims;
  for (int64_t& d : wrapped) d = wrap_dim(d, t.dim(), "squeeze");
  std::sort(wrapped.rbegin(), wrapped.rend());
  Tensor out = t;
  for (int64_t d : wrapped) out = out.squeeze(d);
  return out;
}

void check_cpu(std::string_view device, const char* op) {
  if (device != "cpu") {
    throw ValueError(detail::concat(op, ": attnkit tensors live on the CPU, got device '",
                                    device, "'"));
  }
}

}  // namespace

void bind_tensor(nb::module_& m, TensorClass& cls) {
  using namespace nb::literals;

  // ---- metadata ----
  cls.def_prop_ro("shape", [](const Tensor& t) { return to_tuple(t.shape()); },
                  "The sizes of the dims, as a tuple.")
      .def_prop_ro("dtype", &Tensor::dtype)
      .def_prop_ro("ndim", &Tensor::dim)
      .def_prop_ro("device", [](const Tensor&) { return "cpu"; },
                   "Always 'cpu' (kept for code written against PyTorch).")
      .def_prop_ro("is_leaf", &Tensor::is_leaf)
      .def("dim", &Tensor::dim)
      .def("ndimension", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("nelement", &Tensor::numel)
      .def("element_size", [](const Tensor& t) { return dtype_size(t.dtype()); })
      .def(
          "size",
          [](const Tensor& t, std::optional<int64_t> dim) -> nb::object {
            if (dim) return nb::int_(t.size(*dim));
            return to_tuple(t.shape());
          },
          "dim"_a = nb::none())
      .def(
          "stride",
          [](const Tensor& t, std::optional<int64_t> dim) -> nb::object {
            if (dim) return nb::int_(t.stride(*dim));
            return to_tuple(t.strides());
          },
          "dim"_a = nb::none(), "Strides in elements.")
      .def("storage_offset", &Tensor::offset, "Offset of element 0 in its storage, in elements.")
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()); },
           "Address of element 0.")
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("is_floating_point", [](const Tensor& t) { return is_floating(t.dtype()); })
      .def("__repr__", &Tensor::to_string)
      .def("__str__", &Tensor::to_string);

  // ---- Python numbers and containers ----
  cls.def("item", [](const Tensor& t) { return item_object(t, "item"); },
          "The value of a one-element tensor as a Python number.")
      .def("__float__", [](const Tensor& t) { return nb::float_(item_object(t, "float()")); })
      .def("__int__",
           [](const Tensor& t) {
             // int() truncates floats toward zero, as int(2.7) does.
             nb::object value = item_object(t, "int()");
             nb::object as_int = nb::steal(PyNumber_Long(value.ptr()));
             if (!as_int.is_valid()) throw nb::python_error();
             return as_int;
           })
      .def("__index__",
           [](const Tensor& t) {
             if (!is_integral(t.dtype()) || t.numel() != 1) {
               throw nb::type_error(
                   "only integer tensors of a single element can be converted to an index");
             }
             return item_object(t, "__index__");
           })
      .def("__bool__",
           [](const Tensor& t) {
             if (t.numel() != 1) {
               throw ValueError(detail::concat(
                   "bool(): the truth value of a tensor with ", t.numel(),
                   " elements is ambiguous (expected a tensor with one element)"));
             }
             return t.item() != 0.0;
           })
      .def("__len__",
           [](const Tensor& t) {
             if (t.dim() == 0) throw nb::type_error("len() of a 0-d tensor");
             return t.size(0);
           })
      .def("__iter__",
           [](const Tensor& t) {
             if (t.dim() == 0) throw nb::type_error("iteration over a 0-d tensor");
             nb::list rows;
             for (int64_t i = 0; i < t.size(0); ++i) rows.append(t.select(0, i));
             return nb::iter(rows);
           })
      // Identity hash, as torch.Tensor: == is elementwise, so equal-valued
      // tensors are still distinct keys.
      .def("__hash__",
           [](nb::handle self) { return static_cast<Py_hash_t>(reinterpret_cast<uintptr_t>(self.ptr()) >> 4); })
      .def("__copy__", [](const Tensor& t) { return t; })
      .def("__deepcopy__",
           [](const Tensor& t, nb::handle /*memo*/) {
             Tensor copy = t.detach().clone();
             if (t.requires_grad()) copy.set_requires_grad(true);
             return copy;
           },
           "memo"_a);

  // ---- views (share storage; differentiable) ----
  cls.def("reshape",
          [](const Tensor& t, nb::args shape) { return t.reshape(shape_from_args(shape, "reshape")); },
          "shape"_a, "reshape(*shape) or reshape(shape); a view when possible, else a copy.")
      .def("view", [](const Tensor& t, nb::args shape) { return t.view(shape_from_args(shape, "view")); },
           "shape"_a, "view(*shape) or view(shape); an error if the data cannot be viewed so.")
      .def("view_as", [](const Tensor& t, const Tensor& other) { return t.view(other.shape()); },
           "other"_a)
      .def("reshape_as", [](const Tensor& t, const Tensor& other) { return t.reshape(other.shape()); },
           "other"_a)
      .def("permute",
           [](const Tensor& t, nb::args dims) { return t.permute(shape_from_args(dims, "permute")); },
           "dims"_a)
      .def("transpose", &Tensor::transpose, "dim0"_a, "dim1"_a)
      .def("swapaxes", &Tensor::transpose, "axis0"_a, "axis1"_a)
      .def("t", &Tensor::t)
      .def_prop_ro("T",
                   [](const Tensor& t) {
                     Shape reversed(static_cast<size_t>(t.dim()));
                     for (int64_t d = 0; d < t.dim(); ++d) reversed[d] = t.dim() - 1 - d;
                     return t.permute(reversed);
                   },
                   "All dims reversed.")
      .def_prop_ro("mT", [](const Tensor& t) { return t.transpose(-2, -1); },
                   "The last two dims swapped (a batch of matrices transposed).")
      .def("narrow", &Tensor::narrow, "dim"_a, "start"_a, "length"_a)
      .def("select", &Tensor::select, "dim"_a, "index"_a)
      .def("expand",
           [](const Tensor& t, nb::args sizes) { return t.expand(shape_from_args(sizes, "expand")); },
           "sizes"_a, "expand(*sizes) or expand(sizes); -1 keeps a size.")
      .def("expand_as", [](const Tensor& t, const Tensor& other) { return t.expand(other.shape()); },
           "other"_a)
      .def("squeeze", &squeeze_dims, "dim"_a = nb::none(),
           "Removes size-1 dims: all of them, or the given dim(s).")
      .def("unsqueeze", &Tensor::unsqueeze, "dim"_a)
      .def("flatten", &Tensor::flatten, "start_dim"_a = 0, "end_dim"_a = -1);

  // ---- copies and dtype changes ----
  cls.def("contiguous", &Tensor::contiguous, "self if already contiguous, else a copy.")
      .def("clone", &Tensor::clone)
      .def(
          "to",
          [](const Tensor& t, DType dtype, bool copy) {
            Tensor out = t.to(dtype);
            return copy && out.shares_storage_with(t) ? out.clone() : out;
          },
          "dtype"_a, "copy"_a = false)
      .def("to", [](const Tensor& t, const Tensor& other) { return t.to(other.dtype()); },
           "other"_a)
      .def(
          "to",
          [](const Tensor& t, std::string_view device, std::optional<DType> dtype) {
            check_cpu(device, "to");
            return dtype ? t.to(*dtype) : t;
          },
          "device"_a, "dtype"_a = nb::none())
      .def("type_as", [](const Tensor& t, const Tensor& other) { return t.to(other.dtype()); },
           "other"_a)
      .def("cpu", [](const Tensor& t) { return t; }, "self (attnkit tensors live on the CPU).")
      .def("float", [](const Tensor& t) { return t.to(kFloat32); })
      .def("bfloat16", [](const Tensor& t) { return t.to(kBFloat16); })
      .def("long", [](const Tensor& t) { return t.to(kInt64); })
      .def("int", [](const Tensor& t) { return t.to(kInt32); })
      .def("bool", [](const Tensor& t) { return t.to(kBool); });

  // ---- in place (not recorded by autograd) ----
  // These return self, the same Python object, as PyTorch does.
  cls.def(
         "fill_",
         [](nb::handle self, double value) {
           Tensor& t = nb::cast<Tensor&>(self);
           check_inplace_allowed(t, "fill_");
           t.fill_(value);
           return nb::borrow(self);
         },
         "value"_a)
      .def("zero_",
           [](nb::handle self) {
             Tensor& t = nb::cast<Tensor&>(self);
             check_inplace_allowed(t, "zero_");
             t.zero_();
             return nb::borrow(self);
           })
      .def(
          "copy_",
          [](nb::handle self, const Tensor& src) {
            Tensor& t = nb::cast<Tensor&>(self);
            check_inplace_allowed(t, "copy_");
            t.copy_(src);
            return nb::borrow(self);
          },
          "src"_a, "Copies src (broadcast to this shape, converted to this dtype) into self.");

  (void)m;
}

}  // namespace attnkit::python
