#pragma once
// Resizing the spatial dims, as torch.nn.functional.interpolate.
//
//   input (N, C, H, W) -> (N, C, Ho, Wo)   modes "nearest", "nearest-exact", "bilinear", "area"
//   input (N, C, L)    -> (N, C, Lo)       modes "nearest", "nearest-exact", "linear", "area"
//
// Exactly one of size and scale_factor; each holds one value for every
// spatial dim or one per spatial dim. With scale_factor, Ho = floor(H * s).
// The kernels map output index o to the input with torch's exact rules, in
// float as torch computes them, where scale = 1 / s if a scale_factor was
// given (and recompute_scale_factor is not true) and H / Ho otherwise:
//   nearest:        floor(o * scale), clamped to H - 1; for 4-D inputs Ho == H
//                   copies and Ho == 2H takes o / 2 whatever the scale factor
//                   (torch's 2-d kernel; its 1-d forward has no such shortcut,
//                   though its 1-d backward does: attnkit follows the forward
//                   and differentiates it exactly)
//   nearest-exact:  floor((o + 0.5) * scale), clamped to H - 1
//   (bi)linear:     align_corners: o * (H - 1) / (Ho - 1);
//                   else max(scale * (o + 0.5) - 0.5, 0) (one fused multiply-
//                   add, rounded once as in torch's build); Ho == H copies;
//                   the two neighbours floor(src) and the next one (clamped),
//                   weighted by the fraction.
//   area:           adaptive average pooling to (Ho, Wo) (the scale_factor is
//                   always recomputed, as torch does; a size of 0 gives an
//                   empty result, as there).
// align_corners (default false) may be set only with "linear" / "bilinear".
// Gradients scatter back through the same maps. Results are float32.

#include <optional>
#include <string>
#include <vector>

#include "attnkit/core/tensor.h"

namespace attnkit {

// Every member has a default, so designated initializers may name any subset:
// interpolate(x, {.scale_factor = {2.0}, .mode = "bilinear"}).
struct InterpolateOptions {
  std::vector<int64_t> size = {};                         // empty: from scale_factor
  std::vector<double> scale_factor = {};                  // empty: from size
  std::string mode = "nearest";
  std::optional<bool> align_corners = std::nullopt;       // linear / bilinear only; unset = false
  std::optional<bool> recompute_scale_factor = std::nullopt;  // true: maps use H / Ho, not 1 / scale_factor
};

Tensor interpolate(const Tensor& input, const InterpolateOptions& options);

}  // namespace attnkit
