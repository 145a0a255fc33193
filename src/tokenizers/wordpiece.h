#pragma once
// WordPiece model (Schuster & Nakajima 2012; BERT's tokenizer), as Hugging
// Face's WordPiece model applies it: greedy longest match first. From the
// start of the word, take the longest prefix in the vocabulary; continue
// from where it ended with the longest "##"-prefixed piece; repeat. If some
// position has no match, or the word has more than max_input_chars_per_word
// characters, the whole word is the one unk_token:
//   "unaffable" -> "una" "##ff" "##able";   "x☃y" (no "##☃") -> "[UNK]".
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/vocab.h"

namespace attnkit::tokenizers {

struct WordPieceOptions {
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
};

class WordPieceModel {
 public:
  // unk_token must be in the vocabulary (an error naming `source` otherwise).
  WordPieceModel(Vocab vocab, WordPieceOptions options, const std::string& source);

  // Appends the tokens of `word` (valid UTF-8); token ranges are bytes of `word`.
  void tokenize(std::string_view word, std::vector<ModelToken>& out) const;

  const Vocab& vocab() const { return vocab_; }
  const WordPieceOptions& options() const { return options_; }
  int64_t unk_id() const { return unk_id_; }

 private:
  Vocab vocab_;
  WordPieceOptions options_;
  int64_t unk_id_ = 0;
  size_t longest_token_bytes_ = 0;  // no longer candidate can match: bounds the search
};

}  // namespace attnkit::tokenizers
