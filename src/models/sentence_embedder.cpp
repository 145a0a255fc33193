#include "attnkit/models/sentence_embedder.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "attnkit/core/autograd.h"
#include "attnkit/core/error.h"
#include "attnkit/models/hf_checkpoint.h"
#include "io/json_depth.h"
#include "io/text_file.h"

namespace attnkit::models {

namespace {

constexpr int kMaxJsonDepth = 16;

// The JSON object in `path`; an absent file gives an empty object.
nlohmann::json read_optional_json(const std::string& path) {
  if (!file_exists(path)) return nlohmann::json::object();
  const std::string s = io::read_text_file(path, "sentence-transformers");
  AK_CHECK(io::json_nesting_depth(s.data(), s.size(), kMaxJsonDepth) <= kMaxJsonDepth, path,
           ": the JSON nests deeper than ", kMaxJsonDepth, " levels");
  nlohmann::json json = nlohmann::json::parse(s, nullptr, false);
  AK_CHECK(!json.is_discarded(), path, ": not valid JSON");
  return json;
}

bool flag(const nlohmann::json& json, const char* key, bool fallback, const std::string& source) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return fallback;
  AK_CHECK(it->is_boolean(), source, ": \"", key, "\" must be true or false");
  return it->get<bool>();
}

}  // namespace

SentenceEmbedder::SentenceEmbedder(std::shared_ptr<BertModel> model, tokenizers::Tokenizer tokenizer,
                                   PoolingModes pooling, bool normalize, int64_t max_seq_length)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      pooling_(pooling),
      normalize_(normalize),
      max_seq_length_(max_seq_length) {
  AK_CHECK(model_, "SentenceEmbedder: no model");
  AK_CHECK(pooling_.cls_token || pooling_.max_tokens || pooling_.mean_tokens || pooling_.mean_sqrt_len_tokens,
           "SentenceEmbedder: at least one pooling mode must be on");
  AK_CHECK(max_seq_length_ > 0 && max_seq_length_ <= model_->config.max_position_embeddings,
           "SentenceEmbedder: max_seq_length must be in 1..", model_->config.max_position_embeddings, ", got ",
           max_seq_length_);
  tokenizers::TruncationParams truncation;
  truncation.max_length = static_cast<size_t>(max_seq_length_);
  tokenizer_.enable_truncation(truncation);
  tokenizer_.no_padding();  // sentences are packed, not padded
}

SentenceEmbedder SentenceEmbedder::from_pretrained(const std::string& folder) {
  // modules.json: Transformer, then Pooling, then optionally Normalize.
  bool normalize = false;
  std::string pooling_folder = "1_Pooling";
  const std::string modules_path = join_path(folder, "modules.json");
  const nlohmann::json modules = read_optional_json(modules_path);
  if (modules.is_array()) {
    for (const auto& module : modules) {
      const std::string type = module.is_object() ? module.value("type", "") : "";
      if (type == "sentence_transformers.models.Normalize") {
        normalize = true;
      } else if (type == "sentence_transformers.models.Pooling") {
        pooling_folder = module.value("path", pooling_folder);
      } else {
        AK_CHECK(type == "sentence_transformers.models.Transformer", modules_path, ": module type \"", type,
                 "\" is not one attnkit runs (Transformer, Pooling, Normalize)");
      }
    }
  }
  const std::string pooling_path = join_path(join_path(folder, pooling_folder), "config.json");
  const nlohmann::json pooling_json = read_optional_json(pooling_path);
  PoolingModes pooling;
  pooling.cls_token = flag(pooling_json, "pooling_mode_cls_token", false, pooling_path);
  pooling.max_tokens = flag(pooling_json, "pooling_mode_max_tokens", false, pooling_path);
  pooling.mean_tokens = flag(pooling_json, "pooling_mode_mean_tokens", true, pooling_path);
  pooling.mean_sqrt_len_tokens = flag(pooling_json, "pooling_mode_mean_sqrt_len_tokens", false, pooling_path);
  for (const char* unsupported : {"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    AK_CHECK(!flag(pooling_json, unsupported, false, pooling_path), pooling_path, ": \"", unsupported,
             "\" is not a pooling attnkit has (cls, max, mean, mean_sqrt_len)");
  }

  auto model = BertModel::from_pretrained(folder);
  const std::string st_config_path = join_path(folder, "sentence_bert_config.json");
  const nlohmann::json st_config = read_optional_json(st_config_path);
  AK_CHECK(!flag(st_config, "do_lower_case", false, st_config_path), st_config_path,
           ": do_lower_case is not supported (the tokenizer's own normalizer lower-cases uncased models)");
  int64_t max_seq_length = model->config.max_position_embeddings;
  if (auto it = st_config.find("max_seq_length"); it != st_config.end() && !it->is_null()) {
    AK_CHECK(it->is_number_integer(), st_config_path, ": \"max_seq_length\" must be an integer");
    max_seq_length = std::min<int64_t>(it->get<int64_t>(), max_seq_length);
  }
  return SentenceEmbedder(std::move(model), tokenizers::Tokenizer::from_folder(folder), pooling, normalize,
                          max_seq_length);
}

