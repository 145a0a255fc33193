#pragma once
// A small RGB raster for pictures attnkit draws (attention heatmaps), with
// filled rectangles, a tiny built-in bitmap font (stb_easy_font: printable
// ASCII, 6 px per character at scale 1), and PNG output written atomically.
#include <cstdint>
#include <string>
#include <vector>

namespace attnkit::io {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

class Image {
 public:
  Image(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb pixel(int x, int y) const;
  const std::vector<uint8_t>& bytes() const { return pixels_; }  // row-major RGB

  // Fills [x, x + w) × [y, y + h), clipped to the image.
  void fill_rect(int x, int y, int w, int h, Rgb color);
  // Draws text with its top-left corner at (x, y), each font pixel `scale`
  // pixels wide; characters outside printable ASCII are drawn as '?'.
  void draw_text(int x, int y, const std::string& text, Rgb color, int scale = 1);

  // The size draw_text would cover.
  static int text_width(const std::string& text, int scale = 1);
  static int text_height(int scale = 1);

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

// Writes the image as an 8-bit RGB PNG (temporary file + rename).
void write_png(const std::string& path, const Image& image);

}  // namespace attnkit::io
