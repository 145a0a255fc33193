#include "attnkit/tokenizers/tokenizer.h"

#include <exception>
#include <filesystem>

#include "attnkit/core/error.h"
#include "tokenizers/byte_level.h"
#include "tokenizers/pipeline.h"
#include "tokenizers/pre_tokenizers.h"
#include "tokenizers/utf8.h"

namespace attnkit::tokenizers {

namespace {

// Offsets into the caller's text have to fit the 32-bit source spans.
constexpr size_t kMaxTextBytes = size_t{1} << 31;

// Appends one token to an encoding under construction.
void push_token(Encoding& e, int64_t id, std::string token, SourceSpan span, int sequence_id) {
  e.ids.push_back(id);
  e.type_ids.push_back(0);
  e.tokens.push_back(std::move(token));
  e.attention_mask.push_back(1);
  e.special_tokens_mask.push_back(0);
  e.offsets.emplace_back(span.begin, span.end);
  e.sequence_ids.push_back(sequence_id);
}

// Runs pre-tokenizer and model over normalized[begin, end) and appends the tokens.
class SegmentEncoder {
 public:
  SegmentEncoder(const Pipeline& p, Encoding& out, int sequence_id) : p_(p), out_(out), sequence_id_(sequence_id) {}

  void encode(const NormalizedText& text, uint32_t begin, uint32_t end) {
    if (begin >= end) return;
    const std::string_view segment = std::string_view(text.text).substr(begin, end - begin);
    if (p_.pre_tokenizer == PreTokenizerKind::ByteLevel) {
      encode_byte_level(text, begin, segment);
      return;
    }
    pieces_.clear();
    if (p_.pre_tokenizer == PreTokenizerKind::Bert) {
      bert_pre_tokenize(segment, pieces_);
    } else {
      pieces_.push_back({0, static_cast<uint32_t>(segment.size())});
    }
    for (const Piece& piece : pieces_) {
      const std::string_view word = segment.substr(piece.begin, piece.end - piece.begin);
      tokens_.clear();
      if (p_.wordpiece) {
        p_.wordpiece->tokenize(word, tokens_);
        for (const ModelToken& t : tokens_) {
          const uint32_t at = begin + piece.begin;
          emit(t.id, text.span(at + t.begin, at + t.end));
        }
      } else {
        p_.bpe->tokenize(word, tokens_);
        // BPE ranges count characters of the word.
        char_starts(word);
        for (const ModelToken& t : tokens_) {
          const uint32_t at = begin + piece.begin;
          emit(t.id, text.span(at + starts_[t.begin], at + starts_[t.end]));
        }
      }
    }
  }

 private:
  // GPT-2: the prefix space, the regex split, then each piece's bytes as
  // stand-in characters; BPE ranges are then bytes of the piece.
  void encode_byte_level(const NormalizedText& text, uint32_t begin, std::string_view segment) {
    const bool prefix = p_.add_prefix_space && segment[0] != ' ';
    work_.clear();
    if (prefix) work_.push_back(' ');
    work_.append(segment);
    pieces_.clear();
    if (p_.use_regex) {
      gpt2_split(work_, pieces_);
    } else {
      pieces_.push_back({0, static_cast<uint32_t>(work_.size())});
    }
    // Byte k of work_ is normalized byte begin + k - prefix; the inserted
    // space maps to the segment's first character, as in HF.
    const auto span_of = [&](uint32_t from, uint32_t to) {
      const uint32_t shift = prefix ? 1 : 0;
      const uint32_t a = from < shift ? 0 : from - shift;
      const uint32_t b = std::max<uint32_t>(to - shift, a + 1);
      return text.span(begin + a, begin + b);
    };
    const auto& to_utf8 = byte_level::byte_to_utf8();
    for (const Piece& piece : pieces_) {
      mapped_.clear();
      for (uint32_t k = piece.begin; k < piece.end; ++k) mapped_ += to_utf8[static_cast<unsigned char>(work_[k])];
      tokens_.clear();
      p_.bpe->tokenize(mapped_, tokens_);
      for (const ModelToken& t : tokens_) emit(t.id, span_of(piece.begin + t.begin, piece.begin + t.end));
    }
  }

