// Images attnkit draws: PNG files that a decoder nobody here wrote
// (stb_image) reads back pixel for pixel, text that lands where it is drawn,
// and attention heatmaps whose cells carry the colours of their weights.
#include <unistd.h>

#include <filesystem>
#include <map>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

#include "test_support.h"

namespace attnkit::testing {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("attnkit_" + std::to_string(getpid()) + "_" + name)).string();
}

int count_pixels(const io::Image& image, io::Rgb color) {
  int n = 0;
  for (int y = 0; y < image.height(); ++y) {
    for (int x = 0; x < image.width(); ++x) {
      io::Rgb p = image.pixel(x, y);
      n += p.r == color.r && p.g == color.g && p.b == color.b;
    }
  }
  return n;
}

TEST(Image, PngReadsBackPixelForPixel) {
  io::Image image(7, 5, {10, 20, 30});
  image.fill_rect(2, 1, 3, 2, {200, 100, 50});
  image.fill_rect(-3, 4, 100, 100, {1, 2, 3});  // clipped, not an overflow
  const std::string path = temp_path("roundtrip.png");
  io::write_png(path, image);
  int w = 0, h = 0, channels = 0;
  unsigned char* decoded = stbi_load(path.c_str(), &w, &h, &channels, 3);
  ASSERT_NE(decoded, nullptr) << stbi_failure_reason();
  ASSERT_EQ(w, 7);
  ASSERT_EQ(h, 5);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const io::Rgb want = image.pixel(x, y);
      const unsigned char* got = decoded + (y * w + x) * 3;
      EXPECT_EQ(got[0], want.r);
      EXPECT_EQ(got[1], want.g);
      EXPECT_EQ(got[2], want.b);
    }
  }
  EXPECT_EQ(image.pixel(3, 2).r, 200);
  EXPECT_EQ(image.pixel(6, 4).b, 3);
  stbi_image_free(decoded);
  std::filesystem::remove(path);
}

TEST(Image, TextIsDrawnInsideItsBox) {
  io::Image image(80, 30);
  const int w = io::Image::text_width("2026", 2), h = io::Image::text_height(2);
  image.draw_text(5, 3, "2026", {0, 0, 0}, 2);
  int inked = 0, outside = 0;
  for (int y = 0; y < image.height(); ++y) {
    for (int x = 0; x < image.width(); ++x) {
      if (image.pixel(x, y).r != 0) continue;
      ++inked;
      outside += x < 5 || x >= 5 + w || y < 3 || y >= 3 + h;
    }
  }
  EXPECT_GT(inked, 40);  // four digits of 2x2-pixel strokes
  EXPECT_EQ(outside, 0);
}

TEST(Image, ACharacterAloneIsDrawnWhole) {
  // Every glyph drawn alone inks exactly the pixels it inks inside a string
  // (the vertex buffer once had room for only part of a lone glyph).
  const std::string glyphs = "0123456789-_<>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  io::Image line(io::Image::text_width(glyphs) + 4, 16);
  line.draw_text(0, 0, glyphs, {0, 0, 0});
  int x = 0;
  for (char c : glyphs) {
    const std::string one(1, c);
    io::Image alone(io::Image::text_width(one) + 4, 16);
    alone.draw_text(0, 0, one, {0, 0, 0});
    for (int y = 0; y < 16; ++y) {
      for (int dx = 0; dx < io::Image::text_width(one); ++dx) {
        ASSERT_EQ(alone.pixel(dx, y).r, line.pixel(x + dx, y).r) << "glyph '" << c << "' at (" << dx << ", " << y << ")";
      }
    }
    x += io::Image::text_width(one);
  }
}

TEST(Image, BadSizesAreErrors) {
  EXPECT_TRUE(throws_error_naming([] { io::Image(0, 5); }, "Image: width and height"));
  io::Image image(2, 2);
  EXPECT_TRUE(throws_error_naming([&] { image.pixel(2, 0); }, "lies outside 2 x 2"));
  EXPECT_TRUE(throws_error_naming([&] { image.draw_text(0, 0, "x", {}, 0); }, "scale must be at least 1"));
}

TEST(AttentionHeatmap, ViridisEndsAreMatplotlibs) {
  // matplotlib's viridis runs from #440154 to #fde725.
  io::Rgb low = io::viridis(0.0), high = io::viridis(1.0);
  EXPECT_EQ(low.r, 0x44);
  EXPECT_EQ(low.g, 0x01);
  EXPECT_EQ(low.b, 0x54);
  EXPECT_EQ(high.r, 0xfd);
  EXPECT_EQ(high.g, 0xe7);
  EXPECT_EQ(high.b, 0x25);
  EXPECT_EQ(io::viridis(-1.0).r, low.r);
  EXPECT_EQ(io::viridis(std::nan("")).g, low.g);
}

TEST(AttentionHeatmap, EachCellHasTheColourOfItsWeight) {
  const int cell = 10;
  Tensor weights = from_vector({0.1f, 0.6f, 0.3f, 0.0f, 0.2f, 0.8f}, {2, 3});
  io::HeatmapLabels labels{{"a", "b"}, {"x", "y", "z"}, "title", "out", "in"};
  io::Image image = io::render_attention_heatmap(weights, labels, cell);
  for (float w : {0.1f, 0.6f, 0.3f, 0.0f, 0.2f, 0.8f}) {
    EXPECT_GE(count_pixels(image, io::viridis(w / 0.8)), cell * cell) << "weight " << w;
  }
  const std::string path = temp_path("heatmap.png");
  io::save_attention_heatmap(path, weights, labels, cell);
  int w = 0, h = 0, channels = 0;
  EXPECT_EQ(stbi_info(path.c_str(), &w, &h, &channels), 1);
  EXPECT_EQ(w, image.width());
  EXPECT_EQ(h, image.height());
  std::filesystem::remove(path);
}

TEST(AttentionHeatmap, EveryLabelFitsInTheImage) {
  // A narrow matrix with long axis names and title: the image grows to hold
  // the text (the column axis name was once cut off at the right edge).
  io::HeatmapLabels labels{{"a"}, {"x"}, "t", "rows", "a long name for the columns of a narrow matrix"};
  io::Image image = io::render_attention_heatmap(from_vector({1.0f}, {1, 1}), labels, 10);
  EXPECT_GE(image.width(), io::Image::text_width(labels.column_axis, 2));
  // Nothing is inked in the last column of pixels: the margin is kept.
  for (int y = 0; y < image.height(); ++y) EXPECT_EQ(image.pixel(image.width() - 1, y).r, 255) << y;
}

TEST(AttentionHeatmap, BadInputIsAnError) {
  io::HeatmapLabels labels{{"a"}, {"x", "y"}, "", "", ""};
  EXPECT_TRUE(throws_error_naming([&] { io::render_attention_heatmap(zeros({2, 2}), labels); },
                                  "1 row and 2 column labels for a (2, 2) matrix"));
  EXPECT_TRUE(throws_error_naming([&] { io::render_attention_heatmap(zeros({1, 2, 1}), labels); },
                                  "(rows, columns) matrix"));
  EXPECT_TRUE(throws_error_naming(
      [&] { io::render_attention_heatmap(from_vector({0.5f, std::nanf("")}, {1, 2}), labels); }, "must be finite"));
  EXPECT_TRUE(throws_error_naming([&] { io::render_attention_heatmap(zeros({1, 2}, kInt64), labels); },
                                  "floating point"));
}

}  // namespace
}  // namespace attnkit::testing
