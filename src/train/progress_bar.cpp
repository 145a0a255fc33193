#include "attnkit/train/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "attnkit/core/error.h"

namespace attnkit::train {

namespace {

constexpr int kBarWidth = 24;

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0f s", s);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  }
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(int64_t total, std::string label, std::FILE* out)
    : total_(total), label_(std::move(label)), out_(out), terminal_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  AK_CHECK(total > 0, "ProgressBar: total must be positive, got ", total);
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::render(int64_t done, const std::string& status) const {
  const double fraction = std::clamp(static_cast<double>(done) / static_cast<double>(total_), 0.0, 1.0);
  const int filled = static_cast<int>(std::lround(fraction * kBarWidth));
  const double elapsed = elapsed_seconds();
  std::string line = label_ + " [" + std::string(static_cast<size_t>(filled), '#') +
                     std::string(static_cast<size_t>(kBarWidth - filled), '-') + "] ";
  char counts[64];
  const int width = static_cast<int>(std::to_string(total_).size());
  std::snprintf(counts, sizeof counts, "%*lld/%lld", width, static_cast<long long>(done),
                static_cast<long long>(total_));
  line += counts;
  if (!status.empty()) line += "  " + status;
  line += "  " + format_seconds(elapsed);
  if (done > 0 && done < total_) line += ", " + format_seconds(elapsed / fraction - elapsed) + " left";
  return line;
}

void ProgressBar::update(int64_t done, const std::string& status) {
  last_done_ = done;
  last_status_ = status;
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    // \r back to the line's start, \033[K clears what a longer line left.
    std::fprintf(out_, "\r%s\033[K", render(done, status).c_str());
  } else {
    const int64_t tenth = done * 10 / total_;
    if (tenth <= last_logged_tenth_) return;
    last_logged_tenth_ = tenth;
    std::fprintf(out_, "%s\n", render(done, status).c_str());
  }
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_) {
    std::fprintf(out_, "\r%s\033[K\n", render(last_done_, last_status_).c_str());
  } else if (last_logged_tenth_ < 10) {  // the last tenth was not logged yet
    std::fprintf(out_, "%s\n", render(last_done_, last_status_).c_str());
  }
  std::fflush(out_);
}

}  // namespace attnkit::train
