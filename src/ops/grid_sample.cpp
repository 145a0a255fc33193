#include "attnkit/ops/grid_sample.h"

#include <string>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "kernels/grid_sample.h"

namespace attnkit {

namespace {

kernels::GridSampleMode parse_mode(std::string_view mode) {
  if (mode == "bilinear") return kernels::GridSampleMode::Bilinear;
  if (mode == "nearest") return kernels::GridSampleMode::Nearest;
  if (mode == "bicubic") return kernels::GridSampleMode::Bicubic;
  throw ValueError(detail::concat("grid_sample: expected mode to be 'bilinear', 'nearest' or 'bicubic', got '",
                                  mode, "'"));
}

kernels::GridSamplePadding parse_padding(std::string_view padding_mode) {
  if (padding_mode == "zeros") return kernels::GridSamplePadding::Zeros;
  if (padding_mode == "border") return kernels::GridSamplePadding::Border;
  if (padding_mode == "reflection") return kernels::GridSamplePadding::Reflection;
  throw ValueError(detail::concat("grid_sample: expected padding_mode to be 'zeros', 'border' or 'reflection', got '",
                                  padding_mode, "'"));
}

std::string shape_or_nothing(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : "nothing"; }

}  // namespace

Tensor grid_sample(const Tensor& input, const Tensor& grid, std::string_view mode, std::string_view padding_mode,
                   bool align_corners) {
  const kernels::GridSampleMode kernel_mode = parse_mode(mode);
  const kernels::GridSamplePadding padding = parse_padding(padding_mode);
  AK_CHECK(!(input.defined() && input.dim() == 5), "grid_sample: 5-D (volumetric) inputs are not supported, got ",
           shape_str(input.shape()), "; expected a 4-D input (N, C, H_in, W_in)");
  AK_CHECK(input.defined() && input.dim() == 4, "grid_sample: expected a 4-D input (N, C, H_in, W_in), got shape ",
           shape_or_nothing(input));
  AK_CHECK(grid.defined() && grid.dim() == 4 && grid.size(3) == 2,
           "grid_sample: expected a grid of shape (N, H_out, W_out, 2) for a 4-D input, got shape ",
           shape_or_nothing(grid));
  AK_CHECK(grid.size(0) == input.size(0), "grid_sample: the grid's batch size ", grid.size(0),
           " does not match the input's ", input.size(0), " (input ", shape_str(input.shape()), ", grid ",
           shape_str(grid.shape()), ")");
  AK_CHECK(input.size(2) > 0 && input.size(3) > 0,
           "grid_sample: expected an input with non-empty spatial dimensions, got shape ", shape_str(input.shape()));
  AK_CHECK(is_floating(input.dtype()) && is_floating(grid.dtype()),
           "grid_sample: expected floating point input and grid, got ", dtype_name(input.dtype()), " and ",
           dtype_name(grid.dtype()));

  Tensor x = input.detach().to(kFloat32).contiguous();  // (N, C, H_in, W_in)
  Tensor g = grid.detach().to(kFloat32).contiguous();   // (N, H_out, W_out, 2)
  kernels::GridSampleArgs args;
  args.batch = x.size(0);
  args.channels = x.size(1);
  args.in_height = x.size(2);
  args.in_width = x.size(3);
  args.out_height = g.size(1);
  args.out_width = g.size(2);
  args.mode = kernel_mode;
  args.padding = padding;
  args.align_corners = align_corners;
  args.input = x.data<float>();
  args.grid = g.data<float>();
  Tensor out = empty({args.batch, args.channels, args.out_height, args.out_width}, kFloat32);
  kernels::grid_sample_forward(out.data<float>(), args);

  if (autograd::needs_grad({&input, &grid})) {
    autograd::record("grid_sample", out, {input, grid},
                     [x, g, saved = args](const Tensor& grad_output, const std::vector<bool>& need) {
                       const Tensor up = grad_output.contiguous();  // (N, C, H_out, W_out)
                       Tensor grad_input = need[0] ? empty(x.shape(), kFloat32) : Tensor();
                       Tensor grad_grid = need[1] ? empty(g.shape(), kFloat32) : Tensor();
                       kernels::GridSampleArgs args = saved;
                       args.input = x.data<float>();  // the saved tensors keep these alive
                       args.grid = g.data<float>();
                       kernels::grid_sample_backward(grad_input.defined() ? grad_input.data<float>() : nullptr,
                                                     grad_grid.defined() ? grad_grid.data<float>() : nullptr,
                                                     up.data<float>(), args);
                       return std::vector<Tensor>{grad_input, grad_grid};
                     });
  }
  return out;
}

}  // namespace attnkit