  void char_starts(std::string_view word) {
    starts_.clear();
    for (size_t pos = 0; pos < word.size(); pos += utf8::sequence_length(static_cast<unsigned char>(word[pos]))) {
      starts_.push_back(static_cast<uint32_t>(pos));
    }
    starts_.push_back(static_cast<uint32_t>(word.size()));
  }

  void emit(int64_t id, SourceSpan span) {
    const std::string* token = p_.vocab().token(id);
    push_token(out_, id, token ? *token : std::string(), span, sequence_id_);
  }

  const Pipeline& p_;
  Encoding& out_;
  int sequence_id_;
  std::vector<Piece> pieces_;
  std::vector<ModelToken> tokens_;
  std::vector<uint32_t> starts_;
  std::string work_, mapped_;
};

void decode_wordpiece(const std::vector<std::string_view>& tokens, const Pipeline& p, std::string& out) {
  static const std::pair<std::string_view, std::string_view> kCleanup[] = {
      {" .", "."},   {" ?", "?"},   {" !", "!"},   {" ,", ","},   {" ' ", "'"},   {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"},        {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  std::string piece;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string_view token = tokens[i];
    piece.clear();
    if (i > 0) {
      if (token.substr(0, p.decoder_prefix.size()) == p.decoder_prefix) {
        token.remove_prefix(p.decoder_prefix.size());
      } else {
        piece.push_back(' ');
      }
    }
    piece.append(token);
    if (p.decoder_cleanup) {
      // Per token (with its joining space), one pattern after the other, as
      // HF does; so rules spanning tokens (" do not") never fire there either.
      for (const auto& [from, to] : kCleanup) {
        for (size_t at = piece.find(from); at != std::string::npos; at = piece.find(from, at + to.size())) {
          piece.replace(at, from.size(), to);
        }
      }
    }
    out += piece;
  }
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Pipeline> pipeline)
    : pipeline_(std::move(pipeline)), truncation_(pipeline_->truncation), padding_(pipeline_->padding) {}

Tokenizer Tokenizer::from_json(const std::string& json_text, const std::string& source) {
  return Tokenizer(load_tokenizer_json(json_text, source));
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  return Tokenizer(load_tokenizer_json(read_text_file(path, "tokenizer.json"), path));
}

Tokenizer Tokenizer::from_bpe_files(const std::string& vocab_json, const std::string& merges_txt,
                                    const BpeFilesOptions& options) {
  return Tokenizer(load_bpe_files(vocab_json, merges_txt, options.add_prefix_space, options.special_token));
}

Tokenizer Tokenizer::from_wordpiece_vocab(const std::string& vocab_txt, const WordPieceVocabOptions& o) {
  BertNormalizerOptions normalizer{.clean_text = true,
                                   .handle_chinese_chars = o.handle_chinese_chars,
                                   .strip_accents = o.strip_accents,
                                   .lowercase = o.lowercase};
  return Tokenizer(
      load_wordpiece_vocab(vocab_txt, normalizer, o.unk_token, o.cls_token, o.sep_token, o.pad_token, o.mask_token));
}

Encoding Tokenizer::encode_sequence(std::string_view text, int sequence_id) const {
  AK_CHECK(text.size() < kMaxTextBytes, "encode: the text has ", text.size(), " bytes, more than the ",
           kMaxTextBytes, " a tokenizer takes");
  utf8::check_valid(text, "encode");
  const Pipeline& p = *pipeline_;
  Encoding out;
  out.ids.reserve(text.size() / 3 + 4);
  SegmentEncoder segment_encoder(p, out, sequence_id);
  NormalizedText normalized;
  std::vector<AddedMatch> raw_matches, normalized_matches;

  // Between raw added tokens: normalize, find the normalized added tokens,
  // and pre-tokenize + model what lies between those.
  const auto encode_between = [&](uint32_t begin, uint32_t end) {
    if (begin >= end) return;
    const std::string_view part = text.substr(begin, end - begin);
    normalized.clear();
    if (p.normalizer) {
      p.normalizer->normalize(part, begin, normalized);
    } else {
      normalized.assign_identity(part, begin);
    }
    normalized_matches.clear();
    p.added.find(normalized.text, true, normalized_matches);
    uint32_t at = 0;
    for (const AddedMatch& m : normalized_matches) {
      segment_encoder.encode(normalized, at, m.begin);
      push_token(out, m.id, normalized.text.substr(m.begin, m.end - m.begin), normalized.span(m.begin, m.end),
                 sequence_id);
      at = m.end;
    }
    segment_encoder.encode(normalized, at, static_cast<uint32_t>(normalized.text.size()));
  };

  p.added.find(text, false, raw_matches);
  uint32_t at = 0;
  for (const AddedMatch& m : raw_matches) {
    encode_between(at, m.begin);
    push_token(out, m.id, std::string(text.substr(m.begin, m.end - m.begin)), {m.begin, m.end}, sequence_id);
    at = m.end;
  }
  encode_between(at, static_cast<uint32_t>(text.size()));
  return out;
}

Encoding Tokenizer::finish(Encoding first, Encoding* second, bool add_special_tokens) const {
  const Pipeline& p = *pipeline_;
  if (truncation_) {
    TruncationParams params = *truncation_;
    const size_t added = add_special_tokens ? p.post_processor.added_tokens(second != nullptr) : 0;
    AK_CHECK(params.max_length >= added, "encode: truncation max_length ", params.max_length,
             " leaves no room for the ", added, " special tokens the template adds");
    params.max_length -= added;
    truncate_pair(first, second, params);
  }
  Encoding out = p.post_processor.process(std::move(first), second, add_special_tokens);
  if (padding_) {
    std::vector<Encoding> one;
    one.push_back(std::move(out));
    pad(one, *padding_);
    out = std::move(one[0]);
  }
  return out;
}

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return finish(encode_sequence(text, 0), nullptr, add_special_tokens);
}

Encoding Tokenizer::encode_pair(std::string_view first, std::string_view second, bool add_special_tokens) const {
  Encoding b = encode_sequence(second, 1);
  return finish(encode_sequence(first, 0), &b, add_special_tokens);
}

namespace {

// Below this much text a batch is encoded on the calling thread: it takes
// well under a millisecond, and a parallel region on a busy machine can
// wait a whole scheduler time slice (~4 ms) for its second thread.
constexpr size_t kParallelBatchBytes = 16 << 10;

// Runs body(i) for i in [0, n), on the OpenMP threads when `parallel`; the
// first exception is rethrown on the calling thread.
template <typename Body>
void parallel_for(size_t n, bool parallel, const Body& body) {
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 8) if (parallel && n > 8)
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) {
    try {
      body(static_cast<size_t>(i));
    } catch (...) {
#pragma omp critical(attnkit_tokenizers_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special_tokens) const {
  std::vector<Encoding> out(texts.size());
  Tokenizer unpadded = *this;
  unpadded.padding_.reset();  // the batch is padded together below
  size_t bytes = 0;
  for (const std::string& text : texts) bytes += text.size();
  parallel_for(texts.size(), bytes >= kParallelBatchBytes,
               [&](size_t i) { out[i] = unpadded.encode(texts[i], add_special_tokens); });
  if (padding_) pad(out, *padding_);
  return out;
}

std::vector<Encoding> Tokenizer::encode_batch_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                                                    bool add_special_tokens) const {
  std::vector<Encoding> out(pairs.size());
  Tokenizer unpadded = *this;
  unpadded.padding_.reset();
  size_t bytes = 0;
  for (const auto& [first, second] : pairs) bytes += first.size() + second.size();
  parallel_for(pairs.size(), bytes >= kParallelBatchBytes, [&](size_t i) {
    out[i] = unpadded.encode_pair(pairs[i].first, pairs[i].second, add_special_tokens);
  });
  if (padding_) pad(out, *padding_);
  return out;
}

std::string Tokenizer::decode(std::span<const int64_t> ids, bool skip_special_tokens) const {
  const Pipeline& p = *pipeline_;
  std::vector<std::string_view> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    const AddedToken* added = p.added.by_id(id);
    if (added != nullptr) {
      if (skip_special_tokens && added->special) continue;
      tokens.push_back(added->content);
      continue;
    }
    const std::string* token = p.vocab().token(id);
    AK_CHECK(token != nullptr, "decode: id ", id, " is not in the vocabulary (ids are 0..", p.vocab().id_limit() - 1,
             " and the added tokens)");
    tokens.push_back(*token);
  }
  std::string out;
  switch (p.decoder) {
    case DecoderKind::ByteLevel: {
      std::string bytes;
      for (std::string_view t : tokens) byte_level::decode_token(t, bytes);
      return utf8::to_valid_lossy(bytes);
    }
    case DecoderKind::WordPiece:
      decode_wordpiece(tokens, p, out);
      return out;
    case DecoderKind::None:
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i > 0) out.push_back(' ');
        out.append(tokens[i]);
      }
      return out;
  }
  return out;
}

