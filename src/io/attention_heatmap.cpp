#include "attnkit/io/attention_heatmap.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "attnkit/core/error.h"

namespace attnkit::io {

namespace {

constexpr int kScale = 2;    // font pixels per image pixel side
constexpr int kMargin = 12;  // around everything, and between the parts
constexpr Rgb kInk{20, 20, 20};
constexpr Rgb kGrey{110, 110, 110};

// A label that fits within `cell` pixels is drawn on one line; a longer one
// stands upright, one character per line (so long column labels do not run
// into each other).
bool fits(const std::string& label, int cell) { return Image::text_width(label, kScale) <= cell; }

int column_label_height(const std::vector<std::string>& labels, int cell) {
  int lines = 1;
  for (const auto& l : labels) {
    if (!fits(l, cell)) lines = std::max(lines, static_cast<int>(l.size()));
  }
  return lines * Image::text_height(kScale);
}

}  // namespace

Rgb viridis(double t) {
  // Samples of matplotlib's viridis at t = 0, 1/8, ..., 1; linear in between.
  static constexpr std::array<std::array<double, 3>, 9> kStops = {{{68, 1, 84},
                                                                    {71, 44, 122},
                                                                    {59, 81, 139},
                                                                    {44, 113, 142},
                                                                    {33, 144, 141},
                                                                    {39, 173, 129},
                                                                    {92, 200, 99},
                                                                    {170, 220, 50},
                                                                    {253, 231, 37}}};
  if (!(t > 0.0)) t = 0.0;  // NaN too
  t = std::min(t, 1.0) * 8.0;
  const int i = std::min(static_cast<int>(t), 7);
  const double f = t - i;
  auto mix = [&](int c) { return static_cast<uint8_t>(std::lround(kStops[i][c] + f * (kStops[i + 1][c] - kStops[i][c]))); };
  return {mix(0), mix(1), mix(2)};
}

Image render_attention_heatmap(const Tensor& weights, const HeatmapLabels& labels, int cell) {
  AK_CHECK(weights.defined() && weights.dim() == 2 && weights.numel() > 0,
           "render_attention_heatmap: weights must be a non-empty (rows, columns) matrix, got ",
           weights.defined() ? shape_str(weights.shape()) : std::string("nothing"));
  const int rows = static_cast<int>(weights.size(0)), cols = static_cast<int>(weights.size(1));
  AK_CHECK(static_cast<int>(labels.rows.size()) == rows && static_cast<int>(labels.columns.size()) == cols,
           "render_attention_heatmap: ", labels.rows.size(), " row and ", labels.columns.size(),
           " column labels for a ", shape_str(weights.shape()), " matrix; expected one per row and column");
  AK_CHECK(cell >= 4 && cell <= 256, "render_attention_heatmap: cell must be 4..256 pixels, got ", cell);
  AK_CHECK(rows <= 1000 && cols <= 1000, "render_attention_heatmap: at most 1000 x 1000 cells, got ",
           shape_str(weights.shape()));
  AK_CHECK(is_floating(weights.dtype()), "render_attention_heatmap: weights must be floating point, got ",
           dtype_name(weights.dtype()));
  const Tensor w = weights.to(kFloat32).contiguous();
  const float* v = w.data<float>();
  double top = 0.0;
  for (int64_t i = 0; i < w.numel(); ++i) {
    AK_CHECK(std::isfinite(v[i]), "render_attention_heatmap: weights must be finite, got ", v[i], " at flat index ", i);
    top = std::max(top, static_cast<double>(v[i]));
  }
  if (top <= 0.0) top = 1.0;

  const int line = Image::text_height(kScale);
  int row_label_width = 0;
  for (const auto& l : labels.rows) row_label_width = std::max(row_label_width, Image::text_width(l, kScale));
  const int row_axis_width = labels.row_axis.empty() ? 0 : Image::text_width(labels.row_axis, kScale) + kMargin;
  const int title_height = labels.title.empty() ? 0 : line + kMargin;
  const int column_axis_height = labels.column_axis.empty() ? 0 : line + kMargin / 2;
  const int grid_x = kMargin + row_axis_width + row_label_width + kMargin / 2;
  const int grid_y = kMargin + title_height + column_axis_height + column_label_height(labels.columns, cell) + kMargin / 2;
  const int scale_x = grid_x + cols * cell + kMargin;
  const int scale_width = cell / 2 + kMargin / 2 + Image::text_width("0.00", kScale);
  const int width = std::max({scale_x + scale_width + kMargin,
                              kMargin + Image::text_width(labels.title, kScale) + kMargin,
                              grid_x + Image::text_width(labels.column_axis, kScale) + kMargin});
  const int height = std::max(grid_y + rows * cell, grid_y + 4 * line) + kMargin;
  Image image(width, height);

  if (!labels.title.empty()) image.draw_text(kMargin, kMargin, labels.title, kInk, kScale);
  if (!labels.column_axis.empty()) {
    image.draw_text(grid_x, kMargin + title_height, labels.column_axis, kGrey, kScale);
  }
  if (!labels.row_axis.empty()) image.draw_text(kMargin, grid_y, labels.row_axis, kGrey, kScale);
  for (int c = 0; c < cols; ++c) {
    const std::string& l = labels.columns[static_cast<size_t>(c)];
    const int x = grid_x + c * cell;
    if (fits(l, cell)) {
      image.draw_text(x + (cell - Image::text_width(l, kScale)) / 2, grid_y - line - kMargin / 4, l, kInk, kScale);
    } else {
      const int top_y = grid_y - static_cast<int>(l.size()) * line - kMargin / 4;
      for (size_t k = 0; k < l.size(); ++k) {
        const std::string ch(1, l[k]);
        image.draw_text(x + (cell - Image::text_width(ch, kScale)) / 2, top_y + static_cast<int>(k) * line, ch, kInk,
                        kScale);
      }
    }
  }
  for (int r = 0; r < rows; ++r) {
    const std::string& l = labels.rows[static_cast<size_t>(r)];
    const int y = grid_y + r * cell + (cell - line) / 2 + kScale;
    image.draw_text(grid_x - kMargin / 2 - Image::text_width(l, kScale), y, l, kInk, kScale);
    for (int c = 0; c < cols; ++c) {
      image.fill_rect(grid_x + c * cell, grid_y + r * cell, cell, cell, viridis(v[r * cols + c] / top));
    }
  }
  // Colour scale: a vertical bar from the top weight down to 0, labelled.
  const int bar_height = std::max(rows * cell, 4 * line);
  for (int y = 0; y < bar_height; ++y) {
    image.fill_rect(scale_x, grid_y + y, cell / 2, 1, viridis(1.0 - static_cast<double>(y) / (bar_height - 1)));
  }
  char top_label[32];
  std::snprintf(top_label, sizeof top_label, "%.2f", top);
  image.draw_text(scale_x + cell / 2 + kMargin / 2, grid_y, top_label, kInk, kScale);
  image.draw_text(scale_x + cell / 2 + kMargin / 2, grid_y + bar_height - line, "0", kInk, kScale);
  return image;
}

void save_attention_heatmap(const std::string& path, const Tensor& weights, const HeatmapLabels& labels, int cell) {
  write_png(path, render_attention_heatmap(weights, labels, cell));
}

}  // namespace attnkit::io
