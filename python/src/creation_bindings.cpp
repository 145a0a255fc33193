// Tensor creation with PyTorch's signatures: zeros(*size, dtype=None,
// requires_grad=False), full(size, fill_value), arange(start, end, step),
// rand/randn/randint, the *_like forms, attnkit.Generator and generator_scope.
// attnkit.tensor(data) is in Python (attnkit/_creation.py), over NumPy.
#include <nanobind/stl/optional.h>

#include <optional>

#include "convert.h"

namespace attnkit::python {

namespace {

// Applies the dtype (if given) and requires_grad that every creation function takes.
Tensor finish(Tensor t, std::optional<DType> dtype, bool requires_grad) {
  if (dtype && *dtype != t.dtype()) t = t.to(*dtype);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

DType floating_dtype(std::optional<DType> dtype, const char* op) {
  DType d = dtype.value_or(kFloat32);
  if (!is_floating(d)) {
    throw ValueError(detail::concat(op, ": expected a floating dtype (float32 or bfloat16), got ",
                                    dtype_name(d)));
  }
  return d;
}

// The dtype PyTorch infers from a Python fill value: bool, int64 or float32.
DType dtype_for(const PyScalar& scalar) {
  switch (scalar.kind) {
    case ScalarKind::Bool: return kBool;
    case ScalarKind::Int: return kInt64;
    case ScalarKind::Float: return kFloat32;
  }
  return kFloat32;
}

PyScalar number_arg(nb::handle obj, const char* op, const char* what) {
  if (std::optional<PyScalar> scalar = to_scalar(obj)) return *scalar;
  if (nb::isinstance<Tensor>(obj)) {  // a one-element tensor, as PyTorch allows
    const Tensor& t = nb::cast<const Tensor&>(obj);
    return PyScalar{t.item(), is_floating(t.dtype()) ? ScalarKind::Float : ScalarKind::Int};
  }
  throw nb::type_error(detail::concat(op, ": ", what, " must be a number, got ",
                                      Py_TYPE(obj.ptr())->tp_name).c_str());
}

uint64_t seed_arg(nb::handle obj) {
  // PyTorch accepts seeds in [-2**63, 2**64); negative ones wrap around.
  unsigned long long seed = PyLong_AsUnsignedLongLong(obj.ptr());
  if (seed == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    return static_cast<uint64_t>(to_int(obj, "manual_seed", "seed"));
  }
  return seed;
}

}  // namespace

void bind_creation(nb::module_& m) {
  using namespace nb::literals;
  using OptDType = std::optional<DType>;

  nb::class_<Generator>(m, "Generator",
                        "A counter-based (Philox) random stream: one seed gives the same "
                        "numbers on any thread count.")
      .def("__init__", [](Generator* g, nb::handle seed) { new (g) Generator(seed_arg(seed)); },
           "seed"_a = 0)
      .def("manual_seed",
           [](nb::handle self, nb::handle seed) {
             nb::cast<Generator&>(self).manual_seed(seed_arg(seed));
             return nb::borrow(self);
           },
           "seed"_a)
      .def("initial_seed", &Generator::seed)
      .def("get_state",
           [](Generator& g) {
             Generator::Range state = g.state();
             return nb::make_tuple(state.seed, state.first_block);
           },
           "(seed, counter): where the stream is; set_state(...) makes it continue from there.")
      .def("set_state",
           [](Generator& g, std::pair<uint64_t, uint64_t> state) { g.set_state({state.first, state.second}); },
           "state"_a);

  m.def("default_generator", [] { return &default_generator(); }, nb::rv_policy::reference,
        "The generator used when none is given (what manual_seed seeds).");

  m.def("manual_seed", [](nb::handle seed) { manual_seed(seed_arg(seed)); }, "seed"_a,
        "Seeds the default generator.");

  // A context manager over GeneratorScope; it holds the generator so that
  // the scope never outlives it.
  struct PythonGeneratorScope {
    nb::object generator;
    std::optional<GeneratorScope> scope;
  };
  nb::class_<PythonGeneratorScope>(m, "generator_scope",
                                   "with attnkit.generator_scope(g): draws that take no generator on this thread "
                                   "(dropout, initial weights, rand/randn) use g. Other threads are not "
                                   "affected, so each thread can train reproducibly with its own generator.")
      .def("__init__",
           [](PythonGeneratorScope* self, nb::object generator) {
             if (!nb::isinstance<Generator>(generator)) {
               throw nb::type_error("generator_scope: expected an attnkit.Generator");
             }
             new (self) PythonGeneratorScope{std::move(generator), std::nullopt};
           },
           "generator"_a)
      .def("__enter__",
           [](PythonGeneratorScope& self) {
             if (self.scope) throw nb::value_error("generator_scope: this scope is already entered");
             self.scope.emplace(nb::cast<Generator&>(self.generator));
             return self.generator;
           })
      .def("__exit__", [](PythonGeneratorScope& self, nb::args) { self.scope.reset(); });

  // ---- filled ----
  m.def("empty",
        [](nb::args size, OptDType dtype, bool requires_grad) {
          return finish(empty(shape_from_args(size, "empty"), dtype.value_or(kFloat32)), {},
                        requires_grad);
        },
        "size"_a, "dtype"_a = nb::none(), "requires_grad"_a = false,
        "Uninitialised tensor: empty(*size) or empty(size).")
      .def("zeros",
           [](nb::args size, OptDType dtype, bool requires_grad) {
             return finish(zeros(shape_from_args(size, "zeros"), dtype.value_or(kFloat32)), {},
                           requires_grad);
           },
           "size"_a, "dtype"_a = nb::none(), "requires_grad"_a = false)
      .def("ones",
           [](nb::args size, OptDType dtype, bool requires_grad) {
             return finish(ones(shape_from_args(size, "ones"), dtype.value_or(kFloat32)), {},
                           requires_grad);
           },
           "size"_a, "dtype"_a = nb::none(), "requires_grad"_a = false)
      .def("full",
           [](nb::handle size, nb::handle fill_value, OptDType dtype, bool requires_grad) {
             PyScalar value = number_arg(fill_value, "full", "fill_value");
             return finish(full(to_shape(size, "full"), value.value, dtype.value_or(dtype_for(value))),
                           {}, requires_grad);
           },
           "size"_a, "fill_value"_a, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = false,
           "A tensor of `size` filled with fill_value; the dtype follows the value "
           "(bool, int64 or float32) unless given.")
      .def("scalar_tensor",
           [](nb::handle value, OptDType dtype, bool requires_grad) {
             PyScalar s = number_arg(value, "scalar_tensor", "the value");
             return finish(scalar_tensor(s.value, dtype.value_or(kFloat32)), {}, requires_grad);
           },
           "s"_a, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = false);

  // ---- *_like ----
  m.def("empty_like",
        [](const Tensor& like, OptDType dtype, bool requires_grad) {
          return finish(empty(like.shape(), dtype.value_or(like.dtype())), {}, requires_grad);
        },
        "input"_a, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = false)
      .def("zeros_like",
           [](const Tensor& like, OptDType dtype, bool requires_grad) {
             return finish(zeros(like.shape(), dtype.value_or(like.dtype())), {}, requires_grad);
           },
           "input"_a, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = false)
      .def("ones_like",
           [](const Tensor& like, OptDType dtype, bool requires_grad) {
             return finish(ones(like.shape(), dtype.value_or(like.dtype())), {}, requires_grad);
           },
           "input"_a, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = false)
      .def("full_like",
           [](const Tensor& like, nb::handle fill_value, OptDType dtype, bool requires_grad) {
             PyScalar value = number_arg(fill_value, "full_like", "fill_value");
             return finish(full(like.shape(), value.value, dtype.value_or(like.dtype())), {},
                           requires_grad);
           },
           "input"_a, "fill_value"_a, nb::kw_only(), "dtype"_a = nb::none(),
           "requires_grad"_a = false)
      .def("rand_like",
           [](const Tensor& like, OptDType dtype, bool requires_grad) {
             DType d = floating_dtype(dtype ? dtype : OptDType(like.dtype()), "rand_like");
             return finish(rand(like.shape()), d, requires_grad);
           },
           "input"_a, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = false)
      .def("randn_like",
           [](const Tensor& like, OptDType dtype, bool requires_grad) {
             DType d = floating_dtype(dtype ? dtype : OptDType(like.dtype()), "randn_like");
             return finish(randn(like.shape()), d, requires_grad);
           },
           "input"_a, nb::kw_only(), "dtype"_a = nb::none(), "requires_grad"_a = false);

  // ---- random ----
  m.def("rand",
        [](nb::args size, Generator* generator, OptDType dtype, bool requires_grad) {
          DType d = floating_dtype(dtype, "rand");
          return finish(rand(shape_from_args(size, "rand"), generator), d, requires_grad);
        },
        "size"_a, "generator"_a = nb::none(), "dtype"_a = nb::none(), "requires_grad"_a = false,
        "Uniform in [0, 1): rand(*size) or rand(size).")
      .def("randn",
           [](nb::args size, Generator* generator, OptDType dtype, bool requires_grad) {
             DType d = floating_dtype(dtype, "randn");
             return finish(randn(shape_from_args(size, "randn"), generator), d, requires_grad);
           },
           "size"_a, "generator"_a = nb::none(), "dtype"_a = nb::none(), "requires_grad"_a = false,
           "Standard normal: randn(*size) or randn(size).")
      .def("randint",
           [](int64_t high, nb::handle size, Generator* generator, OptDType dtype) {
             return finish(randint(0, high, to_shape(size, "randint"), generator), dtype, false);
           },
           "high"_a, "size"_a, nb::kw_only(), "generator"_a = nb::none(), "dtype"_a = nb::none(),
           "Integers uniform in [0, high) (int64 unless dtype says otherwise).")
      .def("randint",
           [](int64_t low, int64_t high, nb::handle size, Generator* generator, OptDType dtype) {
             return finish(randint(low, high, to_shape(size, "randint"), generator), dtype, false);
           },
           "low"_a, "high"_a, "size"_a, nb::kw_only(), "generator"_a = nb::none(),
           "dtype"_a = nb::none(), "Integers uniform in [low, high).");

  // ---- ranges ----
  m.def("arange",
        [](nb::handle start, nb::handle end, nb::handle step, OptDType dtype, bool requires_grad) {
          PyScalar first = number_arg(start, "arange", "start");
          PyScalar last{0.0, ScalarKind::Int};
          if (end.is_none()) {  // arange(end)
            last = first;
            first = PyScalar{0.0, ScalarKind::Int};
          } else {
            last = number_arg(end, "arange", "end");
          }
          PyScalar stride = number_arg(step, "arange", "step");
          // int64 when every bound is an int, else float32 (as PyTorch).
          const bool any_float = first.kind == ScalarKind::Float ||
                                 last.kind == ScalarKind::Float || stride.kind == ScalarKind::Float;
          DType d = dtype.value_or(any_float ? kFloat32 : kInt64);
          return finish(arange(first.value, last.value, stride.value, d), {}, requires_grad);
        },
        "start"_a, "end"_a = nb::none(), "step"_a = 1, nb::kw_only(), "dtype"_a = nb::none(),
        "requires_grad"_a = false, "arange(end) or arange(start, end, step=1): values in [start, end).");
}

}  // namespace attnkit::python
