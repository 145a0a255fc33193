#pragma once
// The fill-mask task, as transformers' FillMaskPipeline: tokenize a text
// holding the tokenizer's mask token ("[MASK]") exactly once, run the
// masked-LM head, and return the top_k tokens for that position by
// probability (softmax over the vocabulary), each with the text it
// completes.
//
//   auto results = models::fill_mask(*model, tokenizer, "Paris is the [MASK] of France.", 5);
//   results[0].token_str   // "capital"

#include <cstdint>
#include <string>
#include <vector>

#include "attnkit/models/bert.h"
#include "attnkit/tokenizers/tokenizer.h"

namespace attnkit::models {

struct FillMaskCandidate {
  double score = 0;       // probability of the token at the mask
  int64_t token = 0;      // its id
  std::string token_str;  // its text
  std::string sequence;   // the input with the mask filled, decoded without special tokens
};

// Errors: no mask token in the tokenizer, the text has none or several, the
// text is longer than the model's positions, top_k < 1.
std::vector<FillMaskCandidate> fill_mask(const BertForMaskedLM& model, const tokenizers::Tokenizer& tokenizer,
                                         const std::string& text, int64_t top_k = 5);

}  // namespace attnkit::models
