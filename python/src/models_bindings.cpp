// attnkit._C.models: GPT-2 and BERT loaded from Hugging Face folders, with
// transformers' class names; forward returns what transformers' forward
// returns first (logits, last_hidden_state), plus the attention weights of
// the chosen layers and heads when output_attentions is set.
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"

namespace attnkit::python {

namespace {

using namespace nb::literals;
using nn::Module;

Tensor or_undefined(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

// output_attentions=True with optional layer and head choices -> a capture.
std::optional<models::AttentionCapture> capture_of(bool output_attentions,
                                                   const std::optional<std::vector<int64_t>>& layers,
                                                   const std::optional<std::vector<int64_t>>& heads) {
  if (!output_attentions) {
    if (layers || heads) throw nb::value_error("attention_layers and attention_heads need output_attentions=True");
    return std::nullopt;
  }
  models::AttentionCapture capture;
  if (layers) capture.layers = *layers;
  if (heads) capture.heads = *heads;
  return capture;
}

nb::object with_attentions(const Tensor& main, const std::optional<models::AttentionCapture>& capture) {
  if (!capture) return nb::cast(main);
  return nb::make_tuple(main, capture->weights);
}

constexpr const char* kAttentionsDoc =
    " With output_attentions=True, returns (result, attentions): one (B, heads, T, S) tensor per chosen layer "
    "(attention_layers, default all), for the chosen heads (attention_heads, default all), recomputed from the "
    "fused kernel's log-sum-exp.";

void bind_gpt2(nb::module_& m) {
  nb::class_<models::Gpt2Cache>(m, "GPT2Cache", "Per-layer key/value storage for incremental decoding.")
      .def_prop_ro("length", &models::Gpt2Cache::length)
      .def_prop_ro("capacity", &models::Gpt2Cache::capacity)
      .def("clear", &models::Gpt2Cache::clear);

  auto forward_doc = std::string(
      "input_ids (B, T) int64 -> the result; with a cache, the T positions follow the cached ones. "
      "attention_mask (B, T): nonzero = real token (pad on the right).") + kAttentionsDoc;

  nb::class_<models::Gpt2Model, Module>(m, "GPT2Model", "GPT-2's decoder stack, as transformers.GPT2Model.")
      .def_static("from_pretrained", &models::Gpt2Model::from_pretrained, "folder"_a,
                  "Loads config.json and model.safetensors of a Hugging Face GPT-2 folder.")
      .def(
          "forward",
          [](const models::Gpt2Model& model, const Tensor& ids, models::Gpt2Cache* cache,
             const std::optional<Tensor>& attention_mask, bool output_attentions,
             const std::optional<std::vector<int64_t>>& layers, const std::optional<std::vector<int64_t>>& heads) {
            auto capture = capture_of(output_attentions, layers, heads);
            Tensor hidden;
            {
              nb::gil_scoped_release release;
              hidden = model.forward(ids, cache, capture ? &*capture : nullptr, or_undefined(attention_mask));
            }
            return with_attentions(hidden, capture);
          },
          "input_ids"_a, "cache"_a = nb::none(), "attention_mask"_a = nb::none(), "output_attentions"_a = false,
          "attention_layers"_a = nb::none(), "attention_heads"_a = nb::none(), forward_doc.c_str())
      .def("make_cache", &models::Gpt2Model::make_cache, "batch"_a = 1, "capacity"_a = 0,
           "A cache for `batch` sequences of up to `capacity` positions (0 = n_positions).")
      .def_prop_ro("n_layer", [](const models::Gpt2Model& model) { return model.config.n_layer; })
      .def_prop_ro("vocab_size", [](const models::Gpt2Model& model) { return model.config.vocab_size; });

  nb::class_<models::Gpt2LMHeadModel, Module>(m, "GPT2LMHeadModel",
                                              "GPT-2 with its language-model head, as transformers.GPT2LMHeadModel.")
      .def_static("from_pretrained", &models::Gpt2LMHeadModel::from_pretrained, "folder"_a,
                  "Loads config.json and model.safetensors of a Hugging Face GPT-2 folder.")
      .def(
          "forward",
          [](const models::Gpt2LMHeadModel& model, const Tensor& ids, models::Gpt2Cache* cache,
             const std::optional<Tensor>& attention_mask, bool output_attentions,
             const std::optional<std::vector<int64_t>>& layers, const std::optional<std::vector<int64_t>>& heads,
             int64_t logits_to_keep) {
            auto capture = capture_of(output_attentions, layers, heads);
            Tensor logits;
            {
              nb::gil_scoped_release release;
              logits = model.forward(ids, cache, capture ? &*capture : nullptr, or_undefined(attention_mask),
                                     logits_to_keep);
            }
            return with_attentions(logits, capture);
          },
          "input_ids"_a, "cache"_a = nb::none(), "attention_mask"_a = nb::none(), "output_attentions"_a = false,
          "attention_layers"_a = nb::none(), "attention_heads"_a = nb::none(), "logits_to_keep"_a = 0,
          (std::string("Next-token logits (B, T, vocab_size), or of the last logits_to_keep positions. ") +
           forward_doc).c_str())
      .def("make_cache", [](const models::Gpt2LMHeadModel& model, int64_t batch,
                            int64_t capacity) { return model.transformer->make_cache(batch, capacity); },
           "batch"_a = 1, "capacity"_a = 0)
      .def(
          "generate",
          [](const models::Gpt2LMHeadModel& model, const std::vector<int64_t>& prompt, int64_t max_new_tokens,
             bool do_sample, double temperature, int64_t top_k, double top_p, double repetition_penalty,
             uint64_t seed, const std::optional<std::vector<int64_t>>& stop_token_ids, nb::object streamer) {
            models::GenerationOptions options;
            options.max_new_tokens = max_new_tokens;
            options.sampling.do_sample = do_sample;
            options.sampling.temperature = temperature;
            options.sampling.top_k = top_k;
            options.sampling.top_p = top_p;
            options.sampling.repetition_penalty = repetition_penalty;
            options.sampling.seed = seed;
            if (stop_token_ids) {
              options.stop_token_ids = *stop_token_ids;
              options.use_stop_tokens = !stop_token_ids->empty();
            }
            models::TokenCallback on_token;
            if (!streamer.is_none()) {
              on_token = [streamer](int64_t token) {
                nb::gil_scoped_acquire gil;
                nb::object keep_going = streamer(token);
                return keep_going.is_none() || nb::cast<bool>(keep_going);
              };
            }
            models::GenerationResult result;
            {
              nb::gil_scoped_release release;
              result = model.generate(prompt, options, on_token);
            }
            return nb::make_tuple(result.tokens, result.stop_reason);
          },
          "prompt"_a, "max_new_tokens"_a = 50, "do_sample"_a = false, "temperature"_a = 1.0, "top_k"_a = 50,
          "top_p"_a = 1.0, "repetition_penalty"_a = 1.0, "seed"_a = 0, "stop_token_ids"_a = nb::none(),
          "streamer"_a = nb::none(),
          "Generates after the prompt ids over a key/value cache: greedy, or sampled with temperature, top_k, "
          "top_p and a seed, as transformers' generate. stop_token_ids defaults to [eos_token_id] ([] = none). "
          "streamer(token) is called with each token as it is chosen; returning False stops. Returns (new "
          "tokens, stop_reason), stop_reason one of 'stop_token', 'max_new_tokens', 'context_full', 'callback'.")
      .def_prop_ro("transformer", [](const models::Gpt2LMHeadModel& model) { return model.transformer; })
      .def_prop_ro("n_positions", [](const models::Gpt2LMHeadModel& model) { return model.transformer->config.n_positions; })
      .def_prop_ro("eos_token_id", [](const models::Gpt2LMHeadModel& model) { return model.transformer->config.eos_token_id; });
}

void bind_bert(nb::module_& m) {
  const std::string doc = std::string(
      "input_ids (B, L) int64, attention_mask (B, L) nonzero = real token, token_type_ids (B, L). Padding "
      "positions are skipped (their outputs are zeros).") + kAttentionsDoc;

  nb::class_<models::BertModel, Module>(m, "BertModel", "BERT's encoder (and pooler), as transformers.BertModel.")
      .def_static("from_pretrained", &models::BertModel::from_pretrained, "folder"_a,
                  "Loads config.json and model.safetensors of a Hugging Face BERT folder (MiniLM too).")
      .def(
          "forward",
          [](const models::BertModel& model, const Tensor& ids, const std::optional<Tensor>& attention_mask,
             const std::optional<Tensor>& token_type_ids, bool output_attentions,
             const std::optional<std::vector<int64_t>>& layers, const std::optional<std::vector<int64_t>>& heads) {
            auto capture = capture_of(output_attentions, layers, heads);
            models::BertOutput out;
            {
              nb::gil_scoped_release release;
              out = model.forward(ids, or_undefined(attention_mask), or_undefined(token_type_ids),
                                  capture ? &*capture : nullptr);
            }
            nb::object pooled = out.pooler_output.defined() ? nb::cast(out.pooler_output) : nb::none();
            nb::tuple result = nb::make_tuple(out.last_hidden_state, pooled);
            if (!capture) return nb::object(result);
            return nb::object(nb::make_tuple(out.last_hidden_state, pooled, capture->weights));
          },
          "input_ids"_a, "attention_mask"_a = nb::none(), "token_type_ids"_a = nb::none(),
          "output_attentions"_a = false, "attention_layers"_a = nb::none(), "attention_heads"_a = nb::none(),
          ("Returns (last_hidden_state (B, L, H), pooler_output (B, H) or None[, attentions]). " + doc).c_str())
      .def_prop_ro("hidden_size", [](const models::BertModel& model) { return model.config.hidden_size; });

  nb::class_<models::BertForMaskedLM, Module>(m, "BertForMaskedLM",
                                              "BERT with its masked-LM head, as transformers.BertForMaskedLM.")
      .def_static("from_pretrained", &models::BertForMaskedLM::from_pretrained, "folder"_a)
      .def(
          "forward",
          [](const models::BertForMaskedLM& model, const Tensor& ids, const std::optional<Tensor>& attention_mask,
             const std::optional<Tensor>& token_type_ids, bool output_attentions,
             const std::optional<std::vector<int64_t>>& layers, const std::optional<std::vector<int64_t>>& heads) {
            auto capture = capture_of(output_attentions, layers, heads);
            Tensor logits;
            {
              nb::gil_scoped_release release;
              logits = model.forward(ids, or_undefined(attention_mask), or_undefined(token_type_ids),
                                     capture ? &*capture : nullptr);
            }
            return with_attentions(logits, capture);
          },
          "input_ids"_a, "attention_mask"_a = nb::none(), "token_type_ids"_a = nb::none(),
          "output_attentions"_a = false, "attention_layers"_a = nb::none(), "attention_heads"_a = nb::none(),
          ("Logits (B, L, vocab_size). " + doc).c_str())
      .def_prop_ro("bert", [](const models::BertForMaskedLM& model) { return model.bert; });

  nb::class_<models::FillMaskCandidate>(m, "FillMaskCandidate")
      .def_ro("score", &models::FillMaskCandidate::score)
      .def_ro("token", &models::FillMaskCandidate::token)
      .def_ro("token_str", &models::FillMaskCandidate::token_str)
      .def_ro("sequence", &models::FillMaskCandidate::sequence)
      .def("__repr__", [](const models::FillMaskCandidate& c) {
        return "FillMaskCandidate(score=" + std::to_string(c.score) + ", token=" + std::to_string(c.token) +
               ", token_str='" + c.token_str + "')";
      });
  m.def(
      "fill_mask",
      [](const models::BertForMaskedLM& model, const tokenizers::Tokenizer& tokenizer, const std::string& text,
         int64_t top_k) {
        nb::gil_scoped_release release;
        return models::fill_mask(model, tokenizer, text, top_k);
      },
      "model"_a, "tokenizer"_a, "text"_a, "top_k"_a = 5,
      "The top_k tokens for the one mask token in text, with probabilities and the completed text, as "
      "transformers' fill-mask pipeline.");
}

void bind_sentence_embedder(nb::module_& m) {
  nb::class_<models::SentenceEmbedder>(
      m, "SentenceEmbedder",
      "Sentence embeddings as sentence-transformers computes them from a model folder: tokenize (truncated to "
      "max_seq_length), encode, pool over the real tokens (1_Pooling/config.json), L2-normalise when "
      "modules.json has Normalize.")
      .def_static("from_pretrained", &models::SentenceEmbedder::from_pretrained, "folder"_a)
      .def(
          "encode",
          [](const models::SentenceEmbedder& embedder, const std::vector<std::string>& sentences,
             int64_t batch_size) {
            nb::gil_scoped_release release;
            return embedder.encode(sentences, batch_size);
          },
          "sentences"_a, "batch_size"_a = 32, "(N, dimension) float32 embeddings, one row per sentence.")
      .def(
          "embed_ids",
          [](const models::SentenceEmbedder& embedder, const std::vector<std::vector<int64_t>>& ids) {
            nb::gil_scoped_release release;
            return embedder.embed_ids(ids);
          },
          "ids"_a, "The embeddings of already tokenized sentences (lists of ids, special tokens included).")
      .def_prop_ro("dimension", &models::SentenceEmbedder::dimension)
      .def_prop_ro("max_seq_length", &models::SentenceEmbedder::max_seq_length)
      .def_prop_ro("normalizes", &models::SentenceEmbedder::normalizes)
      .def_prop_ro("model", &models::SentenceEmbedder::model);
}

}  // namespace

void bind_models(nb::module_& m) {
  nb::module_ models = m.def_submodule("models", "GPT-2 and BERT from Hugging Face folders");
  bind_gpt2(models);
  bind_bert(models);
  bind_sentence_embedder(models);
}

}  // namespace attnkit::python
