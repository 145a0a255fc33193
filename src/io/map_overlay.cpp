#include "attnkit/io/map_overlay.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/io/attention_heatmap.h"
#include "attnkit/ops/grid_sample.h"
#include "attnkit/ops/reduce.h"

namespace attnkit::io {

namespace {

constexpr Rgb kRed{230, 30, 30};
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kInk{20, 20, 20};
constexpr int kTitleScale = 2;
constexpr int kMargin = 6;

// A plain (rows, cols, channels) float copy of a sample, whatever its dtype and strides.
struct Planes {
  int64_t channels = 0, height = 0, width = 0;
  std::vector<float> values;  // (C, H, W)
  float at(int64_t c, int64_t y, int64_t x) const { return values[(c * height + y) * width + x]; }
};

Planes planes_of(const Tensor& t, const char* what, bool allow_three_channels) {
  AK_CHECK(t.defined(), "render_map_overlay: no ", what, " given");
  const bool ok_rank = t.dim() == 2 || (t.dim() == 3 && (t.size(0) == 1 || (allow_three_channels && t.size(0) == 3)));
  AK_CHECK(ok_rank, "render_map_overlay: the ", what, " must be (H, W), (1, H, W)",
           allow_three_channels ? " or (3, H, W)" : "", " for one sample, got shape ", shape_str(t.shape()),
           t.dim() == 4 ? " (a batch: pass one sample, e.g. map[0])" : "");
  AK_CHECK(t.numel() > 0, "render_map_overlay: the ", what, " is empty: shape ", shape_str(t.shape()));
  AK_CHECK(is_floating(t.dtype()), "render_map_overlay: the ", what, " must be floating point, got ",
           dtype_name(t.dtype()));
  NoGradGuard no_grad;
  Tensor dense = (t.dim() == 2 ? t.unsqueeze(0) : t).to(kFloat32).contiguous();
  Planes p{dense.size(0), dense.size(1), dense.size(2), {}};
  p.values.assign(dense.data<float>(), dense.data<float>() + dense.numel());
  return p;
}

// Values stretched to [0, 1] from their finite min and max (a constant picture is mid-grey).
void stretch(std::vector<float>& v) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (float x : v) {
    if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  }
  for (float& x : v) {
    if (!std::isfinite(x)) x = 0.0f;
    else x = hi > lo ? (x - lo) / (hi - lo) : 0.5f;
  }
}

// The map's value at input pixel (y, x) of an (H, W) image: bilinear with
// pixel centres aligned (align_corners=False), edges clamped.
float map_at(const Planes& map, int64_t y, int64_t x, int64_t height, int64_t width) {
  auto source = [](int64_t i, int64_t out, int64_t in) {
    return std::clamp((i + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5, 0.0,
                      static_cast<double>(in - 1));
  };
  const double sy = source(y, height, map.height), sx = source(x, width, map.width);
  const int64_t y0 = static_cast<int64_t>(sy), x0 = static_cast<int64_t>(sx);
  const int64_t y1 = std::min(y0 + 1, map.height - 1), x1 = std::min(x0 + 1, map.width - 1);
  const double fy = sy - y0, fx = sx - x0;
  return static_cast<float>((1 - fy) * ((1 - fx) * map.at(0, y0, x0) + fx * map.at(0, y0, x1)) +
                            fy * ((1 - fx) * map.at(0, y1, x0) + fx * map.at(0, y1, x1)));
}

uint8_t byte_of(double v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); }

// A line from (y0, x0) to (y1, x1) in screen pixels, `width` pixels thick,
// clipped to the rows from `top` down (the picture, not its title).
void draw_line(Image& image, double y0, double x0, double y1, double x1, int width, Rgb color, int top) {
  const int steps = static_cast<int>(std::ceil(std::max(std::abs(y1 - y0), std::abs(x1 - x0)))) + 1;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0))) - width / 2;
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0))) - width / 2;
    if (y >= top) image.fill_rect(x, y, width, width, color);
  }
}

void blit(Image& target, const Image& source, int left, int top) {
  for (int y = 0; y < source.height(); ++y) {
    for (int x = 0; x < source.width(); ++x) target.fill_rect(left + x, top + y, 1, 1, source.pixel(x, y));
  }
}

}  // namespace

