// Autograd from Python: requires_grad, grad, grad_fn, backward, detach, and
// the grad-mode switch under attnkit.no_grad() (attnkit/grad_mode.py).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>

#include <new>

#include "convert.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;

void backward_op(const Tensor& t, const Tensor* gradient, std::optional<bool> retain_graph,
                 bool create_graph, nb::handle inputs) {
  if (create_graph) throw ValueError("backward: create_graph=True (higher-order gradients) is not supported");
  if (!inputs.is_none()) throw ValueError("backward: inputs= is not supported; all leaves receive .grad");
  Tensor g = gradient ? *gradient : Tensor();
  const bool retain = retain_graph.value_or(false);
  nb::gil_scoped_release release;
  t.backward(g, retain);
}

}  // namespace

void bind_autograd(nb::module_& m, TensorClass& cls) {
  m.def("is_grad_enabled", &autograd::grad_mode_enabled,
        "Whether ops record autograd history on this thread.");
  m.def("_set_grad_enabled", &autograd::set_grad_enabled, "enabled"_a,
        "Sets this thread's grad mode (use attnkit.no_grad() / set_grad_enabled()).");

  nb::class_<autograd::Node>(m, "Node", "The autograd record of the op that produced a tensor.")
      .def("name", &autograd::Node::name)
      .def("__repr__",
           [](const autograd::Node& node) { return "<attnkit.Node " + node.name() + ">"; });

  cls.def_prop_rw(
         "requires_grad", &Tensor::requires_grad,
         [](Tensor& t, bool requires_grad) { t.set_requires_grad(requires_grad); },
         "Whether backward computes a gradient for this tensor (float32 only).")
      .def(
          "requires_grad_",
          [](nb::handle self, bool requires_grad) {
            nb::cast<Tensor&>(self).set_requires_grad(requires_grad);
            return nb::borrow(self);
          },
          "requires_grad"_a = true, "Sets requires_grad in place; returns self.")
      .def_prop_rw(
          "grad",
          [](const Tensor& t) -> std::optional<Tensor> {
            Tensor g = t.grad();
            if (!g.defined()) return std::nullopt;
            return g;
          },
          [](Tensor& t, std::optional<Tensor> grad) { t.set_grad(grad ? *grad : Tensor()); },
          "The gradient accumulated by backward (None until then); settable, e.g. to None.")
      .def_prop_ro("grad_fn", [](const Tensor& t) { return t.grad_fn(); },
                   "The autograd node that produced this tensor (None for leaves).")
      .def("backward", &backward_op, "gradient"_a = nb::none(), "retain_graph"_a = nb::none(),
           "create_graph"_a = false, "inputs"_a = nb::none(),
           "Backpropagates from this tensor into the .grad of the leaves that require grad. "
           "Without gradient, the tensor must hold one element.")
      .def("detach", &Tensor::detach, "The same data, with no autograd history.")
      .def_prop_ro("data", &Tensor::detach, "The same data, with no autograd history.");
}

}  // namespace attnkit::python
