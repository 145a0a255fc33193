// attnkit._C.io: safetensors files, with the names of the `safetensors`
// package (save_file, load_file) so code moves between the two.
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "bindings.h"

namespace attnkit::python {

namespace {
using namespace nb::literals;
}

void bind_io(nb::module_& m) {
  nb::module_ io = m.def_submodule("io", "Files: safetensors");
  io.def(
      "save_file",
      [](const std::map<std::string, Tensor>& tensors, const std::string& filename,
         std::optional<std::map<std::string, std::string>> metadata) {
        nb::gil_scoped_release release;
        io::save_safetensors(filename, tensors, metadata.value_or(std::map<std::string, std::string>{}));
      },
      "tensors"_a, "filename"_a, "metadata"_a = nb::none(),
      "Writes {name: Tensor} as a safetensors file, atomically (a crash leaves the old file).");
  io.def(
      "load_file",
      [](const std::string& filename) {
        nb::gil_scoped_release release;
        return io::load_safetensors(filename);
      },
      "filename"_a,
      "{name: Tensor} from a safetensors file, memory-mapped (F32, BF16, I64, I32, BOOL tensors are views of "
      "the mapping; F16, F64 and small integers are converted to float32).");
  io.def(
      "load_metadata",
      [](const std::string& filename) { return io::SafetensorsFile(filename).header().metadata; }, "filename"_a,
      "The __metadata__ strings of a safetensors file.");
}

}  // namespace attnkit::python
