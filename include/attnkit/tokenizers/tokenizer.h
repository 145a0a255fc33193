#pragma once
// Tokenizers for the Hugging Face models attnkit runs, in C++: byte-level BPE
// (GPT-2) and WordPiece (BERT), loaded from a model folder's tokenizer.json
// (or from vocab.json + merges.txt, or vocab.txt), giving the same ids as
// Hugging Face's `tokenizers` library.
//
//   auto tok = attnkit::tokenizers::Tokenizer::from_folder("all-MiniLM-L6-v2");
//   Encoding e = tok.encode("Hello, world!");   // e.ids: 101 7592 1010 2088 999 102
//   std::string text = tok.decode(e.ids);        // "hello, world!"
//
// The pipeline, as in Hugging Face:
//   added tokens   special tokens ("[CLS]", "<|endoftext|>") are found first
//                  and never split (added_vocabulary.h)
//   normalizer     BERT: clean control chars, space out CJK, strip accents,
//                  lowercase (BertNormalizer); GPT-2: none
//   pre-tokenizer  BERT: whitespace and punctuation; GPT-2: its regex, then
//                  bytes -> printable stand-ins ("Ġ" for the space)
//   model          WordPiece (longest match, "##" continuations) or BPE merges
//   truncation     to max_length, counting the special tokens still to come
//   post-process   the template: "[CLS] A [SEP]", "[CLS] A [SEP] B [SEP]"
//   padding        to the batch's longest or a fixed length
//
// Bad input is an attnkit::Error (Python: ValueError/RuntimeError), never a
// crash: text that is not valid UTF-8 (the message names the op and the byte
// offset), an id outside the vocabulary in decode, a tokenizer.json of a
// kind attnkit does not run (a Unigram model, a Precompiled normalizer: the
// message names the file, the field and what is supported), and damaged
// vocabulary or merges files (the message names the file and the line).
//
// A Tokenizer is cheap to copy (the vocabulary is shared) and safe to use
// from several threads at once; truncation and padding settings belong to
// each copy.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attnkit/tokenizers/encoding.h"
#include "attnkit/tokenizers/truncation_padding.h"

namespace attnkit::tokenizers {

struct Pipeline;  // the loaded components (src/tokenizers/pipeline.h)

// A special token and its id.
struct SpecialToken {
  std::string token;
  int64_t id = 0;
};

// Options for a tokenizer built from vocab.txt alone (BERT's defaults).
struct WordPieceVocabOptions {
  bool lowercase = true;                      // uncased models; false for "-cased" ones
  std::optional<bool> strip_accents;          // nullopt: follows lowercase
  bool handle_chinese_chars = true;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
};

// Options for a tokenizer built from vocab.json + merges.txt (GPT-2's defaults).
struct BpeFilesOptions {
  bool add_prefix_space = false;
  // Made a special token when it is in the vocabulary.
  std::string special_token = "<|endoftext|>";
};

class Tokenizer {
 public:
  // A tokenizer.json file (format of Hugging Face's tokenizers >= 0.8).
  static Tokenizer from_file(const std::string& path);
  // tokenizer.json text; `source` names it in errors.
  static Tokenizer from_json(const std::string& json_text, const std::string& source = "tokenizer.json");
  // A model folder: tokenizer.json, else vocab.json + merges.txt, else
  // vocab.txt (then tokenizer_config.json's do_lower_case is honoured).
  // special_tokens_map.json, when present, names the bos / eos / ... tokens.
  static Tokenizer from_folder(const std::string& dir);
  static Tokenizer from_bpe_files(const std::string& vocab_json, const std::string& merges_txt,
                                  const BpeFilesOptions& options = {});
  static Tokenizer from_wordpiece_vocab(const std::string& vocab_txt, const WordPieceVocabOptions& options = {});

  // `text` must be valid UTF-8 (an error naming the byte offset otherwise).
  // add_special_tokens: apply the post-processor's template ([CLS] ... [SEP]).
  Encoding encode(std::string_view text, bool add_special_tokens = true) const;
  Encoding encode_pair(std::string_view first, std::string_view second, bool add_special_tokens = true) const;
  // Encodes in parallel (OpenMP; batches under 16 KiB of text on the calling
  // thread) and pads the batch together when padding is on.
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = true) const;
  std::vector<Encoding> encode_batch_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                                           bool add_special_tokens = true) const;

  // The text of `ids`; skip_special_tokens drops special added tokens
  // ([CLS], [PAD], <|endoftext|>). Byte-level decoding replaces bytes that
  // do not form valid UTF-8 with U+FFFD. An unknown id is an error.
  std::string decode(std::span<const int64_t> ids, bool skip_special_tokens = true) const;
  std::vector<std::string> decode_batch(const std::vector<std::vector<int64_t>>& batch,
                                        bool skip_special_tokens = true) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int64_t id) const;
  // Distinct tokens of the model's vocabulary and the added tokens (HF's
  // get_vocab_size(with_added_tokens=True)), or of the model's alone.
  size_t vocab_size(bool with_added_tokens = true) const;
  // "BPE" or "WordPiece".
  std::string model_type() const;
  // Special tokens the post-processor adds to one sequence or a pair.
  size_t num_special_tokens_to_add(bool is_pair) const;

  // Truncation and padding; tokenizer.json's "truncation" / "padding" fields
  // set them at load time.
  // Configure before sharing: encoding and decoding may run on many threads
  // at once, but changing truncation or padding while another thread
  // encodes is a data race.
  void enable_truncation(const TruncationParams& params);
  void no_truncation() { truncation_.reset(); }
  const std::optional<TruncationParams>& truncation() const { return truncation_; }
  void enable_padding(const PaddingParams& params);
  void no_padding() { padding_.reset(); }
  const std::optional<PaddingParams>& padding() const { return padding_; }

  // The special tokens a model needs, when the tokenizer has them.
  std::optional<SpecialToken> unk_token() const;
  std::optional<SpecialToken> pad_token() const;
  std::optional<SpecialToken> cls_token() const;
  std::optional<SpecialToken> sep_token() const;
  std::optional<SpecialToken> mask_token() const;
  std::optional<SpecialToken> bos_token() const;
  std::optional<SpecialToken> eos_token() const;

  // The components, for DecodeStream and tests.
  const Pipeline& pipeline() const { return *pipeline_; }

 private:
  explicit Tokenizer(std::shared_ptr<const Pipeline> pipeline);
  Encoding encode_sequence(std::string_view text, int sequence_id) const;
  Encoding finish(Encoding first, Encoding* second, bool add_special_tokens) const;
  std::optional<SpecialToken> special(std::string_view role) const;

  std::shared_ptr<const Pipeline> pipeline_;
  std::optional<TruncationParams> truncation_;
  std::optional<PaddingParams> padding_;
};

}  // namespace attnkit::tokenizers
