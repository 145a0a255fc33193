#pragma once
// What the bindings of many modules share: a forward that releases the GIL,
// a tensor that may be absent as Python's None, and lists of child modules
// that Python indexes and iterates (nn::ModuleList<M>).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>

#include <optional>

#include "bindings.h"

namespace attnkit::python {

// block.forward(input) with the GIL released, for .def("forward", ...) and __call__.
template <typename Block>
Tensor forward_without_gil(Block& block, const Tensor& input) {
  nb::gil_scoped_release release;
  return block.forward(input);
}

// An undefined tensor (an absent bias, a map before the first forward) as None.
inline std::optional<Tensor> optional_tensor(const Tensor& t) {
  return t.defined() ? std::optional<Tensor>(t) : std::nullopt;
}

// nn::ModuleList<M> as a Python class: len(), [i] (negative i from the end), iteration.
template <typename M>
void bind_module_list(nb::module_& m, const char* name, const char* doc = "An indexable list of modules.") {
  using List = nn::ModuleList<M>;
  nb::class_<List, nn::Module>(m, name, doc)
      .def("__len__", &List::size)
      .def("__getitem__",
           [](const List& list, int64_t i) {
             const int64_t n = static_cast<int64_t>(list.size());
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw nb::index_error("ModuleList index out of range");
             return list.items()[static_cast<size_t>(i)];
           })
      .def("__iter__", [](const List& list) {
        nb::list items;
        for (const auto& item : list.items()) items.append(item);
        return items.attr("__iter__")();
      });
}

}  // namespace attnkit::python
