#include "demo_dates.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "attnkit/attnkit.h"
#include "attnkit/data/dates.h"
#include "attnkit/io/attention_heatmap.h"
#include "attnkit/io/safetensors.h"
#include "attnkit/models/seq2seq_transformer.h"
#include "attnkit/train/progress_bar.h"

namespace attnkit::cli {

namespace {

using data::CharVocab;
using data::DatePair;

// One padded batch: src (N, S) source characters, padded with pad;
// tgt_in (N, T) bos + target; tgt_out (N, T) target + eos.
struct Batch {
  Tensor src, tgt_in, tgt_out;
};

Tensor pad_rows(const std::vector<std::vector<int64_t>>& rows) {
  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.size());
  std::vector<int64_t> flat(rows.size() * width, CharVocab::kPad);
  for (size_t i = 0; i < rows.size(); ++i) std::copy(rows[i].begin(), rows[i].end(), flat.begin() + i * width);
  return from_vector_i64(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(width)});
}

Batch make_batch(const std::vector<DatePair>& pairs, size_t begin, size_t end, const CharVocab& vocab) {
  std::vector<std::vector<int64_t>> src, tgt_in, tgt_out;
  for (size_t i = begin; i < end; ++i) {
    src.push_back(vocab.encode(pairs[i].source));
    tgt_in.push_back(vocab.encode(pairs[i].target, /*bos=*/true, /*eos=*/false));
    tgt_out.push_back(vocab.encode(pairs[i].target, /*bos=*/false, /*eos=*/true));
  }
  return {pad_rows(src), pad_rows(tgt_in), pad_rows(tgt_out)};
}

// Rows of the batch whose every target token is predicted right (teacher forced).
double sequence_accuracy(const Tensor& logits, const Tensor& target) {
  NoGradGuard no_grad;
  const Tensor predicted = argmax(logits, -1).contiguous();  // (N, T)
  const Tensor want = target.contiguous();
  const int64_t rows = want.size(0), length = want.size(1);
  const int64_t* p = predicted.data<int64_t>();
  const int64_t* t = want.data<int64_t>();
  int64_t right = 0;
  for (int64_t r = 0; r < rows; ++r) {
    bool all = true;
    for (int64_t c = 0; c < length; ++c) all = all && (t[r * length + c] == CharVocab::kPad || p[r * length + c] == t[r * length + c]);
    right += all;
  }
  return static_cast<double>(right) / static_cast<double>(rows);
}

std::string fixed(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// The labels of a heatmap: input characters (columns, spaces shown as '_')
// and the characters the decoder predicted at each row.
io::HeatmapLabels heatmap_labels(const DatePair& pair, const std::string& output) {
  io::HeatmapLabels labels;
  for (char c : pair.source) labels.columns.push_back(c == ' ' ? "_" : std::string(1, c));
  for (char c : output) labels.rows.push_back(std::string(1, c));
  labels.rows.push_back("<eos>");
  labels.title = "\"" + pair.source + "\" -> \"" + output + "\"";
  labels.row_axis = "output";
  labels.column_axis = "input (cross-attention, mean of heads)";
  return labels;
}

}  // namespace

