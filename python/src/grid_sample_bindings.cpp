// attnkit._C: affine_grid and grid_sample, with torch.nn.functional's
// signatures. align_corners=None means False, as in PyTorch (which also warns).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string_view.h>

#include "bindings.h"
#include "convert.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;

Tensor grid_sample_op(const Tensor& input, const Tensor& grid, std::string_view mode, std::string_view padding_mode,
                      std::optional<bool> align_corners) {
  nb::gil_scoped_release release;
  return grid_sample(input, grid, mode, padding_mode, align_corners.value_or(false));
}

Tensor affine_grid_op(const Tensor& theta, nb::handle size, std::optional<bool> align_corners) {
  const Shape sizes = to_shape(size, "affine_grid");
  nb::gil_scoped_release release;
  return affine_grid(theta, sizes, align_corners.value_or(false));
}

}  // namespace

void bind_grid_sample(nb::module_& m) {
  m.def("grid_sample", &grid_sample_op, "input"_a, "grid"_a, "mode"_a = "bilinear", "padding_mode"_a = "zeros",
        "align_corners"_a = nb::none(),
        "Samples input (N, C, H_in, W_in) at grid (N, H_out, W_out, 2) -> (N, C, H_out, W_out), as "
        "torch.nn.functional.grid_sample. mode: 'bilinear' | 'nearest' | 'bicubic'; padding_mode: 'zeros' | "
        "'border' | 'reflection'. Differentiable with respect to input and grid.");
  m.def("affine_grid", &affine_grid_op, "theta"_a, "size"_a, "align_corners"_a = nb::none(),
        "The sampling grid (N, H, W, 2) of affine matrices theta (N, 2, 3) for an output of size [N, C, H, W], as "
        "torch.nn.functional.affine_grid. Differentiable with respect to theta.");
}

}  // namespace attnkit::python
