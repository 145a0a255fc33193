#pragma once
// BERT's text normalization (Hugging Face's BertNormalizer, which follows
// Google's BasicTokenizer), applied character by character in this order:
//   clean_text            drop NUL, U+FFFD and control characters (Cc, Cf, Co
//                         but not \t \n \r); turn every whitespace into ' '
//   handle_chinese_chars  put a space on each side of every CJK ideograph, so
//                         each becomes its own word
//   strip_accents         NFD, then drop the non-spacing marks (Mn): "é" -> "e"
//   lowercase             full Unicode lowercase mapping
// strip_accents unset (tokenizer.json's null) follows lowercase, as in HF.
#include <optional>
#include <string_view>

#include "tokenizers/normalized_text.h"

namespace attnkit::tokenizers {

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  std::optional<bool> strip_accents;  // nullopt: same as lowercase
  bool lowercase = true;
};

class BertNormalizer {
 public:
  explicit BertNormalizer(BertNormalizerOptions options = {});

  // Appends the normalized form of `text` (valid UTF-8) to `out`; `offset` is
  // where `text` starts in the caller's input, for the source spans.
  void normalize(std::string_view text, uint32_t offset, NormalizedText& out) const;

  const BertNormalizerOptions& options() const { return options_; }

 private:
  BertNormalizerOptions options_;
  bool strip_accents_;
};

}  // namespace attnkit::tokenizers