int run_dates_demo(const DatesDemoOptions& o) {
  AK_CHECK(o.steps > 0 && o.batch_size > 0 && o.eval_size > 0 && o.examples >= 0 && o.beam_size > 0,
           "demo dates: steps, batch size, eval size and beam size must be positive and examples non-negative");
  if (o.threads > 0) set_num_threads(o.threads);
  const CharVocab vocab;
  manual_seed(o.seed);  // dropout, if any

  // Held-out dates first; no training pair repeats one of their sources.
  const std::vector<DatePair> held_out = data::make_date_pairs(o.eval_size, o.seed * 2 + 1);
  std::unordered_set<std::string> held_out_sources;
  for (const auto& p : held_out) held_out_sources.insert(p.source);
  std::vector<DatePair> train_pairs;
  const size_t wanted = static_cast<size_t>(o.steps * o.batch_size);
  for (uint64_t chunk = 0; train_pairs.size() < wanted; ++chunk) {
    for (auto& p : data::make_date_pairs(std::min<int64_t>(100000, o.steps * o.batch_size), o.seed * 2 + 2 + chunk * 1000003)) {
      if (!held_out_sources.count(p.source) && train_pairs.size() < wanted) train_pairs.push_back(std::move(p));
    }
  }

  models::Seq2SeqTransformerOptions mo;
  mo.src_vocab = mo.tgt_vocab = vocab.size();
  mo.pad = CharVocab::kPad;
  mo.d_model = o.d_model;
  mo.nhead = o.heads;
  mo.num_encoder_layers = o.encoder_layers;
  mo.num_decoder_layers = o.decoder_layers;
  mo.dim_feedforward = o.dim_feedforward;
  mo.dropout = o.dropout;
  mo.max_len = 128;
  Generator init(o.seed);
  models::Seq2SeqTransformer model(mo, &init);
  int64_t parameter_count = 0;
  for (const Tensor& p : model.parameters()) parameter_count += p.numel();

  std::printf("attnkit demo: translating dates into ISO 8601, character by character\n");
  std::printf("  model   Transformer d_model %lld, %lld heads, %lld + %lld layers, feed-forward %lld: %.2fM parameters\n",
              static_cast<long long>(o.d_model), static_cast<long long>(o.heads),
              static_cast<long long>(o.encoder_layers), static_cast<long long>(o.decoder_layers),
              static_cast<long long>(o.dim_feedforward), static_cast<double>(parameter_count) / 1e6);
  std::printf("  train   %lld steps of %lld dates (AdamW, peak lr %g), %d threads\n", static_cast<long long>(o.steps),
              static_cast<long long>(o.batch_size), o.lr, get_num_threads());
  std::printf("  e.g.   ");
  for (size_t i = 0; i < std::min<size_t>(2, train_pairs.size()); ++i) {
    std::printf("%s \"%s\" -> \"%s\"", i ? "," : "", train_pairs[i].source.c_str(), train_pairs[i].target.c_str());
  }
  std::printf("\n\n");

  std::fflush(stdout);  // the header before the progress bar (stderr), also when piped

  train::AdamOptions adam = train::AdamW::with_adamw_defaults();
  adam.lr = o.lr;
  adam.beta2 = 0.98;  // the paper's; adapts faster than 0.999 over a short run
  train::AdamW optimizer(model.parameters(), adam);
  const int64_t warmup = o.warmup < 0 ? o.steps / 6 : o.warmup;
  AK_CHECK(warmup < o.steps, "demo dates: --warmup (", warmup, ") must be shorter than --steps (", o.steps, ")");
  train::WarmupCosine schedule(optimizer, warmup, o.steps, o.lr / 20);
  schedule.start();
  model.train();
  train::ProgressBar bar(o.steps, "train");
  double smoothed_loss = 0.0, smoothed_accuracy = 0.0;
  for (int64_t step = 0; step < o.steps; ++step) {
    const size_t begin = static_cast<size_t>(step * o.batch_size);
    const Batch batch = make_batch(train_pairs, begin, begin + static_cast<size_t>(o.batch_size), vocab);
    const Tensor logits = model.forward(batch.src, batch.tgt_in);  // (N, T, V)
    const Tensor loss = cross_entropy(logits.reshape({-1, vocab.size()}), batch.tgt_out.reshape({-1}),
                                      CharVocab::kPad, Reduction::Mean, o.label_smoothing);
    optimizer.zero_grad();
    loss.backward();
    train::clip_grad_norm(optimizer.params(), 1.0);
    optimizer.step();
    schedule.step();
    const double decay = step == 0 ? 0.0 : 0.9;
    smoothed_loss = decay * smoothed_loss + (1 - decay) * loss.item();
    smoothed_accuracy = decay * smoothed_accuracy + (1 - decay) * sequence_accuracy(logits, batch.tgt_out);
    bar.update(step + 1, "loss " + fixed("%.4f", smoothed_loss) + "  acc " + fixed("%5.1f%%", 100 * smoothed_accuracy));
  }
  bar.finish();
  const double train_seconds = bar.elapsed_seconds();

  // Held-out exact match, decoding from scratch (no teacher forcing).
  model.eval();
  decoding::SearchOptions search;
  search.bos = CharVocab::kBos;
  search.eos = CharVocab::kEos;
  search.max_length = 16;
  search.beam_size = o.beam_size;
  std::vector<std::string> outputs;
  const size_t eval_batch = 250;
  for (size_t begin = 0; begin < held_out.size(); begin += eval_batch) {
    const size_t end = std::min(held_out.size(), begin + eval_batch);
    const Batch batch = make_batch(held_out, begin, end, vocab);
    for (const auto& tokens : model.translate(batch.src, search, o.beam_size > 1)) outputs.push_back(vocab.decode(tokens));
  }
  int64_t right = 0;
  for (size_t i = 0; i < held_out.size(); ++i) right += outputs[i] == held_out[i].target;
  const double accuracy = static_cast<double>(right) / static_cast<double>(held_out.size());
  std::printf("\nheld-out exact match: %lld / %lld = %.1f%%  (%s decoding; training took %.1f s)\n\n",
              static_cast<long long>(right), static_cast<long long>(held_out.size()), 100 * accuracy,
              o.beam_size > 1 ? "beam" : "greedy", train_seconds);

  // A few translations, the wrong ones first (if any).
  std::vector<size_t> shown;
  for (size_t i = 0; i < held_out.size() && static_cast<int64_t>(shown.size()) < o.examples / 2; ++i) {
    if (outputs[i] != held_out[i].target) shown.push_back(i);
  }
  for (size_t i = 0; i < held_out.size() && static_cast<int64_t>(shown.size()) < o.examples; ++i) {
    if (outputs[i] == held_out[i].target) shown.push_back(i);
  }
  for (size_t i = 0; i < held_out.size() && static_cast<int64_t>(shown.size()) < o.examples; ++i) {
    if (std::find(shown.begin(), shown.end(), i) == shown.end()) shown.push_back(i);  // few right ones
  }
  size_t source_width = 0;
  for (size_t i : shown) source_width = std::max(source_width, held_out[i].source.size());
  for (size_t i : shown) {
    const bool ok = outputs[i] == held_out[i].target;
    std::printf("  %-*s -> %s  %s\n", static_cast<int>(source_width + 2), ("\"" + held_out[i].source + "\"").c_str(),
                outputs[i].c_str(), ok ? "ok" : ("wrong, expected " + held_out[i].target).c_str());
  }

  if (o.examples > 0) {
    std::filesystem::create_directories(o.out_dir);
    std::printf("\ncross-attention heatmaps in %s\n(rows: output characters, columns: input characters):\n",
                std::filesystem::absolute(o.out_dir).lexically_normal().c_str());
    for (size_t k = 0; k < shown.size(); ++k) {
      const DatePair& pair = held_out[shown[k]];
      const Batch one = make_batch({pair}, 0, 1, vocab);
      const std::vector<int64_t> output_ids = vocab.encode(outputs[shown[k]], /*bos=*/true);
      const Tensor tgt = from_vector_i64(output_ids, {1, static_cast<int64_t>(output_ids.size())});
      std::vector<Tensor> layers = model.cross_attention(one.src, tgt);  // each (1, T, S)
      for (size_t l = 0; l < layers.size(); ++l) {
        char name[64];
        std::snprintf(name, sizeof name, "date_%02zu_layer%zu.png", k + 1, l + 1);
        const std::string path = (std::filesystem::path(o.out_dir) / name).string();
        io::HeatmapLabels labels = heatmap_labels(pair, outputs[shown[k]]);
        labels.title += "  decoder layer " + std::to_string(l + 1);
        io::save_attention_heatmap(path, layers[l].select(0, 0), labels);
        std::printf("  %s\n", path.c_str());
      }
    }
  }
  if (!o.save_model.empty()) {
    io::TensorMap weights;
    for (auto& [name, tensor] : model.state_dict()) weights[name] = tensor;
    io::save_safetensors(o.save_model, weights);
    std::printf("\nweights saved to %s\n", o.save_model.c_str());
  }
  return 0;
}

