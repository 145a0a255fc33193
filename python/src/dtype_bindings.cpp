// attnkit.dtype: the element types, an enum whose members are also module
// attributes (attnkit.float32, attnkit.bfloat16, attnkit.int64, attnkit.int32,
// attnkit.bool), printed as PyTorch prints torch.float32.
#include <nanobind/stl/string.h>

#include <string>

#include "bindings.h"

namespace attnkit::python {

void bind_dtype(nb::module_& m) {
  auto name = [](DType dtype) { return "attnkit." + std::string(dtype_name(dtype)); };
  nb::enum_<DType>(m, "dtype", "Element type of a Tensor.")
      .value("float32", DType::Float32, "32-bit IEEE float, the compute type")
      .value("bfloat16", DType::BFloat16, "bfloat16 storage type; ops compute in float32")
      .value("int64", DType::Int64, "64-bit signed integer (indices)")
      .value("int32", DType::Int32, "32-bit signed integer")
      .value("bool", DType::Bool, "boolean (masks)")
      .export_values()
      .def("__repr__", name)
      .def("__str__", name)
      .def_prop_ro("itemsize", [](DType dtype) { return dtype_size(dtype); },
                   "Bytes per element.")
      .def_prop_ro("is_floating_point", [](DType dtype) { return is_floating(dtype); });
}

}  // namespace attnkit::python
