#pragma once
// Pictures of attention: a (rows × columns) weight matrix drawn as a grid of
// coloured cells (viridis, from 0 to the matrix's largest weight), each row
// and column labelled, with a title and a colour scale — e.g. the output
// characters of a translation (rows) against the input characters it read
// (columns).
#include <string>
#include <vector>

#include "attnkit/core/tensor.h"
#include "attnkit/io/image.h"

namespace attnkit::io {

struct HeatmapLabels {
  std::vector<std::string> rows, columns;  // one per row / column of the weights
  std::string title;
  std::string row_axis, column_axis;  // optional axis names ("output", "input")
};

// weights: (rows, columns), float32 or bfloat16. `cell` is a cell's side in pixels.
Image render_attention_heatmap(const Tensor& weights, const HeatmapLabels& labels, int cell = 24);
void save_attention_heatmap(const std::string& path, const Tensor& weights, const HeatmapLabels& labels,
                            int cell = 24);

// The viridis colour of t in [0, 1] (clamped).
Rgb viridis(double t);

}  // namespace attnkit::io