Image render_map_overlay(const Tensor& image, const Tensor& map, const MapOverlayOptions& options) {
  AK_CHECK(options.alpha >= 0.0 && options.alpha <= 1.0, "render_map_overlay: alpha must be in [0, 1], got ",
           options.alpha);
  AK_CHECK(options.scale >= 0 && options.scale <= 64, "render_map_overlay: scale must be in [0, 64], got ",
           options.scale);
  Planes picture = planes_of(image, "image", true);
  stretch(picture.values);
  Planes heat;
  if (map.defined()) {
    heat = planes_of(map, "map", false);
    if (options.normalize) {
      stretch(heat.values);
    } else {
      for (float& v : heat.values) v = std::isfinite(v) ? std::clamp(v, 0.0f, 1.0f) : 0.0f;
    }
  }
  const int64_t height = picture.height, width = picture.width;
  const int scale = options.scale > 0
                        ? options.scale
                        : static_cast<int>(std::max<int64_t>(1, (256 + std::max(height, width) - 1) /
                                                                     std::max(height, width)));
  AK_CHECK(height * scale <= 16384 && width * scale <= 16384, "render_map_overlay: a ", height, "x", width,
           " image at scale ", scale, " is larger than 16384 pixels a side");

  const int title_height = options.title.empty() ? 0 : Image::text_height(kTitleScale) + kMargin;
  Image out(static_cast<int>(width * scale), static_cast<int>(height * scale) + title_height);
  if (!options.title.empty()) out.draw_text(kMargin / 2, kMargin / 2, options.title, kInk, kTitleScale);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      double rgb[3];
      for (int c = 0; c < 3; ++c) rgb[c] = picture.at(picture.channels == 3 ? c : 0, y, x);
      if (map.defined()) {
        const Rgb tint = viridis(map_at(heat, y, x, height, width));
        const double a = options.alpha, colour[3] = {tint.r / 255.0, tint.g / 255.0, tint.b / 255.0};
        for (int c = 0; c < 3; ++c) rgb[c] = (1 - a) * rgb[c] + a * colour[c];
      }
      out.fill_rect(static_cast<int>(x * scale), static_cast<int>(y * scale) + title_height, scale, scale,
                    {byte_of(rgb[0]), byte_of(rgb[1]), byte_of(rgb[2])});
    }
  }
  // Input pixel coordinates to screen pixels: pixel i covers [i, i + 1) · scale.
  auto sy = [&](double y) { return y * scale + title_height; };
  auto sx = [&](double x) { return x * scale; };
  const int line = std::max(1, scale / 4);
  for (const PixelBox& b : options.boxes) {
    draw_line(out, sy(b.y0), sx(b.x0), sy(b.y0), sx(b.x1), line, kRed, title_height);
    draw_line(out, sy(b.y1), sx(b.x0), sy(b.y1), sx(b.x1), line, kRed, title_height);
    draw_line(out, sy(b.y0), sx(b.x0), sy(b.y1), sx(b.x0), line, kRed, title_height);
    draw_line(out, sy(b.y0), sx(b.x1), sy(b.y1), sx(b.x1), line, kRed, title_height);
  }
  for (size_t i = 0; i < options.outline.size(); ++i) {
    const PixelPoint &q = options.outline[i], &p = options.outline[(i + 1) % options.outline.size()];
    draw_line(out, sy(q.y), sx(q.x), sy(p.y), sx(p.x), line, kRed, title_height);
  }
  for (size_t i = 1; i < options.path.size(); ++i) {
    const PixelPoint &q = options.path[i - 1], &p = options.path[i];
    draw_line(out, sy(q.y), sx(q.x), sy(p.y), sx(p.x), line, kRed, title_height);
  }
  for (size_t i = 0; i < options.path.size(); ++i) {  // marks over the lines
    const PixelPoint& p = options.path[i];
    const int mark = 3 * line;
    out.fill_rect(static_cast<int>(sx(p.x)) - mark, static_cast<int>(sy(p.y)) - mark, 2 * mark, 2 * mark,
                  i == 0 ? kWhite : kRed);
  }
  return out;
}

