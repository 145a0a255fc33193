#pragma once
// `attnkit demo dates`: trains a small Transformer to rewrite dates written
// the ways people write them ("Nov 25, 26", "25th of November 2026") into
// ISO form ("2026-11-25"), character by character, then reports held-out
// exact match, prints translations and draws the decoder's cross-attention.
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace attnkit::cli {

struct DatesDemoOptions {
  int64_t steps = 600;
  int64_t batch_size = 64;
  double lr = 2e-3;  // the peak, after warm-up; cosine decay to lr/20
  int64_t warmup = -1;  // -1: a sixth of the steps
  double label_smoothing = 0.0;
  int64_t d_model = 128, heads = 4, encoder_layers = 2, decoder_layers = 2, dim_feedforward = 512;
  double dropout = 0.0;
  int64_t eval_size = 1000;
  int64_t beam_size = 1;  // 1 = greedy
  int64_t examples = 6;   // translations printed and heatmaps drawn
  uint64_t seed = 0;
  int threads = 0;  // 0 = every core
  std::string out_dir = "attnkit-dates";
  std::string save_model;  // a safetensors file for the trained weights, if given
};

// Adds the `dates` subcommand to `demo`; running it runs the demo.
void add_dates_demo(CLI::App& demo);
int run_dates_demo(const DatesDemoOptions& options);

}  // namespace attnkit::cli
