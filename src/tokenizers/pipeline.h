#pragma once
// The components of a loaded tokenizer. Built once by a loader
// (tokenizer_json.cpp, vocab_files.cpp) and then shared, immutable, by every
// copy of the Tokenizer.
#include <memory>
#include <optional>
#include <string>

#include "io/text_file.h"

#include "attnkit/tokenizers/truncation_padding.h"
#include "tokenizers/added_vocabulary.h"
#include "tokenizers/bert_normalizer.h"
#include "tokenizers/bpe.h"
#include "tokenizers/post_processor.h"
#include "tokenizers/wordpiece.h"

namespace attnkit::tokenizers {

enum class PreTokenizerKind {
  None,       // the whole (normalized) text is one word
  Bert,       // BertPreTokenizer
  ByteLevel,  // GPT-2: regex split (unless use_regex is off), then bytes -> stand-ins
};

enum class DecoderKind {
  None,       // tokens joined with spaces (HF without a decoder)
  ByteLevel,  // stand-ins -> bytes -> UTF-8 (lossy)
  WordPiece,  // "##" joins, spaces otherwise, optional cleanup
};

struct Pipeline {
  std::optional<BertNormalizer> normalizer;

  PreTokenizerKind pre_tokenizer = PreTokenizerKind::None;
  bool add_prefix_space = false;  // ByteLevel
  bool use_regex = true;          // ByteLevel

  std::unique_ptr<BpeModel> bpe;              // exactly one of the two models
  std::unique_ptr<WordPieceModel> wordpiece;

  AddedVocabulary added;
  PostProcessor post_processor;

  DecoderKind decoder = DecoderKind::None;
  std::string decoder_prefix = "##";  // WordPiece
  bool decoder_cleanup = true;        // WordPiece

  std::optional<TruncationParams> truncation;
  std::optional<PaddingParams> padding;

  // Token names by role ("bos", "eos", "pad", ...) from special_tokens_map.json.
  std::unordered_map<std::string, std::string> special_token_names;

  const Vocab& vocab() const { return bpe ? bpe->vocab() : wordpiece->vocab(); }
};

// Loaders (tokenizer_json.cpp, vocab_files.cpp).
std::shared_ptr<Pipeline> load_tokenizer_json(const std::string& json_text, const std::string& source);
std::shared_ptr<Pipeline> load_bpe_files(const std::string& vocab_json_path, const std::string& merges_txt_path,
                                         bool add_prefix_space, const std::string& special_token);
std::shared_ptr<Pipeline> load_wordpiece_vocab(const std::string& vocab_txt_path, const BertNormalizerOptions& normalizer,
                                               const std::string& unk, const std::string& cls, const std::string& sep,
                                               const std::string& pad, const std::string& mask);
// Parsers of the file contents, `source` naming the file in errors.
Vocab parse_vocab_json(const std::string& text, const std::string& source);
std::vector<std::pair<std::string, std::string>> parse_merges_txt(const std::string& text, const std::string& source,
                                                                  size_t& first_merge_line);
Vocab parse_vocab_txt(const std::string& text, const std::string& source);
using io::read_text_file;  // io/text_file.h

}  // namespace attnkit::tokenizers
