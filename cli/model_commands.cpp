#include "model_commands.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/attnkit.h"
#include "attnkit/tokenizers/decode_stream.h"
#include "attnkit/tokenizers/tokenizer.h"

namespace attnkit::cli {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void use_threads(int threads) {
  if (threads > 0) set_num_threads(threads);
}

// ---- embed ----

struct EmbedOptions {
  std::string model;
  std::vector<std::string> texts;
  std::string output;  // "" = JSON lines on stdout
  int64_t batch_size = 32;
  int threads = 0;
};

std::string embedding_line(const std::string& text, const float* row, int64_t dim) {
  nlohmann::ordered_json line;  // keys in this order, text first
  line["text"] = text;
  line["embedding"] = std::vector<float>(row, row + dim);
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void run_embed(const EmbedOptions& o) {
  use_threads(o.threads);
  std::vector<std::string> texts = o.texts;
  if (texts.empty()) {  // one sentence per line of stdin
    for (std::string line; std::getline(std::cin, line);) texts.push_back(line);
  }
  AK_CHECK(!texts.empty(), "embed: no text (give TEXT arguments or lines on stdin)");
  const models::SentenceEmbedder embedder = models::SentenceEmbedder::from_pretrained(o.model);
  const Tensor embeddings = embedder.encode(texts, o.batch_size);  // (N, D)
  const int64_t dim = embeddings.size(1);
  const float* data = embeddings.data<float>();
  if (ends_with(o.output, ".npy")) {
    io::save_npy(o.output, embeddings);
    std::fprintf(stderr, "attnkit: wrote %lld embeddings of dimension %lld to %s\n",
                 static_cast<long long>(texts.size()), static_cast<long long>(dim), o.output.c_str());
  } else if (!o.output.empty()) {
    io::write_file_atomically(o.output, [&](std::ostream& out) {
      for (size_t i = 0; i < texts.size(); ++i) out << embedding_line(texts[i], data + i * dim, dim) << '\n';
    });
  } else {
    for (size_t i = 0; i < texts.size(); ++i) std::printf("%s\n", embedding_line(texts[i], data + i * dim, dim).c_str());
  }
}

// ---- generate ----

struct GenerateOptions {
  std::string model, prompt;
  int64_t max_new_tokens = 50;
  bool sample = false;
  double temperature = 1.0, top_p = 1.0, repetition_penalty = 1.0;
  int64_t top_k = 50;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  bool no_stop = false;
  int threads = 0;
};

void run_generate(const GenerateOptions& o) {
  use_threads(o.threads);
  const auto model = models::Gpt2LMHeadModel::from_pretrained(o.model);
  const tokenizers::Tokenizer tokenizer = tokenizers::Tokenizer::from_folder(o.model);
  const tokenizers::Encoding prompt = tokenizer.encode(o.prompt);
  AK_CHECK(!prompt.ids.empty(), "generate: the prompt is empty");

  models::GenerationOptions options;
  options.max_new_tokens = o.max_new_tokens;
  options.sampling.do_sample = o.sample;
  options.sampling.temperature = o.temperature;
  options.sampling.top_k = o.top_k;
  options.sampling.top_p = o.top_p;
  options.sampling.repetition_penalty = o.repetition_penalty;
  options.sampling.seed = o.seed;
  options.use_stop_tokens = !o.no_stop;
  for (const std::string& stop : o.stop) {
    const std::optional<int64_t> id = tokenizer.token_to_id(stop);
    AK_CHECK(id.has_value(), "generate: --stop \"", stop, "\" is not a token of the vocabulary");
    options.stop_token_ids.push_back(*id);
  }
  if (!o.stop.empty()) options.stop_token_ids.push_back(model->transformer->config.eos_token_id);

  std::fputs(o.prompt.c_str(), stdout);
  std::fflush(stdout);
  tokenizers::DecodeStream stream(tokenizer);
  for (int64_t id : prompt.ids) stream.step(id);  // the prompt's text is printed already
  const auto start = std::chrono::steady_clock::now();
  const models::GenerationResult result = model->generate(prompt.ids, options, [&](int64_t token) {
    const std::string piece = stream.step(token);
    std::fputs(piece.c_str(), stdout);
    std::fflush(stdout);
    return true;
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fputs("\n", stdout);
  std::fprintf(stderr, "attnkit: %zu prompt tokens, %zu generated in %.2f s (%.1f ms/token), stopped by %s\n",
               prompt.ids.size(), result.tokens.size(), seconds,
               result.tokens.empty() ? 0.0 : seconds * 1e3 / static_cast<double>(result.tokens.size()),
               result.stop_reason.c_str());
}

// ---- fill-mask ----

struct FillMaskOptions {
  std::string model, text;
  int64_t top_k = 5;
  bool json = false;
  int threads = 0;
};

void run_fill_mask(const FillMaskOptions& o) {
  use_threads(o.threads);
  const auto model = models::BertForMaskedLM::from_pretrained(o.model);
  const tokenizers::Tokenizer tokenizer = tokenizers::Tokenizer::from_folder(o.model);
  for (const models::FillMaskCandidate& c : models::fill_mask(*model, tokenizer, o.text, o.top_k)) {
    if (o.json) {
      nlohmann::ordered_json line{{"score", c.score}, {"token", c.token}, {"token_str", c.token_str},
                          {"sequence", c.sequence}};
      std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("%.4f  %-16s %s\n", c.score, c.token_str.c_str(), c.sequence.c_str());
    }
  }
}

void add_model_option(CLI::App* app, std::string& target, const char* what) {
  app->add_option("--model", target, std::string("A Hugging Face model folder: ") + what)
      ->required()
      ->check(CLI::ExistingDirectory);
}

}  // namespace

void add_embed_command(CLI::App& parent) {
  auto o = std::make_shared<EmbedOptions>();
  CLI::App* app = parent.add_subcommand(
      "embed",
      "Sentence embeddings as sentence-transformers computes them (e.g. all-MiniLM-L6-v2): one per TEXT, or per "
      "line of stdin. Prints JSON lines {\"text\", \"embedding\"}, or writes --output (.npy or .jsonl).");
  add_model_option(app, o->model, "a sentence-transformers BERT folder (modules.json, 1_Pooling, tokenizer)");
  app->add_option("texts", o->texts, "Sentences to embed (none: read lines from stdin)");
  app->add_option("--output,-o", o->output, "Write here instead of stdout: FILE.npy (float32 (N, D)) or JSON lines");
  app->add_option("--batch-size", o->batch_size, "Sentences per model call")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--threads", o->threads, "Threads (0 = every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->callback([o] { run_embed(*o); });
}

void add_generate_command(CLI::App& parent) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* app = parent.add_subcommand(
      "generate",
      "Continue a prompt with a GPT-2 model, printing tokens as they are generated: greedy by default, or sampled "
      "(--sample) with temperature, top-k, top-p and a seed. Stops at the end-of-text token, a --stop token, "
      "--max-new-tokens or the model's context.");
  add_model_option(app, o->model, "a GPT-2 folder (config.json, model.safetensors, tokenizer files)");
  app->add_option("--prompt,-p", o->prompt, "The text to continue")->required();
  app->add_option("--max-new-tokens,-n", o->max_new_tokens, "Tokens to generate at most")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app->add_flag("--sample", o->sample, "Sample instead of taking the most likely token");
  app->add_option("--temperature", o->temperature, "Sampling temperature (> 0)")->capture_default_str();
  app->add_option("--top-k", o->top_k, "Sample among the k most likely tokens (0 = all)")->capture_default_str();
  app->add_option("--top-p", o->top_p, "Sample among the most likely tokens whose probabilities reach p (1 = all)")
      ->capture_default_str();
  app->add_option("--repetition-penalty", o->repetition_penalty,
                  "Divide the logits of tokens already in the text by this (1 = off; also greedy)")
      ->capture_default_str();
  app->add_option("--seed", o->seed, "Seed of the sampler")->capture_default_str();
  app->add_option("--stop", o->stop, "Stop after this token (a vocabulary entry; repeatable), besides end-of-text");
  app->add_flag("--no-stop", o->no_stop, "Ignore end-of-text and --stop: run to --max-new-tokens");
  app->add_option("--threads", o->threads, "Threads (0 = every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->callback([o] { run_generate(*o); });
}

void add_fill_mask_command(CLI::App& parent) {
  auto o = std::make_shared<FillMaskOptions>();
  CLI::App* app = parent.add_subcommand(
      "fill-mask",
      "Print a BERT masked-LM's most likely tokens for the [MASK] in TEXT, with their probabilities and the "
      "completed text, as transformers' fill-mask pipeline.");
  add_model_option(app, o->model, "a BertForMaskedLM folder (config.json, model.safetensors, tokenizer files)");
  app->add_option("text", o->text, "Text with one mask token, e.g. \"Paris is the [MASK] of France.\"")->required();
  app->add_option("--top-k,-k", o->top_k, "Candidates to print")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_flag("--json", o->json, "Print JSON lines {score, token, token_str, sequence}");
  app->add_option("--threads", o->threads, "Threads (0 = every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->callback([o] { run_fill_mask(*o); });
}

}  // namespace attnkit::cli
