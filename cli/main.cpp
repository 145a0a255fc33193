// The attnkit command: one subcommand per job.
//
//   attnkit demo dates [options]   train a date-translating Transformer and draw its attention
//   attnkit demo digits [options]  train a CNN plain, with CBAM and with an STN on distorted digits
//   attnkit embed --model DIR ...   sentence embeddings (sentence-transformers folders)
//   attnkit generate --model DIR    GPT-2 text, streamed
//   attnkit fill-mask --model DIR   BERT's candidates for [MASK]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "attnkit/core/error.h"
#include "demo_dates.h"
#include "demo_digits.h"
#include "model_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"attnkit: attention mechanisms for deep learning, trained and run on the CPU"};
  app.set_version_flag("--version", "attnkit 0.1.0");
  app.require_subcommand(1);
  CLI::App* demo = app.add_subcommand("demo", "Run a demonstration: a model trained on the spot, with its attention drawn");
  demo->require_subcommand(1);
  attnkit::cli::add_dates_demo(*demo);
  attnkit::cli::add_digits_demo(*demo);
  attnkit::cli::add_embed_command(app);
  attnkit::cli::add_generate_command(app);
  attnkit::cli::add_fill_mask_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const attnkit::Error& e) {
    std::fprintf(stderr, "attnkit: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnkit: unexpected error: %s\n", e.what());
    return 1;
  }
  return 0;
}