std::vector<std::string> Tokenizer::decode_batch(const std::vector<std::vector<int64_t>>& batch,
                                                 bool skip_special_tokens) const {
  std::vector<std::string> out(batch.size());
  size_t count = 0;
  for (const auto& ids : batch) count += ids.size();
  parallel_for(batch.size(), count * 4 >= kParallelBatchBytes,
               [&](size_t i) { out[i] = decode(batch[i], skip_special_tokens); });
  return out;
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* added = pipeline_->added.by_content(token)) return added->id;
  return pipeline_->vocab().find(token);
}

std::optional<std::string> Tokenizer::id_to_token(int64_t id) const {
  if (const AddedToken* added = pipeline_->added.by_id(id)) return added->content;
  if (const std::string* token = pipeline_->vocab().token(id)) return *token;
  return std::nullopt;
}

size_t Tokenizer::vocab_size(bool with_added_tokens) const {
  size_t size = pipeline_->vocab().size();
  if (!with_added_tokens) return size;
  for (const AddedToken& t : pipeline_->added.tokens()) {
    if (!pipeline_->vocab().contains(t.content)) ++size;
  }
  return size;
}

std::string Tokenizer::model_type() const { return pipeline_->bpe ? "BPE" : "WordPiece"; }

size_t Tokenizer::num_special_tokens_to_add(bool is_pair) const {
  return pipeline_->post_processor.added_tokens(is_pair);
}