void add_dates_demo(CLI::App& demo) {
  auto options = std::make_shared<DatesDemoOptions>();
  CLI::App* app = demo.add_subcommand(
      "dates",
      "Train a small Transformer to translate dates in many human formats (\"Nov 25, 26\", \"25th of November 2026\", "
      "\"25.11.2026\") into ISO form (\"2026-11-25\") character by character; report exact match on held-out "
      "dates, print translations, and write PNG heatmaps of the decoder's cross-attention.");
  app->add_option("--steps", options->steps, "Training steps")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--batch-size", options->batch_size, "Dates per training step")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--lr", options->lr, "Peak learning rate of AdamW (linear warm-up, then cosine decay to lr/20)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--warmup", options->warmup, "Warm-up steps (-1: a sixth of --steps)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, std::numeric_limits<int64_t>::max()));
  app->add_option("--label-smoothing", options->label_smoothing, "Label smoothing of the cross-entropy")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app->add_option("--d-model", options->d_model, "Model width")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--heads", options->heads, "Attention heads (must divide --d-model)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--encoder-layers", options->encoder_layers, "Encoder layers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--decoder-layers", options->decoder_layers, "Decoder layers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--feedforward", options->dim_feedforward, "Width of the feed-forward layers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--dropout", options->dropout, "Dropout probability")->capture_default_str()->check(CLI::Range(0.0, 0.99));
  app->add_option("--eval-size", options->eval_size, "Held-out dates to measure exact match on")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--beam-size", options->beam_size, "Beam width for decoding (1 = greedy)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--examples", options->examples, "Translations to print and heatmaps to draw")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app->add_option("--seed", options->seed, "Seed of the data, the initial weights and dropout")->capture_default_str();
  app->add_option("--threads", options->threads, "Threads (0 = every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->add_option("--out", options->out_dir, "Folder for the heatmap PNGs (created if missing)")->capture_default_str();
  app->add_option("--save-model", options->save_model, "Write the trained weights to this safetensors file");
  app->callback([options] { run_dates_demo(*options); });
}

}  // namespace attnkit::cli
