#include "attnkit/io/image.h"

#include <algorithm>
#include <sstream>

#include "attnkit/core/error.h"
#include "attnkit/io/atomic_file.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#include <stb/stb_easy_font.h>

namespace attnkit::io {

namespace {

// stb_easy_font draws into a 12-pixel line; its glyphs are 7 pixels tall
// above the baseline plus descenders.
constexpr int kFontLineHeight = 12;

std::string printable(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c < 32 || c > 126) c = '?';
  }
  return out;
}

}  // namespace

Image::Image(int width, int height, Rgb background) : width_(width), height_(height) {
  AK_CHECK(width > 0 && height > 0 && width <= 1 << 15 && height <= 1 << 15,
           "Image: width and height must be in 1..32768, got ", width, " x ", height);
  pixels_.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  fill_rect(0, 0, width, height, background);
}

Rgb Image::pixel(int x, int y) const {
  AK_CHECK(x >= 0 && x < width_ && y >= 0 && y < height_, "Image.pixel: (", x, ", ", y, ") lies outside ", width_,
           " x ", height_);
  const uint8_t* p = &pixels_[(static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3];
  return {p[0], p[1], p[2]};
}

void Image::fill_rect(int x, int y, int w, int h, Rgb color) {
  const int x0 = std::max(x, 0), x1 = std::min(x + w, width_);
  const int y0 = std::max(y, 0), y1 = std::min(y + h, height_);
  for (int row = y0; row < y1; ++row) {
    uint8_t* p = &pixels_[(static_cast<size_t>(row) * static_cast<size_t>(width_) + static_cast<size_t>(x0)) * 3];
    for (int col = x0; col < x1; ++col, p += 3) {
      p[0] = color.r;
      p[1] = color.g;
      p[2] = color.b;
    }
  }
}

void Image::draw_text(int x, int y, const std::string& text, Rgb color, int scale) {
  AK_CHECK(scale >= 1, "Image.draw_text: scale must be at least 1, got ", scale);
  std::string s = printable(text);
  // stb_easy_font emits axis-aligned quads, 4 vertices of 16 bytes each
  // (x, y, z as float, then RGBA), and silently drops the quads that do not
  // fit: room for 24 quads per character (its glyphs use at most ~16).
  std::vector<char> vertices(s.size() * 24 * 64 + 64);
  const int quads = stb_easy_font_print(0, 0, s.data(), nullptr, vertices.data(), static_cast<int>(vertices.size()));
  for (int q = 0; q < quads; ++q) {
    const float* v0 = reinterpret_cast<const float*>(vertices.data() + q * 64);
    const float* v2 = reinterpret_cast<const float*>(vertices.data() + q * 64 + 32);
    const int qx = static_cast<int>(v0[0]), qy = static_cast<int>(v0[1]);
    const int qw = static_cast<int>(v2[0]) - qx, qh = static_cast<int>(v2[1]) - qy;
    fill_rect(x + qx * scale, y + qy * scale, qw * scale, qh * scale, color);
  }
}

int Image::text_width(const std::string& text, int scale) {
  std::string s = printable(text);
  return stb_easy_font_width(s.data()) * scale;
}

int Image::text_height(int scale) { return kFontLineHeight * scale; }

void write_png(const std::string& path, const Image& image) {
  std::string encoded;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  const int ok = stbi_write_png_to_func(append, &encoded, image.width(), image.height(), 3, image.bytes().data(),
                                        image.width() * 3);
  AK_CHECK(ok != 0, "write_png: encoding a ", image.width(), " x ", image.height(), " image for ", path, " failed");
  write_file_atomically(path, [&](std::ostream& out) { out.write(encoded.data(), static_cast<std::streamsize>(encoded.size())); });
}

}  // namespace attnkit::io
