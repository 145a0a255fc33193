// The digits of the vision demo: scikit-learn's CSV read exactly, every
// malformed line an error naming it, and distortions whose canonical
// rendering is the digit upright and centred.
#include "attnkit/data/digits.h"

#include "test_support.h"

namespace attnkit::testing {
namespace {

std::string csv_line(int first_level, int label, const std::string& last_level = "0") {
  std::string line = std::to_string(first_level);
  for (int i = 1; i < 63; ++i) line += ",0";
  return line + "," + last_level + "," + std::to_string(label) + "\n";
}

TEST(DigitsCsv, ReadsLevelsAndLabels) {
  data::Digits d = data::digits_from_csv(csv_line(16, 7) + "\r\n" + csv_line(8, 0, "4.0"));
  ASSERT_EQ(d.images.shape(), (Shape{2, 1, 8, 8}));
  EXPECT_EQ(values(d.labels), (std::vector<double>{7, 0}));
  EXPECT_EQ(d.images.data<float>()[0], 1.0f);
  EXPECT_EQ(d.images.data<float>()[64], 0.5f);
  EXPECT_EQ(d.images.data<float>()[64 + 63], 0.25f);
  EXPECT_EQ(data::digits_from_csv("").labels.numel(), 0);
}

TEST(DigitsCsv, MalformedLinesAreErrorsNamingThem) {
  EXPECT_TRUE(throws_error_naming([] { data::parse_digits_csv(csv_line(0, 1) + "1,2,3\n"); }, "line 2: 3 fields"));
  EXPECT_TRUE(throws_error_naming([] { data::parse_digits_csv(csv_line(17, 1)); }, "grey level must be in 0..16"));
  EXPECT_TRUE(throws_error_naming([] { data::parse_digits_csv(csv_line(0, 10)); }, "label must be in 0..9"));
  EXPECT_TRUE(throws_error_naming([] { data::parse_digits_csv(csv_line(0, 1, "x")); }, "expected an integer"));
  EXPECT_TRUE(throws_error_naming([] { data::parse_digits_csv(csv_line(0, 1, "2.5")); }, "expected an integer"));
  EXPECT_TRUE(throws_error_naming([] { data::parse_digits_csv(csv_line(0, 1, "-1")); }, "0..16"));
  EXPECT_TRUE(throws_error_naming([] { data::parse_digits_csv(csv_line(0, 1).substr(0, 20) + ",,\n"); },
                                  "expected an integer"));
  std::string long_line = csv_line(0, 1);
  long_line.insert(long_line.size() - 1, ",3");
  EXPECT_TRUE(throws_error_naming([&] { data::parse_digits_csv(long_line); }, "more than 65 fields"));
}

TEST(DistortDigits, CanonicalIsTheDigitEnlargedAndCentred) {
  // A single bright pixel block in the middle of an 8×8 digit stays in the
  // middle of the canonical canvas, and keeps its mass up to the enlargement.
  Tensor digit = zeros({1, 1, 8, 8});
  for (int y = 3; y < 5; ++y)
    for (int x = 3; x < 5; ++x) digit.data<float>()[y * 8 + x] = 1.0f;
  Generator g(3);
  data::DistortedDigits d = data::distort_digits(digit, {.size = 32, .digit_extent = 0.5}, g);
  ASSERT_EQ(d.canonical.shape(), (Shape{1, 1, 32, 32}));
  // 8 px at extent 0.5 of 32 px: 2× enlargement, mass × 4.
  EXPECT_NEAR(sum(d.canonical).item(), 4 * 4.0, 0.5);
  EXPECT_GT(d.canonical.data<float>()[15 * 32 + 15], 0.9f);
  EXPECT_NEAR(sum(d.images).item() / sum(d.canonical).item(), 1.0, 0.5);  // scaled by 0.8..1.2 squared
  EXPECT_EQ(d.theta.shape(), (Shape{1, 2, 3}));
  EXPECT_TRUE(throws_error_naming([&] { data::distort_digits(zeros({2, 8, 8}), {}, g); }, "(N, 1, h, w)"));
}

}  // namespace
}  // namespace attnkit::testing