int64_t SentenceEmbedder::dimension() const {
  const int modes = pooling_.cls_token + pooling_.max_tokens + pooling_.mean_tokens + pooling_.mean_sqrt_len_tokens;
  return modes * model_->config.hidden_size;
}

Tensor SentenceEmbedder::embed_ids(const std::vector<std::vector<int64_t>>& ids) const {
  NoGradGuard no_grad;
  const auto batch = static_cast<int64_t>(ids.size());
  const int64_t hidden = model_->config.hidden_size, dim = dimension();
  Tensor out = zeros({batch, dim});
  if (batch == 0) return out;
  std::vector<int64_t> lengths, flat;
  for (const auto& sentence : ids) {
    AK_CHECK(!sentence.empty(), "SentenceEmbedder: a sentence has no tokens");
    AK_CHECK(static_cast<int64_t>(sentence.size()) <= max_seq_length_, "SentenceEmbedder: a sentence has ",
             sentence.size(), " tokens, more than max_seq_length (", max_seq_length_, ")");
    lengths.push_back(static_cast<int64_t>(sentence.size()));
    flat.insert(flat.end(), sentence.begin(), sentence.end());
  }
  const PackedBatch packed = pack_lengths(lengths);
  const auto tokens = static_cast<int64_t>(flat.size());
  const Tensor states = model_->encode_packed(from_vector_i64(flat, {tokens}), zeros({tokens}, kInt64), packed)
                            .contiguous();  // (T, H)
  const float* h = states.data<float>();
  float* o = out.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t begin = packed.offsets[b], n = packed.length_of(b);
    float* row = o + b * dim;
    int64_t at = 0;
    // sentence-transformers' order: cls, max, mean, mean_sqrt_len.
    if (pooling_.cls_token) {
      std::copy(h + begin * hidden, h + (begin + 1) * hidden, row + at);
      at += hidden;
    }
    if (pooling_.max_tokens) {
      for (int64_t d = 0; d < hidden; ++d) {
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t t = 0; t < n; ++t) best = std::max(best, h[(begin + t) * hidden + d]);
        row[at + d] = best;
      }
      at += hidden;
    }
    if (pooling_.mean_tokens || pooling_.mean_sqrt_len_tokens) {
      std::vector<double> total(hidden, 0.0);
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t d = 0; d < hidden; ++d) total[d] += h[(begin + t) * hidden + d];
      }
      if (pooling_.mean_tokens) {
        for (int64_t d = 0; d < hidden; ++d) row[at + d] = static_cast<float>(total[d] / n);
        at += hidden;
      }
      if (pooling_.mean_sqrt_len_tokens) {
        for (int64_t d = 0; d < hidden; ++d) row[at + d] = static_cast<float>(total[d] / std::sqrt(double(n)));
        at += hidden;
      }
    }
    if (normalize_) {  // torch.nn.functional.normalize: divide by max(‖x‖, 1e-12)
      double norm = 0.0;
      for (int64_t d = 0; d < dim; ++d) norm += static_cast<double>(row[d]) * row[d];
      const double scale = 1.0 / std::max(std::sqrt(norm), 1e-12);
      for (int64_t d = 0; d < dim; ++d) row[d] = static_cast<float>(row[d] * scale);
    }
  }
  return out;
}

Tensor SentenceEmbedder::encode(const std::vector<std::string>& sentences, int64_t batch_size) const {
  AK_CHECK(batch_size > 0, "SentenceEmbedder.encode: batch_size must be > 0, got ", batch_size);
  const auto count = static_cast<int64_t>(sentences.size());
  Tensor out = empty({count, dimension()});
  for (int64_t begin = 0; begin < count; begin += batch_size) {
    const int64_t n = std::min(batch_size, count - begin);
    const std::vector<std::string> chunk(sentences.begin() + begin, sentences.begin() + begin + n);
    std::vector<std::vector<int64_t>> ids;
    ids.reserve(n);
    for (tokenizers::Encoding& e : tokenizer_.encode_batch(chunk)) ids.push_back(std::move(e.ids));
    out.narrow(0, begin, n).copy_(embed_ids(ids));
  }
  return out;
}

}  // namespace attnkit::models
