#pragma once
// A one-line training progress bar for a terminal:
//
//   train [##########----------]  1000/2000  loss 0.4123  acc 97.1%  41 s, 41 s left
//
// On a terminal the line is redrawn in place (at most ~10 times a second);
// into a file or pipe a plain line is written every tenth of the way, so logs
// stay readable.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace attnkit::train {

class ProgressBar {
 public:
  ProgressBar(int64_t total, std::string label, std::FILE* out = stderr);
  // Progress after `done` of `total` steps; `status` follows the counts
  // ("loss 0.41  acc 97.1%").
  void update(int64_t done, const std::string& status);
  // Draws the last state and ends the line.
  void finish();
  double elapsed_seconds() const;

 private:
  std::string render(int64_t done, const std::string& status) const;

  int64_t total_;
  std::string label_;
  std::FILE* out_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_done_ = 0, last_logged_tenth_ = 0;
  std::string last_status_;
  bool finished_ = false;
};

}  // namespace attnkit::train
