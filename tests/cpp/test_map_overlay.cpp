// Attention maps over images: the colours come from the map where it is
// strong and from the image where alpha leaves it, boxes and paths land on
// the pixels they name, and a spatial transformer's sampling grid spreads its
// weight where grid_sample reads.
#include "attnkit/io/map_overlay.h"

#include "test_support.h"

namespace attnkit::testing {
namespace {

io::Rgb rgb_at(const io::Image& image, int x, int y) { return image.pixel(x, y); }

bool same(io::Rgb a, io::Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

TEST(MapOverlay, AlphaOneShowsTheMapsColoursAtItsExtremes) {
  // A 4×4 map, 0 on the left half and 1 on the right, over a constant image.
  Tensor map = zeros({4, 4});
  for (int y = 0; y < 4; ++y)
    for (int x = 2; x < 4; ++x) map.data<float>()[y * 4 + x] = 1.0f;
  io::Image out = io::render_map_overlay(ones({1, 4, 4}), map, {.alpha = 1.0, .scale = 3});
  ASSERT_EQ(out.width(), 12);
  ASSERT_EQ(out.height(), 12);
  EXPECT_TRUE(same(rgb_at(out, 0, 0), io::viridis(0.0)));
  EXPECT_TRUE(same(rgb_at(out, 11, 11), io::viridis(1.0)));
}

TEST(MapOverlay, AlphaZeroShowsTheImageStretchedToGrey) {
  Tensor image = zeros({2, 2});
  image.data<float>()[3] = 5.0f;  // the max becomes white, the min black
  io::Image out = io::render_map_overlay(image, ones({2, 2}), {.alpha = 0.0, .scale = 1});
  EXPECT_TRUE(same(rgb_at(out, 0, 0), {0, 0, 0}));
  EXPECT_TRUE(same(rgb_at(out, 1, 1), {255, 255, 255}));
}

TEST(MapOverlay, SmallMapIsResizedOverTheImage) {
  // A 2×2 map over an 8×8 image: the top-left corner is the map's (0, 0) cell.
  Tensor map = from_vector({0.0f, 1.0f, 1.0f, 1.0f}, {1, 2, 2});
  io::Image out = io::render_map_overlay(zeros({3, 8, 8}), map, {.alpha = 1.0, .scale = 1});
  EXPECT_EQ(out.width(), 8);
  EXPECT_TRUE(same(rgb_at(out, 0, 0), io::viridis(0.0)));
  EXPECT_TRUE(same(rgb_at(out, 7, 7), io::viridis(1.0)));
}

TEST(MapOverlay, AutomaticScaleMakesSmallImagesLarge) {
  io::Image out = io::render_map_overlay(zeros({8, 8}), Tensor(), {});
  EXPECT_EQ(out.width(), 256);
  io::Image titled = io::render_map_overlay(zeros({8, 8}), Tensor(), {.title = "digit"});
  EXPECT_GT(titled.height(), 256);
}

TEST(MapOverlay, BoxesAndPathsAreDrawnWhereTheyAre) {
  io::MapOverlayOptions options{.alpha = 0.0, .scale = 4};
  options.boxes.push_back({2, 2, 6, 6});
  options.path = {{1, 1}, {7, 7}};
  io::Image out = io::render_map_overlay(zeros({8, 8}), Tensor(), options);
  const io::Rgb red{230, 30, 30};
  EXPECT_TRUE(same(rgb_at(out, 16, 8), red));     // the box's top edge at y = 2 (× 4)
  EXPECT_TRUE(same(rgb_at(out, 16, 16), red));    // the path's middle
  EXPECT_TRUE(same(rgb_at(out, 4, 4), {255, 255, 255}));  // its first point
  EXPECT_TRUE(same(rgb_at(out, 30, 3), {128, 128, 128}));  // far from both: the (constant, so grey) image
}

TEST(MapOverlay, BadInputIsAnErrorNamingTheShape) {
  EXPECT_TRUE(throws_error_naming([&] { io::render_map_overlay(zeros({2, 1, 4, 4}), Tensor(), {}); }, "pass one sample"));
  EXPECT_TRUE(throws_error_naming([&] { io::render_map_overlay(zeros({2, 4, 4}), Tensor(), {}); }, "(2, 4, 4)"));
  EXPECT_TRUE(throws_error_naming([&] { io::render_map_overlay(zeros({4, 4}), zeros({3, 4, 4}), {}); }, "map must be"));
  EXPECT_TRUE(throws_error_naming([&] { io::render_map_overlay(zeros({4, 4}), Tensor(), {.alpha = 2.0}); }, "alpha"));
  EXPECT_TRUE(throws_error_naming([&] { io::render_map_overlay(zeros({0, 4}), Tensor(), {}); }, "empty"));
  EXPECT_TRUE(throws_error_naming([&] { io::tile_images({}, 2); }, "no images"));
}

TEST(MapOverlay, TilesSitSideBySide) {
  io::Image a(3, 2, {255, 0, 0}), b(2, 4, {0, 0, 255});
  io::Image out = io::tile_images({a, b, a}, 2, 1);
  EXPECT_EQ(out.width(), 2 * 3 + 3);
  EXPECT_EQ(out.height(), 2 * 4 + 3);
  EXPECT_TRUE(same(rgb_at(out, 1, 1), {255, 0, 0}));
  EXPECT_TRUE(same(rgb_at(out, 5, 1), {0, 0, 255}));
  EXPECT_TRUE(same(rgb_at(out, 1, 6), {255, 0, 0}));
}

TEST(SamplingDensity, IdentityGridPutsOneOnEveryPixel) {
  // affine_grid of the identity reads each input pixel exactly once.
  Tensor theta = from_vector({1, 0, 0, 0, 1, 0}, {1, 2, 3});
  Tensor grid = affine_grid(theta, {1, 1, 5, 7}, /*align_corners=*/false);
  Tensor density = io::sampling_density(grid.select(0, 0), 5, 7, false);
  EXPECT_TRUE(all_close(density, ones({5, 7}), 1e-5, 1e-5));
}

TEST(SamplingDensity, ZoomedGridLooksAtTheCentre) {
  // Half-scale: the output reads only the middle of the input.
  Tensor theta = from_vector({0.5f, 0, 0, 0, 0.5f, 0}, {1, 2, 3});
  Tensor grid = affine_grid(theta, {1, 1, 8, 8}, true);
  Tensor density = io::sampling_density(grid.select(0, 0), 8, 8, true);
  EXPECT_NEAR(sum(density).item(), 64.0f, 1e-3);
  EXPECT_EQ(density.data<float>()[0], 0.0f);                 // corner unread
  EXPECT_GT(density.data<float>()[3 * 8 + 3], 1.0f);         // centre read many times
  EXPECT_TRUE(throws_error_naming([&] { io::sampling_density(grid, 8, 8); }, "(Ho, Wo, 2)"));
}

TEST(SamplingOutline, IdentityGridOutlinesTheWholeInput) {
  for (bool align_corners : {false, true}) {
    Tensor theta = from_vector({1, 0, 0, 0, 1, 0}, {1, 2, 3});
    Tensor grid = affine_grid(theta, {1, 1, 6, 8}, align_corners).select(0, 0);
    std::vector<io::PixelPoint> corners = io::sampling_outline(grid, 6, 8, align_corners);
    ASSERT_EQ(corners.size(), 4u);
    EXPECT_NEAR(corners[0].y, 0, 1e-4);
    EXPECT_NEAR(corners[0].x, 0, 1e-4);
    EXPECT_NEAR(corners[2].y, 6, 1e-4);
    EXPECT_NEAR(corners[2].x, 8, 1e-4);
  }
  // Half scale, shifted right by a quarter of the width: columns 3..7 of 8.
  Tensor theta = from_vector({0.5f, 0, 0.25f, 0, 0.5f, 0}, {1, 2, 3});
  std::vector<io::PixelPoint> c = io::sampling_outline(affine_grid(theta, {1, 1, 4, 4}).select(0, 0), 8, 8);
  EXPECT_NEAR(c[0].x, 3, 1e-4);
  EXPECT_NEAR(c[1].x, 7, 1e-4);
  EXPECT_NEAR(c[0].y, 2, 1e-4);
  EXPECT_NEAR(c[3].y, 6, 1e-4);
}

}  // namespace
}  // namespace attnkit::testing
