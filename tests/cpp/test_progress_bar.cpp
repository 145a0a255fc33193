// The training progress bar, written into a file (not a terminal): one line
// per tenth of the way, the counts and status on each, nothing lost at the end.
#include <cstdio>
#include <string>
#include <vector>

#include "test_support.h"

namespace attnkit::testing {
namespace {

std::vector<std::string> lines_of(std::FILE* f) {
  std::rewind(f);
  std::vector<std::string> lines;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f)) lines.emplace_back(buf);
  return lines;
}

TEST(ProgressBar, LogsEveryTenthIntoAFile) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    train::ProgressBar bar(200, "train", f);
    for (int i = 1; i <= 200; ++i) bar.update(i, "loss " + std::to_string(1000 - i));
    bar.finish();
  }
  auto lines = lines_of(f);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_NE(lines[0].find("train [##"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(" 20/200  loss 980"), std::string::npos) << lines[0];
  EXPECT_NE(lines[9].find("[########################] 200/200  loss 800"), std::string::npos) << lines[9];
  std::fclose(f);
}

TEST(ProgressBar, FinishShowsWhereAStoppedRunEnded) {
  std::FILE* f = std::tmpfile();
  train::ProgressBar bar(100, "train", f);
  bar.update(5, "early");
  bar.finish();
  bar.finish();  // once only
  auto lines = lines_of(f);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("  5/100  early"), std::string::npos) << lines[0];
  std::fclose(f);
  EXPECT_TRUE(throws_error_naming([] { train::ProgressBar(0, "x"); }, "total must be positive"));
}

}  // namespace
}  // namespace attnkit::testing
