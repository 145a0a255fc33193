// attnkit._C.io: pictures of attention — maps over images (map_overlay.h),
// tiled into one PNG, and weight matrices as labelled heatmaps
// (attention_heatmap.h). attnkit.vision.save_map is the Python face of these.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "attnkit/io/map_overlay.h"
#include "bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using Box = std::tuple<double, double, double, double>;
using Point = std::tuple<double, double>;

io::MapOverlayOptions overlay_options(double alpha, bool normalize, int scale, const std::vector<Box>& boxes,
                                      const std::vector<Point>& points, const std::vector<Point>& outline,
                                      const std::string& title) {
  io::MapOverlayOptions options{.alpha = alpha, .normalize = normalize, .scale = scale, .title = title};
  for (const auto& [y0, x0, y1, x1] : boxes) options.boxes.push_back({y0, x0, y1, x1});
  for (const auto& [y, x] : points) options.path.push_back({y, x});
  for (const auto& [y, x] : outline) options.outline.push_back({y, x});
  return options;
}

}  // namespace

void bind_pictures(nb::module_& m) {
  nb::module_ io = nb::borrow<nb::module_>(m.attr("io"));
  io.def(
      "save_map_overlays",
      [](const std::string& path, const std::vector<Tensor>& images, const std::vector<std::optional<Tensor>>& maps,
         int columns, double alpha, bool normalize, int scale, const std::vector<std::vector<Box>>& boxes,
         const std::vector<std::vector<Point>>& points, const std::vector<std::vector<Point>>& outlines,
         const std::vector<std::string>& titles) {
        AK_CHECK(maps.size() == images.size() && boxes.size() == images.size() && points.size() == images.size() &&
                     outlines.size() == images.size() && titles.size() == images.size(),
                 "save_map_overlays: one map, box list, point list and title per image; got ", images.size(),
                 " images, ", maps.size(), " maps, ", boxes.size(), " box lists, ", points.size(), " point lists, ",
                 titles.size(), " titles");
        nb::gil_scoped_release release;
        std::vector<io::Image> panels;
        for (size_t i = 0; i < images.size(); ++i) {
          panels.push_back(io::render_map_overlay(images[i], maps[i].value_or(Tensor()),
                                                  overlay_options(alpha, normalize, scale, boxes[i], points[i],
                                                                  outlines[i], titles[i])));
        }
        io::write_png(path, panels.size() == 1 ? panels[0] : io::tile_images(panels, columns));
      },
      "path"_a, "images"_a, "maps"_a, "columns"_a, "alpha"_a, "normalize"_a, "scale"_a, "boxes"_a, "points"_a,
      "outlines"_a, "titles"_a,
      "Draws each map over its image (map_overlay.h) and writes the pictures tiled `columns` to a row as one PNG "
      "(atomically); a single picture is written as it is, without the tiles' margin.");
  io.def(
      "sampling_density",
      [](const Tensor& grid, int64_t height, int64_t width, bool align_corners) {
        nb::gil_scoped_release release;
        return io::sampling_density(grid, height, width, align_corners);
      },
      "grid"_a, "height"_a, "width"_a, "align_corners"_a = false,
      "(height, width): how much of a sampling grid (Ho, Wo, 2) lands on each input pixel under bilinear "
      "grid_sample — a spatial transformer's attention over its input.");
  io.def(
      "sampling_outline",
      [](const Tensor& grid, int64_t height, int64_t width, bool align_corners) {
        std::vector<Point> corners;
        for (const io::PixelPoint& p : io::sampling_outline(grid, height, width, align_corners)) {
          corners.emplace_back(p.y, p.x);
        }
        return corners;
      },
      "grid"_a, "height"_a, "width"_a, "align_corners"_a = false,
      "The four (y, x) corners, in input pixels, of the region a sampling grid (Ho, Wo, 2) reads.");
  io.def(
      "save_attention_heatmap",
      [](const std::string& path, const Tensor& weights, std::vector<std::string> rows,
         std::vector<std::string> columns, const std::string& title, const std::string& row_axis,
         const std::string& column_axis, int cell) {
        nb::gil_scoped_release release;
        io::save_attention_heatmap(path, weights,
                                   {.rows = std::move(rows), .columns = std::move(columns), .title = title,
                                    .row_axis = row_axis, .column_axis = column_axis},
                                   cell);
      },
      "path"_a, "weights"_a, "rows"_a, "columns"_a, "title"_a = "", "row_axis"_a = "", "column_axis"_a = "",
      "cell"_a = 24,
      "Writes a (rows, columns) weight matrix as a labelled grid of viridis cells (PNG, atomically).");
}

}  // namespace attnkit::python