void Tokenizer::enable_truncation(const TruncationParams& params) { truncation_ = params; }

void Tokenizer::enable_padding(const PaddingParams& params) {
  AK_CHECK(params.pad_to_multiple_of <= (size_t{1} << 20), "enable_padding: pad_to_multiple_of ",
           params.pad_to_multiple_of, " is not a sensible length");
  padding_ = params;
}

std::optional<SpecialToken> Tokenizer::special(std::string_view role) const {
  const Pipeline& p = *pipeline_;
  const auto make = [&](const std::string& token) -> std::optional<SpecialToken> {
    if (auto id = token_to_id(token)) return SpecialToken{token, *id};
    return std::nullopt;
  };
  if (auto it = p.special_token_names.find(std::string(role)); it != p.special_token_names.end()) {
    return make(it->second);
  }
  // Otherwise the conventional names, in the order the model families use them.
  static const std::unordered_map<std::string_view, std::vector<std::string>> kConventional = {
      {"unk", {"[UNK]", "<unk>", "<|endoftext|>"}}, {"pad", {"[PAD]", "<pad>"}},
      {"cls", {"[CLS]", "<s>"}},                     {"sep", {"[SEP]", "</s>"}},
      {"mask", {"[MASK]", "<mask>"}},                {"bos", {"<|endoftext|>", "<s>"}},
      {"eos", {"<|endoftext|>", "</s>"}}};
  if (role == "unk") {
    if (p.wordpiece) return make(p.wordpiece->options().unk_token);
    if (p.bpe && p.bpe->options().unk_token) return make(*p.bpe->options().unk_token);
  }
  if (role == "pad" && padding_) return make(padding_->pad_token);
  for (const std::string& name : kConventional.at(role)) {
    if (auto found = make(name)) return found;
  }
  return std::nullopt;
}

std::optional<SpecialToken> Tokenizer::unk_token() const { return special("unk"); }
std::optional<SpecialToken> Tokenizer::pad_token() const { return special("pad"); }
std::optional<SpecialToken> Tokenizer::cls_token() const { return special("cls"); }
std::optional<SpecialToken> Tokenizer::sep_token() const { return special("sep"); }
std::optional<SpecialToken> Tokenizer::mask_token() const { return special("mask"); }
std::optional<SpecialToken> Tokenizer::bos_token() const { return special("bos"); }
std::optional<SpecialToken> Tokenizer::eos_token() const { return special("eos"); }

}  // namespace attnkit::tokenizers
