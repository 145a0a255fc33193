#pragma once
// Sentence embeddings as sentence-transformers computes them from a model
// folder (all-MiniLM-L6-v2 and the like): tokenize with the folder's
// tokenizer, truncated to max_seq_length; run the BERT encoder; pool the
// token vectors over the attention mask (mean, CLS, max or mean·√len, as
// 1_Pooling/config.json says, concatenated in sentence-transformers' order
// when several are on); L2-normalise when modules.json has a Normalize
// module.
//
//   auto embedder = models::SentenceEmbedder::from_pretrained("all-MiniLM-L6-v2");
//   Tensor e = embedder.encode({"A man is eating food.", "Someone eats."});   // (2, 384)
//
// Sentences are packed without padding, so a batch costs what its real
// tokens cost. Inference only: no gradient flows through encode.
//
// Folders with modules attnkit does not run (Dense, a lower-casing
// Transformer module, weighted-mean or last-token pooling) are refused with
// an error naming the file and the setting.

#include <memory>
#include <string>
#include <vector>

#include "attnkit/core/tensor.h"
#include "attnkit/models/bert.h"
#include "attnkit/tokenizers/tokenizer.h"

namespace attnkit::models {

struct PoolingModes {
  bool cls_token = false;
  bool max_tokens = false;
  bool mean_tokens = true;
  bool mean_sqrt_len_tokens = false;
};

class SentenceEmbedder {
 public:
  SentenceEmbedder(std::shared_ptr<BertModel> model, tokenizers::Tokenizer tokenizer, PoolingModes pooling,
                   bool normalize, int64_t max_seq_length);
  static SentenceEmbedder from_pretrained(const std::string& folder);

  // (N, dimension()) float32, one row per sentence, in order; batch_size
  // sentences go through the model at a time.
  Tensor encode(const std::vector<std::string>& sentences, int64_t batch_size = 32) const;
  // The pooled (and normalised) embeddings of already tokenized sentences.
  Tensor embed_ids(const std::vector<std::vector<int64_t>>& ids) const;

  int64_t dimension() const;
  int64_t max_seq_length() const { return max_seq_length_; }
  bool normalizes() const { return normalize_; }
  const tokenizers::Tokenizer& tokenizer() const { return tokenizer_; }
  const std::shared_ptr<BertModel>& model() const { return model_; }

 private:
  std::shared_ptr<BertModel> model_;
  tokenizers::Tokenizer tokenizer_;
  PoolingModes pooling_;
  bool normalize_;
  int64_t max_seq_length_;
};

}  // namespace attnkit::models