void save_map_overlay(const std::string& path, const Tensor& image, const Tensor& map,
                      const MapOverlayOptions& options) {
  write_png(path, render_map_overlay(image, map, options));
}

Image tile_images(const std::vector<Image>& images, int columns, int gap) {
  AK_CHECK(!images.empty(), "tile_images: no images given");
  AK_CHECK(columns > 0 && gap >= 0, "tile_images: columns must be > 0 and gap >= 0, got columns=", columns,
           ", gap=", gap);
  int cell_w = 0, cell_h = 0;
  for (const Image& i : images) cell_w = std::max(cell_w, i.width()), cell_h = std::max(cell_h, i.height());
  const int n = static_cast<int>(images.size()), cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  Image out(cols * cell_w + (cols + 1) * gap, rows * cell_h + (rows + 1) * gap);
  for (int i = 0; i < n; ++i) {
    blit(out, images[i], gap + (i % cols) * (cell_w + gap), gap + (i / cols) * (cell_h + gap));
  }
  return out;
}

Tensor sampling_density(const Tensor& grid, int64_t height, int64_t width, bool align_corners) {
  AK_CHECK(grid.defined() && grid.dim() == 3 && grid.size(2) == 2,
           "sampling_density: grid must be (Ho, Wo, 2) for one sample, got ",
           grid.defined() ? shape_str(grid.shape()) : std::string("nothing"));
  AK_CHECK(height > 0 && width > 0, "sampling_density: the input size must be positive, got ", height, "x", width);
  AK_CHECK(is_floating(grid.dtype()), "sampling_density: grid must be floating point, got ", dtype_name(grid.dtype()));
  // The density is the gradient of sum(grid_sample(x, grid)) with respect to
  // x: every output pixel hands each input pixel its bilinear weight. Asking
  // grid_sample's own backward keeps the two from ever disagreeing.
  autograd::GradModeGuard grad_mode(true);
  Tensor input = zeros({1, 1, height, width}).set_requires_grad(true);
  const Tensor sampled = grid_sample(input, grid.detach().to(kFloat32).unsqueeze(0), "bilinear", "zeros", align_corners);
  sum(sampled).backward();
  return input.grad().view({height, width});
}

std::vector<PixelPoint> sampling_outline(const Tensor& grid, int64_t height, int64_t width, bool align_corners) {
  AK_CHECK(grid.defined() && grid.dim() == 3 && grid.size(2) == 2 && grid.size(0) > 0 && grid.size(1) > 0,
           "sampling_outline: grid must be a non-empty (Ho, Wo, 2) for one sample, got ",
           grid.defined() ? shape_str(grid.shape()) : std::string("nothing"));
  AK_CHECK(height > 0 && width > 0, "sampling_outline: the input size must be positive, got ", height, "x", width);
  NoGradGuard no_grad;
  const Tensor g = grid.to(kFloat32).contiguous();
  const int64_t rows = g.size(0), cols = g.size(1);
  const float* p = g.data<float>();
  auto at = [&](int64_t r, int64_t c, int k) { return static_cast<double>(p[(r * cols + c) * 2 + k]); };
  // Normalised input coordinates to pixel edges: -1 and 1 are the outer
  // edges (align_corners=False) or the corner pixels' centres.
  auto to_pixels = [&](double v, int64_t size) { return align_corners ? (v + 1) / 2 * (size - 1) + 0.5 : (v + 1) / 2 * size; };
  // A corner point extrapolated half a step away from its neighbours along rows and columns.
  auto corner = [&](int64_t r, int64_t c) {
    const int64_t rn = rows > 1 ? (r == 0 ? 1 : rows - 2) : r, cn = cols > 1 ? (c == 0 ? 1 : cols - 2) : c;
    double xy[2];
    for (int k = 0; k < 2; ++k) {
      xy[k] = at(r, c, k) + 0.5 * (at(r, c, k) - at(rn, c, k)) + 0.5 * (at(r, c, k) - at(r, cn, k));
    }
    return PixelPoint{to_pixels(xy[1], height), to_pixels(xy[0], width)};
  };
  return {corner(0, 0), corner(0, cols - 1), corner(rows - 1, cols - 1), corner(rows - 1, 0)};
}

}  // namespace attnkit::io
