#pragma once
// Pictures of where a vision block looked: an attention map drawn in colour
// (viridis) over the grey or colour input image, with optional boxes (the
// regions a dynamic capacity network refined) and a path (a recurrent
// attention model's glimpses), and a grid that sets pictures side by side
// (distorted digits beside what a spatial transformer made of them).
//
// Images and maps are tensors of one sample, in input pixels: the map is
// resized to the image with bilinear interpolation (pixel centres aligned,
// torch's align_corners=False), so a 7×7 CBAM map lies over a 28×28 digit.
#include <string>
#include <vector>

#include "attnkit/core/tensor.h"
#include "attnkit/io/image.h"

namespace attnkit::io {

struct PixelBox {
  double y0, x0, y1, x1;  // top-left and bottom-right corners, input pixels
};

struct PixelPoint {
  double y, x;  // input pixels
};

struct MapOverlayOptions {
  double alpha = 0.5;        // how much of the map's colour covers the image, in [0, 1]
  bool normalize = true;     // stretch the map's [min, max] to the colour scale; false: clamp to [0, 1]
  int scale = 0;             // screen pixels per input pixel; 0 picks the smallest that makes the longer side >= 256
  std::vector<PixelBox> boxes;    // outlined in red
  std::vector<PixelPoint> path;   // joined by lines in red, each point marked, the first in white
  std::vector<PixelPoint> outline;  // a closed polygon in red (a spatial transformer's sampled region)
  std::string title;              // written above the picture when not empty
};

// image: (H, W), (1, H, W) or (3, H, W), any real values (shown stretched
// from their min to their max); map: (h, w) or (1, h, w), or undefined for
// the image alone (with its boxes and path). float32 or bfloat16.
Image render_map_overlay(const Tensor& image, const Tensor& map, const MapOverlayOptions& options = {});
void save_map_overlay(const std::string& path, const Tensor& image, const Tensor& map,
                      const MapOverlayOptions& options = {});

// The pictures in rows of `columns`, `gap` white pixels apart; cells are as
// large as the largest picture.
Image tile_images(const std::vector<Image>& images, int columns, int gap = 4);

// Where a sampling grid (Ho, Wo, 2) of normalised (x, y) coordinates, as
// grid_sample reads it, draws from an (height, width) input: each output
// pixel spreads a weight of 1 over the input pixels its bilinear sample
// touches. The result (height, width) is a spatial transformer's attention
// over its input.
Tensor sampling_density(const Tensor& grid, int64_t height, int64_t width, bool align_corners = false);

// The four corners of the region a sampling grid (Ho, Wo, 2) reads from an
// (height, width) input, in input pixels (corner edges, not centres): the
// grid's corner points moved half an output pixel outwards, exact for an
// affine grid. Draw them as a MapOverlayOptions::outline.
std::vector<PixelPoint> sampling_outline(const Tensor& grid, int64_t height, int64_t width, bool align_corners = false);

}  // namespace attnkit::io
