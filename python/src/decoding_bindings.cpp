// attnkit._C.decoding: greedy and beam search driven by a Python step
// function step(tokens (R, t) int64, rows: list[int]) -> log-probs (R, V).
#include <nanobind/stl/function.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;

decoding::StepFn wrap_step(nb::handle fn) {
  if (!PyCallable_Check(fn.ptr())) throw nb::type_error("step must be callable (tokens, rows) -> log-probabilities");
  nb::object step = nb::borrow(fn);
  return [step](const Tensor& tokens, const std::vector<int64_t>& rows) {
    nb::gil_scoped_acquire gil;
    return nb::cast<Tensor>(step(tokens, rows));
  };
}

decoding::SearchOptions options(int64_t bos, int64_t eos, int64_t max_length, int64_t beam_size, double penalty) {
  decoding::SearchOptions o;
  o.bos = bos;
  o.eos = eos;
  o.max_length = max_length;
  o.beam_size = beam_size;
  o.length_penalty = penalty;
  return o;
}

}  // namespace

void bind_decoding(nb::module_& m) {
  nb::module_ d = m.def_submodule("decoding", "Greedy and beam search over a step function");
  d.def(
      "greedy_search",
      [](nb::handle step, int64_t batch, int64_t bos, int64_t eos, int64_t max_length) {
        decoding::StepFn fn = wrap_step(step);
        nb::gil_scoped_release release;
        return decoding::greedy_search(fn, batch, options(bos, eos, max_length, 1, 1.0));
      },
      "step"_a, "batch"_a, "bos"_a, "eos"_a, "max_length"_a = 32,
      "For each of `batch` entries the tokens (without bos, ending with eos unless max_length stopped "
      "them) picked one by one as the most likely. step(tokens (R, t), rows) returns (R, V) log-probs for "
      "partial outputs of entries rows[r].");
  d.def(
      "beam_search",
      [](nb::handle step, int64_t batch, int64_t bos, int64_t eos, int64_t max_length, int64_t beam_size,
         double length_penalty) {
        decoding::StepFn fn = wrap_step(step);
        nb::gil_scoped_release release;
        return decoding::beam_search(fn, batch, options(bos, eos, max_length, beam_size, length_penalty));
      },
      "step"_a, "batch"_a, "bos"_a, "eos"_a, "max_length"_a = 32, "beam_size"_a = 4, "length_penalty"_a = 1.0,
      "Beam search: keeps the beam_size likeliest partial outputs per entry; finished ones are scored "
      "log p / length^length_penalty (0: plain log p).");
}

}  // namespace attnkit::python
