#pragma once
// `attnkit demo digits`: scikit-learn's handwritten digits, enlarged and
// randomly rotated, scaled and shifted; a small CNN trained three ways —
// plain, with CBAM, with a spatial transformer in front — its test accuracy
// for each, how much the spatial transformer straightened and centred the
// digits, and PNGs: rectified digits beside their inputs, and CBAM's spatial
// maps over the digits.
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace attnkit::cli {

struct DigitsDemoOptions {
  std::string data;        // digits.csv(.gz); empty: found through python3's scikit-learn
  int64_t steps = 1500;    // per model
  int64_t batch_size = 64;
  double lr = 2e-3;        // Adam's peak, warm-up then cosine decay
  int64_t size = 32;       // canvas side of the distorted digits; a multiple of 8, >= 24
  int64_t test_size = 397; // digits held out (of 1,797)
  int64_t examples = 12;   // digits drawn in the PNGs
  uint64_t seed = 0;
  int threads = 0;         // 0 = every core
  std::string out_dir = "attnkit-digits";
};

// Adds the `digits` subcommand to `demo`; running it runs the demo.
void add_digits_demo(CLI::App& demo);
int run_digits_demo(const DigitsDemoOptions& options);

}  // namespace attnkit::cli
